// The transcript webview's own script (media/transcript.js) in a real Chromium, inside the
// very HTML shell and CSP the extension serves, driven by the messages the extension posts:
// the live turn (working indicator, the reply as it is written, growing token figures) and
// the approve-and-continue offer. The server side of streaming is not needed here: these
// are the messages the extension sends for `session/updated.streaming`.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { EXT_DIR, locate, SHOT_DIR, TIMEOUT } from '../lib/harness.mjs';

/* global window, document */

const SESSION_ID = '12345678-1234-4234-8234-123456789abc';

/** The shell module, bundled on the fly (it is TypeScript). */
async function shellModule() {
    const out = await esbuild.build({
        entryPoints: [path.join(EXT_DIR, 'src', 'transcriptHtml.ts')],
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        write: false,
    });
    return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
}

function session(overrides = {}) {
    return {
        sessionId: SESSION_ID,
        agent: 'claude',
        cwd: '/w',
        title: 'explain the cache layer',
        status: 'running',
        source: 'workflow',
        active: false,
        createdAt: '2026-11-30T10:00:00Z',
        updatedAt: '2026-11-30T10:00:05Z',
        messageCount: 1,
        usage: { inputTokens: 1200, outputTokens: 10, cacheCreationTokens: 0, cacheReadTokens: 0, costUsd: 0.01 },
        model: 'claude-opus-4-8',
        ...overrides,
    };
}

const prompt = { id: 'u1', role: 'user', timestamp: '2026-11-30T10:00:00Z', content: [{ type: 'text', text: 'explain the cache layer' }] };

