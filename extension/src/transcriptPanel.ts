/**
 * TranscriptPanel: one webview panel per session showing its Messages as a
 * conversation, following them live, with a composer that resumes the session.
 *
 * The HTML shell carries no transcript data: a strict CSP (`default-src 'none'`), a
 * stylesheet and one nonce'd script from `media/`. Data goes to the webview only
 * through `postMessage`, and the script puts it in the DOM as text.
 */
import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { findDenial, type ApprovalGrant, type Denial } from './approval';
import { describeError, type ThreadlineClient } from './client';
import { TRANSCRIPT_VIEW_TYPE } from './constants';
import { truncate } from './format';
import { applyLiveUpdate, IDLE, liveOfSession, sameLive, type LiveState } from './live';
import type { SessionInfo, SessionUpdatedParams } from './protocol';
import type { SessionStore } from './sessionStore';
import { transcriptHtml } from './transcriptHtml';
import { TranscriptModel, type IndexedMessage } from './transcriptModel';
import { parseFromWebview, sessionIdOfState, type FromWebview, type ToWebview } from './webviewMessages';

/** Messages fetched per page. */
export const PAGE_SIZE = 100;

export interface PanelDeps {
    extensionUri: vscode.Uri;
    client: ThreadlineClient;
    store: SessionStore;
    log: vscode.LogOutputChannel;
}

/** How a transcript is opened. */
export interface ShowOptions {
    /**
     * A preview (VS Code's convention for a single click): it takes the place of the
     * previous preview instead of adding a tab, until it is pinned.
     */
    preview?: boolean;
}

export class TranscriptPanel implements vscode.Disposable {
    private static readonly panels = new Map<string, TranscriptPanel>();
    /** The panel now in preview, if any: the next preview reuses it. */
    private static previewPanel: TranscriptPanel | undefined;

    /**
     * Shows the panel of a session. A preview reuses the current preview panel (or makes
     * one); a normal open pins the panel it shows.
     */
    static show(deps: PanelDeps, sessionId: string, session?: SessionInfo, options: ShowOptions = {}): TranscriptPanel {
        const existing = TranscriptPanel.panels.get(sessionId);
        if (existing) {
            existing.panel.reveal(existing.panel.viewColumn);
            if (session) {
                existing.setSession(session);
            }
            if (!options.preview) {
                existing.pin();
            }
            return existing;
        }
        const preview = TranscriptPanel.previewPanel;
        if (options.preview && preview && !preview.disposed) {
            preview.retarget(sessionId, session ?? deps.store.get(sessionId));
            preview.panel.reveal(preview.panel.viewColumn);
            return preview;
        }
        const panel = vscode.window.createWebviewPanel(
            TRANSCRIPT_VIEW_TYPE,
            'Transcript',
            { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
            { ...TranscriptPanel.webviewOptions(deps), enableFindWidget: true },
        );
        const created = new TranscriptPanel(deps, sessionId, panel, session ?? deps.store.get(sessionId));
        TranscriptPanel.panels.set(sessionId, created);
        if (options.preview) {
            TranscriptPanel.previewPanel = created;
        }
        return created;
    }

    /**
     * Takes back a panel VS Code restored after a window reload. Its saved state names the
     * session; a panel without one (or a second panel of the same session) is closed.
     */
    static revive(deps: PanelDeps, panel: vscode.WebviewPanel, state: unknown): void {
        const sessionId = sessionIdOfState(state);
        if (!sessionId || TranscriptPanel.panels.has(sessionId)) {
            panel.dispose();
            return;
        }
        panel.webview.options = TranscriptPanel.webviewOptions(deps);
        TranscriptPanel.panels.set(sessionId, new TranscriptPanel(deps, sessionId, panel, deps.store.get(sessionId)));
    }

    private static webviewOptions(deps: PanelDeps): vscode.WebviewOptions {
        const media = vscode.Uri.joinPath(deps.extensionUri, 'media');
        return { enableScripts: true, enableCommandUris: false, localResourceRoots: [media] };
    }

    static get(sessionId: string): TranscriptPanel | undefined {
        return TranscriptPanel.panels.get(sessionId);
    }

    static disposeAll(): void {
        for (const p of [...TranscriptPanel.panels.values()]) {
            p.dispose();
        }
    }

    private readonly model = new TranscriptModel();
    private readonly disposables: vscode.Disposable[] = [];
    private session: SessionInfo | undefined;
    private following = false;
    private loading = false;
    private pending: SessionUpdatedParams[] = [];
    private tailFetch: Promise<void> | undefined;
    private disposed = false;
    private live: LiveState = IDLE;
    private denial: Denial | undefined;
    /** Bumped when the panel shows another session: answers for the old one are dropped. */
    private generation = 0;

    private constructor(
        private readonly deps: PanelDeps,
        private currentId: string,
        private readonly panel: vscode.WebviewPanel,
        session: SessionInfo | undefined,
    ) {
        this.session = session;
        this.live = session ? liveOfSession(IDLE, session) : IDLE;
        panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'media', 'threadline.svg');
        this.updateTitle();
        panel.webview.html = this.html();
        this.disposables.push(
            panel.onDidDispose(() => this.dispose()),
            panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
            deps.client.onNotification('session/updated', (p) => {
                if (p.session?.sessionId === this.sessionId) {
                    this.onUpdated(p);
                }
            }),
            deps.client.onNotification('session/detected', (p) => {
                if (p.session?.sessionId === this.sessionId) {
                    this.setSession(p.session);
                    if (!this.model.loaded) {
                        void this.load();
                    }
                }
            }),
            deps.client.onNotification('session/removed', (p) => {
                if (p?.sessionId === this.sessionId) {
                    this.post({ type: 'removed' });
                }
            }),
            deps.client.onDidChangeState((state) => {
                if (state === 'running') {
                    // A new server process: subscribe again.
                    this.following = false;
                    void this.load();
                }
            }),
        );
        void this.load();
    }

