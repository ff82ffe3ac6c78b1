/**
 * Messages between a transcript panel (extension host) and its webview script.
 * Both directions are unions keyed by `type`. Pure types, no `vscode` import.
 */
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
    | { type: 'loadingEarlier'; loading: boolean };

/** Webview → extension. */
export type FromWebview =
    | { type: 'ready' }
    | { type: 'loadEarlier' }
    | { type: 'resume'; prompt: string }
    | { type: 'copyId' };

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
            return { type: v.type };
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
