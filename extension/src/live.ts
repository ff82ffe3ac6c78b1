/**
 * The live part of a transcript: whether a turn is running and the reply text streamed so
 * far (protocol §4 `session/updated.streaming`), kept apart from the transcript's Messages.
 *
 * Pure (no `vscode` import), so the unit tests drive it with synthetic notifications.
 */
import type { SessionInfo, SessionUpdatedParams } from './protocol';

export interface LiveState {
    /** A turn is running: the webview shows the working indicator. */
    running: boolean;
    /** The reply written so far that is not in the transcript yet, or null. */
    text: string | null;
}

export const IDLE: LiveState = { running: false, text: null };

/** The live state after a session changed (from a request result or a notification). */
export function liveOfSession(state: LiveState, session: Pick<SessionInfo, 'status'>): LiveState {
    const running = session.status === 'running';
    return running ? { running, text: state.text } : IDLE;
}

/**
 * The live state after a `session/updated`. `streaming` absent says nothing (the text so far
 * stays); `null` clears it (the message reached the transcript); a turn that is no longer
 * running has no live text. Messages that arrive do not clear it by themselves: the server
 * sends `null` when the streamed message is in the transcript.
 */
export function applyLiveUpdate(state: LiveState, params: SessionUpdatedParams): LiveState {
    const next = liveOfSession(state, params.session);
    if (!next.running) {
        return IDLE;
    }
    if (params.streaming === undefined) {
        return next;
    }
    const text = typeof params.streaming?.text === 'string' && params.streaming.text !== '' ? params.streaming.text : null;
    return { running: true, text };
}

/** Whether two states would look the same (to skip posting an unchanged one). */
export function sameLive(a: LiveState, b: LiveState): boolean {
    return a.running === b.running && a.text === b.text;
}