    /** The session this panel shows now (a preview panel can change it). */
    get sessionId(): string {
        return this.currentId;
    }

    /** Whether the user is looking at it: its tab is the active editor of a focused window. */
    get isFocused(): boolean {
        return !this.disposed && this.panel.active && this.panel.visible && vscode.window.state.focused;
    }

    /** The denied tool call the panel offers to allow, if the session waits for one. */
    get pendingDenial(): Denial | undefined {
        return this.denial;
    }

    /** Keeps the panel: it is no longer the preview. */
    pin(): void {
        if (TranscriptPanel.previewPanel === this) {
            TranscriptPanel.previewPanel = undefined;
        }
    }

    /** Shows another session in this (preview) panel, in place. */
    private retarget(sessionId: string, session: SessionInfo | undefined): void {
        if (sessionId === this.currentId) {
            return;
        }
        this.unfollow();
        TranscriptPanel.panels.delete(this.currentId);
        this.currentId = sessionId;
        TranscriptPanel.panels.set(sessionId, this);
        this.generation++;
        this.session = session;
        this.model.reset();
        this.pending = [];
        this.tailFetch = undefined;
        this.loading = false;
        this.live = session ? liveOfSession(IDLE, session) : IDLE;
        this.denial = undefined;
        this.updateTitle();
        // A fresh document: the script starts over with the new id (and no old draft).
        this.panel.webview.html = this.html();
        void this.load();
    }

    private unfollow(): void {
        if (this.following && this.deps.client.isRunning) {
            const id = this.currentId;
            this.deps.client.request('session/unfollow', { sessionId: id }).catch((e) => this.deps.log.warn(`session/unfollow ${id}: ${describeError(e)}`));
        }
        this.following = false;
    }

    dispose(): void {
        if (this.disposed) {
            return;
        }
        this.disposed = true;
        TranscriptPanel.panels.delete(this.sessionId);
        if (TranscriptPanel.previewPanel === this) {
            TranscriptPanel.previewPanel = undefined;
        }
        this.unfollow();
        this.panel.dispose();
        for (const d of this.disposables.splice(0)) {
            d.dispose();
        }
    }

    /** Takes a newer state of the session (header, composer, tab title, live state). */
    setSession(session: SessionInfo): void {
        this.session = session;
        this.updateTitle();
        this.post({ type: 'session', session });
        this.setLive(liveOfSession(this.live, session));
        this.updateDenial();
    }

    private setLive(live: LiveState): void {
        if (!sameLive(live, this.live)) {
            this.live = live;
            this.post({ type: 'live', ...live });
        }
    }

    /** Recomputes the denied tool call after the session or its messages changed. */
    private updateDenial(): void {
        const denial = this.model.loaded ? findDenial(this.session, this.model.list().map((m) => m.message)) : undefined;
        if (denial?.toolUseId !== this.denial?.toolUseId || Boolean(denial) !== Boolean(this.denial)) {
            this.denial = denial;
            this.post({ type: 'approval', denial: denial ?? null });
        }
    }

    private updateTitle(): void {
        const title = this.session?.title?.replace(/\s+/g, ' ').trim() || this.sessionId.slice(0, 8);
        this.panel.title = truncate(title, 40);
    }

    private post(message: ToWebview): void {
        if (!this.disposed) {
            void this.panel.webview.postMessage(message);
        }
    }

    private postAll(): void {
        if (this.session) {
            this.post({ type: 'session', session: this.session });
        }
        if (this.model.loaded) {
            this.post({ type: 'messages', items: this.model.list(), start: this.model.start, total: this.model.total, reset: true });
        }
        this.post({ type: 'live', ...this.live });
        this.post({ type: 'approval', denial: this.denial ?? null });
    }

    private postChanged(items: IndexedMessage[]): void {
        if (items.length > 0) {
            this.post({ type: 'messages', items, start: this.model.start, total: this.model.total });
            this.updateDenial();
        }
    }

