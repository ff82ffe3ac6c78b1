/**
 * Messages between a transcript panel (extension host) and its webview script.
 * Both directions are unions keyed by `type`. Pure types, no `vscode` import.
 */
import { checkGrant, type ApprovalGrant, type Denial } from './approval';
import type { LiveState } from './live';
import type { Message, SessionInfo } from './protocol';

/** Extension → webview. */
export type ToWebview =
    /** The session's header data and the composer state. */
    | { type: 'session'; session: SessionInfo }
    /** Messages to insert or replace, by index; `start` is the first loaded index. */
    | { type: 'messages'; items: { index: number; message: Message }[]; start: number; total: number; reset?: boolean }
    /** A problem to show above the composer (empty string clears it). */
    | { type: 'error'; message: string }
    /** Whether a request started from the composer is in flight, and how it ended. */
    | { type: 'composer'; busy: boolean; sent?: boolean; error?: string }
    /** Earlier messages are being fetched. */
    | { type: 'loadingEarlier'; loading: boolean }
    /** The running turn: working indicator and the reply streamed so far. */
    | ({ type: 'live' } & LiveState)
    /** The denied tool call of a waiting session, with what "Allow and continue" grants; null: none. */
    | { type: 'approval'; denial: Denial | null }
    /** The session is gone from disk (`session/removed`). */
    | { type: 'removed' };

/** Webview → extension. */
export type FromWebview =
    | { type: 'ready' }
    | { type: 'loadEarlier' }
    | { type: 'resume'; prompt: string }
    | { type: 'copyId' }
    /** Resume with a permission granted (Allow and continue, Allow all edits). */
    | { type: 'approve'; prompt: string; grant: ApprovalGrant }
    /** The user started working in the panel: keep it (a preview tab becomes a normal one). */
    | { type: 'pin' };

/** Narrows an unknown value posted by the webview; anything else is dropped. */
export function parseFromWebview(value: unknown): FromWebview | undefined {
    if (typeof value !== 'object' || value === null) {
        return undefined;
    }
    const v = value as Record<string, unknown>;
    switch (v.type) {
        case 'ready':
        case 'loadEarlier':
        case 'copyId':
        case 'pin':
            return { type: v.type };
        case 'approve': {
            const grant = checkGrant(v.grant);
            return typeof v.prompt === 'string' && v.prompt.trim() && grant ? { type: 'approve', prompt: v.prompt, grant } : undefined;
        }
        case 'resume':
            return typeof v.prompt === 'string' ? { type: 'resume', prompt: v.prompt } : undefined;
        default:
            return undefined;
    }
}

/**
 * What a transcript webview keeps across reloads (`vscode.setState`). VS Code hands it to
 * the panel serializer when it restores the panel after a window reload.
 */
export interface PanelState {
    sessionId?: string;
    draft?: string;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The session id a restored panel showed, if its saved state holds a well-formed one. */
export function sessionIdOfState(state: unknown): string | undefined {
    if (typeof state !== 'object' || state === null) {
        return undefined;
    }
    const id = (state as Record<string, unknown>).sessionId;
    return typeof id === 'string' && SESSION_ID.test(id) ? id.toLowerCase() : undefined;
}
