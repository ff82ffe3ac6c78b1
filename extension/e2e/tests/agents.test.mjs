// Codex CLI and Gemini CLI from VS Code: with their commands set (the fakes of tests/agents,
// which write the real CLIs' files), Start Workflow asks which agent runs it; the new row
// shows that agent's icon, the session id is the one the agent itself wrote its transcript
// under, and the transcript opens and follows the turn. One VS Code instance for the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fakeAgentSettings, launch, TIMEOUT, withDiagnostics } from '../lib/harness.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Every file under `dir` whose name matches `re`. */
function filesUnder(dir, re) {
    const found = [];
    const walk = (d) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) {
                walk(p);
            } else if (re.test(e.name)) {
                found.push(p);
            }
        }
    };
    if (fs.existsSync(dir)) {
        walk(dir);
    }
    return found;
}

describe('Codex and Gemini workflows', { timeout: 180_000 }, () => {
    let vs;
    let homes;

    before(async () => {
        vs = await launch({
            name: 'agents',
            settings: ({ root }) => {
                homes = fakeAgentSettings(root);
                return homes.settings;
            },
        });
        await vs.vscode.openThreadline();
        await vs.vscode.sessionsPane.getByText('No agent sessions in this workspace yet.').waitFor({ timeout: TIMEOUT });
    });

    after(async () => {
        await vs?.close();
    });

    /** Starts a workflow from the palette with `agent` picked; returns the transcript's session id. */
    async function start(agentLabel, prompt) {
        const { vscode } = vs;
        await vscode.runCommand('Threadline: Start Workflow');
        const offered = await vscode.pick('Threadline: New Workflow — Agent', agentLabel);
        // All three run here, none marked "not found".
        assert.deepEqual(offered.map((o) => o.label).sort(), ['Claude Code', 'Codex CLI', 'Gemini CLI'], JSON.stringify(offered));
        assert.ok(offered.every((o) => !/not found/.test(o.description)), JSON.stringify(offered));
        await vscode.answerInput('Threadline: New Workflow — Prompt', prompt);
        await vscode.answerInput('Threadline: New Workflow — Skill (optional)', '');
        // The row runs, then ends with the agent's icon; the transcript opened by itself.
        const row = vscode.row(prompt);
        await row.waitFor({ timeout: TIMEOUT });
        const web = vscode.webview();
        await web.locator('.msg.role-user', { hasText: prompt }).waitFor({ timeout: TIMEOUT });
        await web.locator('.msg.role-assistant', { hasText: `stub reply #1 to: ${prompt}` }).waitFor({ timeout: TIMEOUT });
        await web.locator('#status', { hasText: 'Completed' }).waitFor({ timeout: TIMEOUT });
        await row.locator('.codicon-sync').waitFor({ state: 'detached', timeout: TIMEOUT });
        const id = (await web.locator('#session-id').innerText()).trim();
        assert.match(id, UUID);
        return { row, web, id };
    }

    test('Start Workflow with Codex: the codex icon, the id of its rollout file, the transcript', () =>
        withDiagnostics(vs, async () => {
            const { vscode } = vs;
            const prompt = 'summarise the codex changes [[slow:1]]';
            const { row, id } = await start('Codex CLI', prompt);
            assert.equal(await vscode.rowImageIcon(row), 'codex.svg');
            // Codex names its own session (a UUIDv7 from thread.started): the one rollout file.
            assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/, 'a Codex thread id');
            const rollouts = filesUnder(path.join(homes.codexHome, 'sessions'), /^rollout-.*\.jsonl$/);
            assert.deepEqual(rollouts.map((f) => path.basename(f).slice(-'.jsonl'.length - 36, -'.jsonl'.length)), [id]);
            assert.equal(await row.getAttribute('aria-label'), `${prompt}, Codex CLI, completed`);
        }));

    test('Start Workflow with Gemini: the gemini icon, the id of its chat file, the transcript', () =>
        withDiagnostics(vs, async () => {
            const { vscode } = vs;
            const prompt = 'summarise the gemini changes [[slow:1]]';
            const { row, id } = await start('Gemini CLI', prompt);
            assert.equal(await vscode.rowImageIcon(row), 'gemini.svg');
            // Gemini's chat file: session-<time>-<id[:8]>.jsonl whose records name the same id.
            const chats = filesUnder(path.join(homes.geminiHome, '.gemini', 'tmp'), /^session-.*\.jsonl$/);
            assert.equal(chats.length, 1, chats.join('\n'));
            assert.ok(path.basename(chats[0]).endsWith(`-${id.slice(0, 8)}.jsonl`), chats[0]);
            const first = JSON.parse(fs.readFileSync(chats[0], 'utf8').split('\n')[0]);
            assert.equal(first.sessionId, id);
            assert.equal(await row.getAttribute('aria-label'), `${prompt}, Gemini CLI, completed`);
            // Both sessions are in the tree, each with its own agent's icon.
            assert.equal(await vscode.rowImageIcon(vscode.row('summarise the codex changes')), 'codex.svg');
            await vs.screenshot('tree-agents.png', vs.page.locator('.part.sidebar'));
        }));
});