    /** Loads the last page and subscribes to live updates (`follow: true`). */
    private async load(): Promise<void> {
        if (this.loading || this.disposed) {
            return;
        }
        this.loading = true;
        const generation = this.generation;
        const sessionId = this.sessionId;
        try {
            if (!this.session) {
                try {
                    const got = await this.deps.client.request('session/get', { sessionId });
                    if (generation === this.generation) {
                        this.setSession(got.session);
                    }
                } catch (error) {
                    this.deps.log.warn(`session/get ${sessionId}: ${describeError(error)}`);
                }
            }
            const page = await this.deps.client.request('session/messages', {
                sessionId,
                fromEnd: true,
                limit: PAGE_SIZE,
                follow: true,
            });
            if (generation !== this.generation) {
                return; // the panel shows another session now
            }
            this.following = true;
            this.model.reset();
            this.model.applyPage(page.offset, page.messages ?? [], page.total);
            this.post({ type: 'error', message: '' });
            this.denial = undefined;
            this.updateDenial();
            this.postAll();
        } catch (error) {
            if (generation === this.generation) {
                this.post({ type: 'error', message: `Could not load the transcript: ${describeError(error)}` });
            }
        } finally {
            if (generation === this.generation) {
                this.loading = false;
            }
        }
        const pending = this.pending.splice(0);
        for (const p of pending) {
            this.onUpdated(p);
        }
    }

    private onUpdated(params: SessionUpdatedParams): void {
        if (this.loading) {
            this.pending.push(params);
            return;
        }
        this.setSession(params.session);
        this.setLive(applyLiveUpdate(this.live, params));
        if (!this.model.loaded) {
            void this.load();
            return;
        }
        const appended = params.appended ?? [];
        if (appended.length > 0 && typeof params.appendedFrom === 'number') {
            const result = this.model.applyAppended(params.appendedFrom, appended);
            if (result.gapFrom !== undefined) {
                void this.fetchTail();
                return;
            }
            this.postChanged(result.changed);
        }
        if ((params.session.messageCount ?? 0) > this.model.end) {
            void this.fetchTail();
        }
    }

    /** Fetches messages after the loaded end (when an update was missed). */
    private fetchTail(): Promise<void> {
        if (this.tailFetch) {
            return this.tailFetch;
        }
        const generation = this.generation;
        this.tailFetch = (async () => {
            try {
                const page = await this.deps.client.request('session/messages', {
                    sessionId: this.sessionId,
                    offset: this.model.end,
                    limit: 1000,
                });
                if (generation !== this.generation) {
                    return;
                }
                this.postChanged(this.model.applyPage(page.offset, page.messages ?? [], page.total).changed);
            } catch (error) {
                this.deps.log.warn(`session/messages ${this.sessionId}: ${describeError(error)}`);
            } finally {
                if (generation === this.generation) {
                    this.tailFetch = undefined;
                }
            }
        })();
        return this.tailFetch;
    }

    private async loadEarlier(): Promise<void> {
        const start = this.model.start;
        if (start <= 0) {
            return;
        }
        const offset = Math.max(0, start - PAGE_SIZE);
        this.post({ type: 'loadingEarlier', loading: true });
        const generation = this.generation;
        try {
            const page = await this.deps.client.request('session/messages', {
                sessionId: this.sessionId,
                offset,
                limit: start - offset,
            });
            if (generation !== this.generation) {
                return;
            }
            this.postChanged(this.model.applyPage(page.offset, page.messages ?? [], page.total).changed);
        } catch (error) {
            this.post({ type: 'error', message: `Could not load earlier messages: ${describeError(error)}` });
        } finally {
            this.post({ type: 'loadingEarlier', loading: false });
        }
    }

    /** Continues the session from the composer, or with a permission granted (approve). */
    async resume(prompt: string, grant: ApprovalGrant = {}): Promise<boolean> {
        if (!prompt.trim()) {
            return false;
        }
        this.pin();
        this.post({ type: 'composer', busy: true });
        try {
            const result = await this.deps.client.request('session/resume', { sessionId: this.sessionId, prompt, ...grant });
            this.deps.store.upsert(result.session);
            this.setSession(result.session);
            this.post({ type: 'composer', busy: false, sent: true });
            return true;
        } catch (error) {
            this.post({ type: 'composer', busy: false, error: describeError(error) });
            return false;
        }
    }

    private onMessage(raw: unknown): void {
        const message: FromWebview | undefined = parseFromWebview(raw);
        if (!message) {
            return;
        }
        switch (message.type) {
            case 'ready':
                this.postAll();
                break;
            case 'loadEarlier':
                void this.loadEarlier();
                break;
            case 'resume':
                void this.resume(message.prompt);
                break;
            case 'approve':
                void this.resume(message.prompt, message.grant);
                break;
            case 'pin':
                this.pin();
                break;
            case 'copyId':
                void vscode.env.clipboard.writeText(this.sessionId).then(() =>
                    vscode.window.setStatusBarMessage('Threadline: session id copied', 3000),
                );
                break;
        }
    }

    private html(): string {
        const webview = this.panel.webview;
        const media = vscode.Uri.joinPath(this.deps.extensionUri, 'media');
        return transcriptHtml({
            cspSource: webview.cspSource,
            scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'transcript.js')).toString(),
            styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'transcript.css')).toString(),
            nonce: crypto.randomBytes(18).toString('base64url'),
            sessionId: this.sessionId,
        });
    }
}