describe('transcript webview script', { timeout: 60_000 }, () => {
    let browser;
    let page;
    let dir;
    const problems = [];

    before(async () => {
        const { chromiumPath } = locate({ requireAgent: false });
        assert.ok(chromiumPath, 'chromium is needed');
        const { transcriptHtml } = await shellModule();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-webview-'));
        const media = pathToFileURL(path.join(EXT_DIR, 'media')).href;
        const html = transcriptHtml({
            cspSource: 'file:',
            scriptUri: `${media}/transcript.js`,
            styleUri: `${media}/transcript.css`,
            nonce: crypto.randomBytes(18).toString('base64url'),
            sessionId: SESSION_ID,
        });
        fs.writeFileSync(path.join(dir, 'index.html'), html);
        browser = await chromium.launch({
            executablePath: chromiumPath,
            headless: true,
            args: ['--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP * ~NOTFOUND'],
        });
        page = await browser.newPage({ viewport: { width: 900, height: 700 } });
        page.on('console', (m) => {
            if (m.type() === 'error') {
                problems.push(m.text());
            }
        });
        page.on('pageerror', (e) => problems.push(e.message));
        // What VS Code gives a webview: acquireVsCodeApi, here recording what the script posts.
        await page.addInitScript(() => {
            window.__posted = [];
            window.acquireVsCodeApi = () => ({
                postMessage: (m) => window.__posted.push(m),
                getState: () => undefined,
                setState: () => undefined,
            });
            document.addEventListener('securitypolicyviolation', (e) => window.__posted.push({ csp: e.violatedDirective }));
        });
        await page.goto(pathToFileURL(path.join(dir, 'index.html')).href);
        await page.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'), null, { timeout: TIMEOUT });
    });

    after(async () => {
        await browser?.close();
        if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    const send = (message) => page.evaluate((m) => window.postMessage(m, '*'), message);
    const posted = () => page.evaluate(() => window.__posted);

    test('a running turn shows a working indicator, the reply as it is written, and growing figures', async () => {
        await send({ type: 'session', session: session() });
        await send({ type: 'messages', items: [{ index: 0, message: prompt }], start: 0, total: 1, reset: true });
        await send({ type: 'live', running: true, text: null });
        const live = page.locator('#live');
        await live.locator('.working', { hasText: 'working…' }).waitFor({ timeout: TIMEOUT });
        assert.equal(await live.getAttribute('data-state'), 'working');
        assert.equal(await page.locator('#tokens').innerText(), '1.2k tokens');

        // The reply grows, rendered as Markdown as it comes.
        await send({ type: 'live', running: true, text: 'The cache layer has **two** parts' });
        await live.locator('.text.streaming strong', { hasText: 'two' }).waitFor({ timeout: TIMEOUT });
        assert.equal(await live.locator('.working').innerText(), 'writing…');
        const table = 'The cache layer has **two** parts:\n\n| part | where |\n|---|---|\n| index | `catalog.db` |\n| pages | memory |\n\n- [x] read path\n- [ ] write path';
        await send({ type: 'session', session: session({ usage: { ...session().usage, outputTokens: 900, costUsd: 0.05 } }) });
        await send({ type: 'live', running: true, text: table });
        await live.locator('table td code', { hasText: 'catalog.db' }).waitFor({ timeout: TIMEOUT });
        await live.locator('li.task.done', { hasText: 'read path' }).waitFor({ timeout: TIMEOUT });
        assert.equal(await page.locator('#tokens').innerText(), '2.1k tokens', 'token figures follow the turn');
        assert.equal(await page.locator('#cost').innerText(), '$0.05');
        assert.equal(await page.locator('#messages > .msg').count(), 1, 'the live reply is not a transcript Message');
        fs.mkdirSync(SHOT_DIR, { recursive: true });
        await page.screenshot({ path: path.join(SHOT_DIR, 'webview-streaming.png') });

        // The final Message arrives and replaces the live text; the turn ends.
        const reply = { id: 'msg_1', role: 'assistant', timestamp: '2026-11-30T10:00:09Z', content: [{ type: 'text', text: table }], model: 'claude-opus-4-8' };
        await send({ type: 'messages', items: [{ index: 1, message: reply }], start: 0, total: 2 });
        await send({ type: 'live', running: true, text: null });
        await send({ type: 'session', session: session({ status: 'completed', messageCount: 2 }) });
        await send({ type: 'live', running: false, text: null });
        await live.waitFor({ state: 'hidden', timeout: TIMEOUT });
        await page.locator('#messages > .msg.role-assistant table').waitFor({ timeout: TIMEOUT });
        assert.equal(await page.locator('#prompt').isDisabled(), false);
    });

    test('a denied tool call: Allow and continue and Allow all edits post the grant with the edited prompt', async () => {
        const use = { id: 'msg_2', role: 'assistant', timestamp: '2026-11-30T10:01:00Z', content: [{ type: 'tool_use', id: 'toolu_9', name: 'Bash', input: { command: 'touch x.txt' } }] };
        const refusal = "touch in '/w/x.txt' needs approval.";
        const result = { id: 'r9', role: 'user', timestamp: '2026-11-30T10:01:01Z', content: [{ type: 'tool_result', toolUseId: 'toolu_9', text: refusal, isError: true }] };
        await send({ type: 'messages', items: [{ index: 2, message: use }, { index: 3, message: result }], start: 0, total: 4 });
        await send({ type: 'session', session: session({ status: 'waiting_for_input', messageCount: 4 }) });
        await send({
            type: 'approval',
            denial: { toolUseId: 'toolu_9', tool: 'Bash', target: 'touch x.txt', reason: refusal, rule: 'Bash(touch:*)', prompt: 'Permission granted: go ahead and run `touch x.txt`.' },
        });
        const approval = page.locator('#approval');
        await approval.waitFor({ timeout: TIMEOUT });
        assert.equal(await page.locator('#approval-reason').innerText(), refusal);
        await page.locator('#approval-prompt').fill('ok, run it');
        await page.locator('#allow-rule').click();
        await page.waitForFunction(() => window.__posted.some((m) => m.type === 'approve'), null, { timeout: TIMEOUT });
        let sent = (await posted()).filter((m) => m.type === 'approve');
        assert.deepEqual(sent, [{ type: 'approve', prompt: 'ok, run it', grant: { allowedTools: ['Bash(touch:*)'] } }]);
        assert.ok((await posted()).some((m) => m.type === 'pin'), 'editing the prompt keeps a preview panel');
        // While it is sent the offer is gone; a refused resume brings it back with the error.
        await approval.waitFor({ state: 'hidden', timeout: TIMEOUT });
        await send({ type: 'composer', busy: false, error: 'The session is busy.' });
        await approval.waitFor({ timeout: TIMEOUT });
        await page.locator('#problem', { hasText: 'The session is busy.' }).waitFor({ timeout: TIMEOUT });
        await page.locator('#allow-edits').click();
        sent = (await posted()).filter((m) => m.type === 'approve');
        assert.deepEqual(sent[1], { type: 'approve', prompt: 'ok, run it', grant: { permissionMode: 'acceptEdits' } });
        // No approval for a session that is not waiting.
        await send({ type: 'composer', busy: false, sent: true });
        await send({ type: 'session', session: session({ status: 'running' }) });
        await approval.waitFor({ state: 'hidden', timeout: TIMEOUT });
        assert.deepEqual(problems, [], 'no script errors or CSP violations');
        assert.ok(!(await posted()).some((m) => m.csp), 'no CSP violations');
    });
});
