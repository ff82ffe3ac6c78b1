/**
 * The status-bar item: the active session and its status. Clicking it opens the
 * session's transcript (or the sessions view when no session is active).
 */
import * as vscode from 'vscode';
import { Commands, Views } from './constants';
import { statusLabel, truncate } from './format';
import { sessionLabel, statusIcon } from './grouping';
import type { ServerState } from './client';
import type { SessionStore } from './sessionStore';

export class ActiveSessionStatusBar implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    private readonly subscription: { dispose(): void };
    private serverState: ServerState = 'stopped';

    constructor(private readonly store: SessionStore) {
        this.item = vscode.window.createStatusBarItem('threadline.activeSession', vscode.StatusBarAlignment.Left, 50);
        this.item.name = 'Threadline Active Session';
        this.subscription = store.onDidChange(() => this.update());
        this.update();
        this.item.show();
    }

    setServerState(state: ServerState): void {
        this.serverState = state;
        this.update();
    }

    update(): void {
        const active = this.store.activeSession();
        if (this.serverState === 'failed') {
            this.item.text = '$(error) Threadline';
            this.item.tooltip = 'The Threadline server is not running. Click to restart it.';
            this.item.command = Commands.restartServer;
            return;
        }
        if (!active) {
            this.item.text = '$(comment-discussion) Threadline';
            this.item.tooltip = 'No active session. Set one from the Threadline sessions view.';
            this.item.command = `${Views.sessions}.focus`;
            return;
        }
        const icon = statusIcon(active.status);
        // `$(` in a title would otherwise be read as an icon.
        const title = truncate(sessionLabel(active), 40).replace(/\$\(/g, '$\u200b(');
        this.item.text = `$(${icon.id}) ${title} · ${statusLabel(active.status)}`;
        this.item.tooltip = `Active session: ${sessionLabel(active)}\nStatus: ${statusLabel(active.status)}\nId: ${active.sessionId}`;
        this.item.command = { command: Commands.openTranscript, title: 'Open Transcript', arguments: [active.sessionId] };
    }

    dispose(): void {
        this.subscription.dispose();
        this.item.dispose();
    }
}
