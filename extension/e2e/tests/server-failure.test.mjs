// A server command that cannot start gives one clear message with a button to the settings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launch, TIMEOUT, waitFor } from '../lib/harness.mjs';

describe('server that cannot start', { timeout: 120_000 }, () => {
    let vs;

    before(async () => {
        vs = await launch({ name: 'failure', requireAgent: false, serverCommand: ['/nonexistent/bin/threadline', 'serve'] });
    });

    after(async () => {
        await vs?.close();
    });

    test('one error message, with Open Settings; fixing the setting restarts the server', async () => {
        const { vscode, page } = vs;
        try {
            await vscode.openThreadline();
            const toast = vscode.notification('could not start its server');
            await toast.waitFor({ timeout: TIMEOUT });
            assert.match(await toast.innerText(), /\/nonexistent\/bin\/threadline serve.*the command was not found.*threadline\.server\.command/s);
            // Only this one: the language client's own pop-ups are suppressed.
            const all = await page.locator('.notifications-toasts .notification-toast').allInnerTexts();
            assert.equal(all.length, 1, all.join('\n---\n'));
            await vscode.sessionsPane.getByText('The Threadline server is not running.', { exact: false }).waitFor({ timeout: TIMEOUT });
            await page.locator('.statusbar-item', { hasText: 'Threadline' }).locator('.codicon-error').waitFor({ timeout: TIMEOUT });
            await vs.screenshot('server-failure.png');
            // The button opens the settings editor on the server settings (the Remote tab:
            // code-server is a remote window and the settings are machine-scoped).
            await toast.getByRole('button', { name: 'Open Settings' }).click();
            const search = page.locator('.settings-editor .suggest-input-container .monaco-editor .view-lines');
            await search.filter({ hasText: 'threadline.server' }).waitFor({ timeout: TIMEOUT });
            await page.locator('.settings-editor .settings-tabs-widget .action-label.checked', { hasText: 'Remote' }).waitFor({ timeout: TIMEOUT });
            await page.locator('.settings-editor .setting-item-title', { hasText: 'Command' }).first().waitFor({ timeout: TIMEOUT });
            await vs.screenshot('server-failure-settings.png');

            // Fixing the setting restarts the server: the view recovers without a reload.
            vs.setThreadlineSettings();
            await vscode.sessionsPane.getByText('No agent sessions in this workspace yet.').waitFor({ timeout: TIMEOUT });
            await page.locator('.statusbar-item', { hasText: 'Threadline' }).locator('.codicon-comment-discussion').waitFor({ timeout: TIMEOUT });
            await waitFor('the restart in the log', () => /Threadline settings changed; restarting the server\.[^]*Threadline server running/.test(vs.threadlineLog()));
        } catch (error) {
            console.error(vs.diagnostics());
            throw error;
        }
    });
});
