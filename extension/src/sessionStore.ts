/**
 * The sessions of the open workspace folders, kept up to date by `session/list`
 * results and by the `session/detected` / `session/updated` notifications.
 *
 * Pure (no `vscode` import): listeners are plain callbacks, so the unit tests can
 * drive it without an editor.
 */
import { matchesFilter } from './grouping';
import type { SessionInfo } from './protocol';

/** One change to one session. `previous` is undefined for a session seen first. */
export interface SessionChange {
    session: SessionInfo;
    previous: SessionInfo | undefined;
}

type Listener<T> = (value: T) => void;

function normalizeFolder(path: string): string {
    return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export class SessionStore {
    private readonly sessions = new Map<string, SessionInfo>();
    private folders: string[] = [];
    private filterText = '';
    private readonly changeListeners = new Set<Listener<void>>();
    private readonly sessionListeners = new Set<Listener<SessionChange>>();

    /** Called after any change (for the tree and the status bar). */
    onDidChange(listener: Listener<void>): { dispose(): void } {
        this.changeListeners.add(listener);
        return { dispose: () => this.changeListeners.delete(listener) };
    }

    /** Called once per changed session, with its previous state. */
    onDidChangeSession(listener: Listener<SessionChange>): { dispose(): void } {
        this.sessionListeners.add(listener);
        return { dispose: () => this.sessionListeners.delete(listener) };
    }

    /** The workspace folder paths whose sessions are kept. */
    setFolders(folders: readonly string[]): void {
        this.folders = folders.map(normalizeFolder);
        for (const [id, s] of this.sessions) {
            if (!this.belongs(s)) {
                this.sessions.delete(id);
            }
        }
        this.fireChange();
    }

    get filter(): string {
        return this.filterText;
    }

    /** Sets the search text; callers then reload the lists with `query`. */
    setFilter(text: string): void {
        this.filterText = text.trim();
    }

    /** Whether a session's project is one of the folders (or inside one). */
    belongs(session: SessionInfo): boolean {
        const cwd = normalizeFolder(session.cwd ?? '');
        return this.folders.some((f) => cwd === f || cwd.startsWith(f === '/' ? f : `${f}/`));
    }

    /**
     * Replaces everything with fresh `session/list` results (one list per folder).
     * Sessions that changed status are reported to the session listeners.
     */
    replaceAll(lists: readonly SessionInfo[][]): void {
        const fresh = new Map<string, SessionInfo>();
        for (const list of lists) {
            for (const s of list) {
                fresh.set(s.sessionId, s);
            }
        }
        const old = new Map(this.sessions);
        this.sessions.clear();
        for (const [id, s] of fresh) {
            this.sessions.set(id, s);
        }
        for (const [id, s] of fresh) {
            const previous = old.get(id);
            if (previous && previous.status !== s.status) {
                this.fireSession({ session: s, previous });
            }
        }
        this.fireChange();
    }

    /**
     * Takes one session from a notification or a request result. It is kept when it
     * belongs to a folder and passes the filter (or is already shown). Returns the
     * previous state. Listeners hear about it even when it is not kept, so that
     * transcript panels of sessions outside the folders still update.
     */
    upsert(session: SessionInfo): SessionInfo | undefined {
        const previous = this.sessions.get(session.sessionId);
        if (previous || (this.belongs(session) && matchesFilter(session, this.filterText))) {
            if (session.active) {
                // Only one active session per project.
                for (const [id, s] of this.sessions) {
                    if (id !== session.sessionId && s.active && s.cwd === session.cwd) {
                        this.sessions.set(id, { ...s, active: false });
                    }
                }
            }
            this.sessions.set(session.sessionId, session);
            this.fireChange();
        }
        this.fireSession({ session, previous });
        return previous;
    }

    /** Drops a session that is gone from disk (`session/removed`). Returns whether it was kept. */
    remove(sessionId: string): boolean {
        const had = this.sessions.delete(sessionId);
        if (had) {
            this.fireChange();
        }
        return had;
    }

    /** Marks one session of a project as the active one (null clears). */
    setActive(cwd: string, sessionId: string | null): void {
        for (const [id, s] of this.sessions) {
            if (s.cwd === cwd) {
                const active = id === sessionId;
                if (s.active !== active) {
                    this.sessions.set(id, { ...s, active });
                }
            }
        }
        this.fireChange();
    }

    get(sessionId: string): SessionInfo | undefined {
        return this.sessions.get(sessionId);
    }

    all(): SessionInfo[] {
        return [...this.sessions.values()];
    }

    /** The active session of the first folder that has one. */
    activeSession(): SessionInfo | undefined {
        for (const folder of this.folders) {
            for (const s of this.sessions.values()) {
                if (s.active && normalizeFolder(s.cwd) === folder) {
                    return s;
                }
            }
        }
        for (const s of this.sessions.values()) {
            if (s.active) {
                return s;
            }
        }
        return undefined;
    }

    clear(): void {
        this.sessions.clear();
        this.fireChange();
    }

    private fireChange(): void {
        for (const l of [...this.changeListeners]) {
            l();
        }
    }

    private fireSession(change: SessionChange): void {
        for (const l of [...this.sessionListeners]) {
            l(change);
        }
    }
}
