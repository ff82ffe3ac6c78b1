// The session history: tree groups and titles, the transcript webview, and hostile
// transcript content rendered as inert text. One VS Code instance for the file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildClaudeHome, LONG_TURNS } from '../lib/fixtures.mjs';
import { launch, startBeacon, TIMEOUT, waitFor, withDiagnostics } from '../lib/harness.mjs';

describe('session history', { timeout: 180_000 }, () => {
    let vs;
    let beacon;
    let sessions;

    before(async () => {
        beacon = await startBeacon();
        vs = await launch({
            name: 'history',
            requireAgent: false,
            prepare: ({ workspace, claudeDir }) => {
                sessions = buildClaudeHome({ claudeDir, cwd: workspace, beacon: beacon.url });
            },
        });
    });

    after(async (t) => {
        const failed = t?.signal?.aborted;
        if (vs && (failed || process.exitCode)) {
            console.error(vs.diagnostics());
        }
        await vs?.close();
        await beacon?.close();
    });

    const dumpOnFailure = (fn) => withDiagnostics(vs, fn);

    test('the tree shows the fixture sessions with their titles, in their groups', () =>
        dumpOnFailure(async () => {
            const { vscode, page } = vs;
            await vscode.openThreadline();
            await vscode.row(sessions.sigint.title).waitFor({ timeout: TIMEOUT });
            const texts = await vscode.rowTexts();
            // Group headers in the fixed order, each followed by its sessions (newest first).
            const expected = [
                ['Waiting for you', [sessions.waiting]],
                ['Today', [sessions.basic, sessions.hostile]],
                ['Yesterday', [sessions.tool]],
                ['This week', [sessions.http500]],
                ['Older', [sessions.sigint, sessions.long]],
            ];
            let i = 0;
            for (const [group, members] of expected) {
                assert.match(texts[i] ?? '', new RegExp(`^${group}\\s*${members.length}$`), `row ${i} should be the ${group} group:\n${texts.join('\n')}`);
                i++;
                for (const s of members) {
                    assert.ok((texts[i] ?? '').startsWith(s.title.slice(0, 60)), `row ${i} should be "${s.title}":\n${texts.join('\n')}`);
                    assert.doesNotMatch(texts[i], /claude/, 'the agent is an icon, not a word');
                    assert.match(texts[i], /( ago|yesterday|\d{4}-\d\d-\d\d)/, 'description has the time');
                    i++;
                }
            }
            assert.equal(texts.length, i, `no other rows:\n${texts.join('\n')}`);
            // Icons: a completed session shows its agent's icon; the waiting one a bell instead.
            assert.equal(await vscode.rowImageIcon(vscode.row(sessions.basic.title)), 'claude.svg');
            assert.equal(await vscode.rowImageIcon(vscode.row(sessions.sigint.title)), 'claude.svg');
            await vscode.row(sessions.waiting.title).locator('.codicon-bell-dot').waitFor({ timeout: TIMEOUT });
            assert.equal(await vscode.rowImageIcon(vscode.row(sessions.waiting.title)), null);
            // While the first list loaded the view said so, and never "no sessions".
            const messages = await vscode.viewMessages();
            console.log(`the Sessions view said, in order: ${JSON.stringify(messages)}`);
            assert.ok(messages.some((m) => /^(Loading sessions…|Starting the Threadline server…)$/.test(m)), `view messages: ${JSON.stringify(messages)}`);
            assert.ok(!messages.some((m) => /No agent sessions/.test(m)), `view messages: ${JSON.stringify(messages)}`);
            assert.ok(!messages.some((m) => /no data provider/i.test(m)), `VS Code's own "no data provider" text: ${JSON.stringify(messages)}`);
            assert.equal(await vscode.sessionsPane.locator('.pane-body .message').first().isVisible().catch(() => false), false, 'no message once listed');
            // The hostile title is shown literally in the tree as well.
            await vscode.row('Render this safely: <img src=x').waitFor({ timeout: TIMEOUT });
            await vs.screenshot('tree.png', page.locator('.part.sidebar'));
            // A session that was already waiting when VS Code started raises no notification.
            assert.equal(await vscode.notification('is waiting for you').count(), 0);
        }));

    test('Filter Sessions searches titles and messages; clearing it shows all again', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            // "stub-tool-ok" is only inside the tool session's messages, not in any title.
            await vscode.runCommand('Threadline: Filter Sessions');
            await vscode.answerInput('Threadline: Filter Sessions', 'stub-tool-ok');
            await vscode.row(sessions.basic.title).waitFor({ state: 'detached', timeout: TIMEOUT });
            const texts = await vscode.rowTexts();
            assert.equal(texts.length, 2, texts.join('\n'));
            assert.match(texts[0], /^Yesterday\s*1$/);
            assert.ok(texts[1].startsWith(sessions.tool.title), texts.join('\n'));
            // The view's description names the filter (the header is hidden when the view is alone).
            await vscode.sessionsPane.locator('.pane-header[aria-label*="filter: stub-tool-ok"]').waitFor({ state: 'attached', timeout: TIMEOUT });
            await vscode.runCommand('Threadline: Clear Session Filter');
            await vscode.row(sessions.sigint.title).waitFor({ timeout: TIMEOUT });
            assert.equal((await vscode.rowTexts()).length, 12);
        }));

    test('opening a session shows its Messages in the webview', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            await vscode.row(sessions.tool.title).click();
            const web = vscode.webview();
            await web.locator('#title', { hasText: sessions.tool.title }).waitFor({ timeout: TIMEOUT });
            await web.locator('#status', { hasText: 'Completed' }).waitFor({ timeout: TIMEOUT });
            await web.locator('#session-id', { hasText: sessions.tool.sessionId }).waitFor({ timeout: TIMEOUT });
            // The conversation: the prompt, the assistant's text, the tool call, its result, the reply.
            await web.locator('.msg.role-user:not(.tool-results)', { hasText: sessions.tool.title }).waitFor({ timeout: TIMEOUT });
            await web.locator('.msg.role-assistant', { hasText: 'I will run a command.' }).waitFor({ timeout: TIMEOUT });
            const toolUse = web.locator('details.tool-use[data-tool="Bash"]');
            await toolUse.waitFor({ timeout: TIMEOUT });
            assert.equal(await toolUse.getAttribute('open'), null, 'tool calls are collapsed by default');
            assert.match(await toolUse.locator('summary').innerText(), /Tool\s+Bash\s+echo stub-tool-ok/);
            const result = web.locator('details.tool-result');
            assert.match(await result.locator('summary').innerText(), /Result\s+Bash\s+stub-tool-ok/);
            await web.locator('.msg.role-assistant', { hasText: 'stub saw tool result: stub-tool-ok' }).waitFor({ timeout: TIMEOUT });
            // The input view opens on click.
            await toolUse.locator('summary').click();
            await toolUse.locator('pre.tool-input', { hasText: '"command": "echo stub-tool-ok"' }).waitFor({ state: 'visible', timeout: TIMEOUT });
            // The composer is ready for a follow-up (the session is not running).
            assert.equal(await web.locator('#prompt').isDisabled(), false);
            await vs.screenshot('webview.png');
        }));

    test('a long transcript opens at the end and loads earlier messages on demand', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            const total = 2 * LONG_TURNS;
            await vscode.row(sessions.long.title).click();
            const web = vscode.webview();
            await web.locator('#session-id', { hasText: sessions.long.sessionId }).waitFor({ timeout: TIMEOUT });
            const last = web.locator('.msg.role-assistant', { hasText: `answer ${LONG_TURNS - 1}` });
            await last.waitFor({ timeout: TIMEOUT });
            // One page from the end; the newest message is in view.
            const messages = web.locator('#messages');
            assert.equal(await messages.getAttribute('data-total'), String(total));
            const start = Number(await messages.getAttribute('data-start'));
            assert.ok(start > 0, `opened at the end (start ${start})`);
            assert.equal(await messages.locator('> .msg').count(), total - start);
            assert.ok(await last.isVisible());
            const more = web.locator('#load-earlier');
            assert.equal(await more.innerText(), `Load ${start} earlier messages`);
            await more.click();
            await messages.locator('> .msg[data-index="0"]', { hasText: sessions.long.title }).waitFor({ timeout: TIMEOUT });
            assert.equal(await messages.locator('> .msg').count(), total);
            await more.waitFor({ state: 'hidden', timeout: TIMEOUT });
            const order = await messages.locator('> .msg').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-index'))));
            assert.deepEqual(order, Array.from({ length: total }, (_, i) => i), 'messages stay in transcript order');
        }));

    test('a hostile transcript renders as inert text', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            const before = vs.requests.length;
            await vscode.row('Render this safely: <img src=x').click();
            const web = vscode.webview();
            await web.locator('#session-id', { hasText: sessions.hostile.sessionId }).waitFor({ timeout: TIMEOUT });
            const messages = web.locator('#messages');
            // The literal text is visible, in the prompt and in the reply.
            await messages.locator('.msg.role-user', { hasText: `<img src=x onerror="document.title='PWNED-IMG'` }).waitFor({ timeout: TIMEOUT });
            await messages.locator('.msg.role-user', { hasText: "<script>document.title='PWNED-SCRIPT'" }).waitFor({ timeout: TIMEOUT });
            const reply = messages.locator('.msg.role-assistant');
            await reply.locator('li', { hasText: "[click me](javascript:document.title='PWNED-LINK'" }).waitFor({ timeout: TIMEOUT });
            await reply.locator('li', { hasText: '<img src=x onerror=' }).waitFor({ timeout: TIMEOUT });
            await reply.locator('pre code', { hasText: '<iframe src="javascript:' }).waitFor({ timeout: TIMEOUT });
            // Nothing was turned into markup: no images, scripts, frames or handlers.
            for (const sel of ['img', 'script', 'iframe', '[onerror]', '[onclick]', 'a[href^="javascript" i]']) {
                assert.equal(await messages.locator(sel).count(), 0, `no ${sel} in the transcript`);
            }
            // The only link is the safe https one.
            const hrefs = await messages.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
            assert.deepEqual(hrefs, ['https://example.org/docs']);
            // Clicking the would-be javascript: link does nothing.
            await reply.locator('li', { hasText: '[click me]' }).click();
            // Nothing executed: titles untouched, the beacon never called, no request for "x".
            const webTitle = await web.locator('body').evaluate((body) => body.ownerDocument.title);
            assert.ok(!/PWNED/.test(webTitle), `webview title: ${webTitle}`);
            assert.ok(!/PWNED/.test(await vs.page.title()), 'workbench title');
            const late = vs.requests.slice(before);
            assert.deepEqual(late.filter((u) => /\/pwned|\/x(\?|$)/.test(u)), [], 'no request from hostile content');
            assert.deepEqual(beacon.hits, [], 'the beacon was never called');
            await vs.screenshot('webview-hostile.png');
        }));

    test('closing a transcript panel unsubscribes (session/unfollow)', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            // The verbose trace: "Sending request 'session/unfollow - (8)'." then "Params: {" and the id.
            const unfollowed = (id) => new RegExp(`Sending request 'session/unfollow - \\(\\d+\\)'\\.\\n[^\\n]*Params: \\{\\n\\s*"sessionId": "${id}"`);
            // Opened and followed by the previous tests, not unfollowed yet.
            assert.doesNotMatch(vs.threadlineLog(), unfollowed(sessions.hostile.sessionId));
            assert.match(vs.threadlineLog(), new RegExp(`Sending request 'session/messages[^]*?"sessionId": "${sessions.hostile.sessionId}",\\s*"fromEnd": true[^]*?"follow": true`));
            await vscode.runCommand('View: Close All Editors');
            for (const s of [sessions.tool, sessions.long, sessions.hostile]) {
                await waitFor(`session/unfollow of ${s.title.slice(0, 20)}`, () => unfollowed(s.sessionId).test(vs.threadlineLog()));
            }
        }));

    test('a click previews a transcript in one tab; a double click keeps it', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            await vscode.runCommand('View: Close All Editors');
            await waitFor('no editor tabs', async () => (await vscode.tabLabels()).length === 0);
            const shows = async (s) => {
                await vscode.webview().locator('#session-id', { hasText: s.sessionId }).waitFor({ timeout: TIMEOUT });
            };
            const tabs = async (expected) => {
                await waitFor(`tabs ${JSON.stringify(expected)}`, async () => JSON.stringify(await vscode.tabLabels()) === JSON.stringify(expected), TIMEOUT).catch(
                    async (e) => assert.fail(`${e.message}; tabs: ${JSON.stringify(await vscode.tabLabels())}`),
                );
            };
            // One click each: the preview tab is reused.
            await vscode.row(sessions.basic.title).click();
            await shows(sessions.basic);
            await tabs([sessions.basic.title]);
            await vscode.row(sessions.tool.title).click();
            await shows(sessions.tool);
            await tabs([sessions.tool.title]);
            // A double click keeps it: the next click opens a tab of its own.
            await vscode.row(sessions.sigint.title).dblclick();
            await shows(sessions.sigint);
            await tabs([sessions.sigint.title]);
            await vscode.row(sessions.basic.title).click();
            await shows(sessions.basic);
            await tabs([sessions.sigint.title, sessions.basic.title]);
            // ...and the new preview is reused again, the kept one stays.
            await vscode.row(sessions.http500.title).click();
            await shows(sessions.http500);
            await tabs([sessions.sigint.title, sessions.http500.title]);
            // Typing in the composer keeps a preview too.
            await vscode.webview().locator('#prompt').fill('a draft');
            await vscode.row(sessions.tool.title).click();
            await shows(sessions.tool);
            await tabs([sessions.sigint.title, sessions.http500.title, sessions.tool.title]);
            await vs.screenshot('preview-tabs.png');
            await vscode.runCommand('View: Close All Editors');
        }));

    test('an open transcript comes back after a window reload, following again', () =>
        dumpOnFailure(async () => {
            const { vscode } = vs;
            const follows = () => (vs.threadlineLog().match(new RegExp(`"sessionId": "${sessions.tool.sessionId}",\\s*"fromEnd": true[^}]*"follow": true`, 'g')) ?? []).length;
            await vscode.row(sessions.tool.title).click();
            let web = vscode.webview();
            await web.locator('#title', { hasText: sessions.tool.title }).waitFor({ timeout: TIMEOUT });
            await waitFor('the panel following its session', () => follows() >= 1);
            const before = follows();
            await vscode.runCommand('Developer: Reload Window');
            // A new extension host asks for the restored panel's messages again.
            await waitFor('the restored panel following again', () => follows() > before, 90_000);
            web = vscode.webview();
            await web.locator('#title', { hasText: sessions.tool.title }).waitFor({ timeout: TIMEOUT });
            await web.locator('#session-id', { hasText: sessions.tool.sessionId }).waitFor({ timeout: TIMEOUT });
            await web.locator('.msg.role-assistant', { hasText: 'stub saw tool result: stub-tool-ok' }).waitFor({ timeout: TIMEOUT });
            assert.equal(await web.locator('#prompt').isDisabled(), false, 'the composer works in the restored panel');
        }));
});
