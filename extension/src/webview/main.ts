/**
 * The transcript webview's script (bundled to `media/transcript.js`).
 *
 * Receives Messages by index from the extension and keeps them in order in
 * `#messages`; renders the header; drives the composer. All transcript data is put in
 * the DOM as text (see `dom.ts`); nothing is parsed as HTML.
 */
import { formatCost, formatTokens, statusLabel, totalTokens } from '../format';
import type { Denial } from '../approval';
import type { Message, SessionInfo } from '../protocol';
import type { FromWebview, PanelState, ToWebview } from '../webviewMessages';
import { toDom, type DocLike } from './dom';
import { renderLive, renderMessage, type ToolNames } from './render';

interface VsCodeApi {
    postMessage(message: FromWebview): void;
    getState(): unknown;
    setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const doc = document as unknown as DocLike;

function byId<T extends HTMLElement>(id: string): T {
    const el = document.getElementById(id);
    if (!el) {
        throw new Error(`missing #${id}`);
    }
    return el as T;
}

const els = {
    title: byId('title'),
    status: byId('status'),
    model: byId('model'),
    tokens: byId('tokens'),
    cost: byId('cost'),
    sessionId: byId('session-id'),
    copyId: byId<HTMLButtonElement>('copy-id'),
    lastError: byId('last-error'),
    scroller: byId('scroller'),
    earlier: byId<HTMLButtonElement>('load-earlier'),
    messages: byId('messages'),
    empty: byId('empty'),
    problem: byId('problem'),
    reason: byId('composer-reason'),
    prompt: byId<HTMLTextAreaElement>('prompt'),
    send: byId<HTMLButtonElement>('send'),
    live: byId('live'),
    approval: byId('approval'),
    approvalWhat: byId('approval-what'),
    approvalReason: byId('approval-reason'),
    approvalPrompt: byId<HTMLInputElement>('approval-prompt'),
    approvalRule: byId('approval-rule'),
    allowRule: byId<HTMLButtonElement>('allow-rule'),
    allowEdits: byId<HTMLButtonElement>('allow-edits'),
};

const tools: ToolNames = new Map();
let session: SessionInfo | undefined;
let composerBusy = false;
let start = 0;
let denial: Denial | null = null;
let removed = false;
let pinned = false;

const shownId = document.body.getAttribute('data-session-id');
let saved = (vscode.getState() ?? {}) as PanelState;
if (shownId && saved.sessionId && saved.sessionId !== shownId) {
    saved = {}; // a preview panel that now shows another session: no old draft
}
if (typeof saved.draft === 'string') {
    els.prompt.value = saved.draft;
}

/** Keeps the draft and the session id across reloads (the panel is restored from them). */
function save(patch: PanelState): void {
    saved = { ...saved, ...patch };
    vscode.setState(saved);
}

// Saved at once, so a window reloaded before the first answer still restores this panel.
if (shownId && saved.sessionId !== shownId) {
    save({ sessionId: shownId });
}

function setText(el: HTMLElement, text: string): void {
    el.textContent = text;
}

function atBottom(): boolean {
    const s = els.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
}

function renderSession(s: SessionInfo): void {
    session = s;
    setText(els.title, s.title || '(untitled)');
    setText(els.status, statusLabel(s.status));
    els.status.className = `status status-${s.status}`;
    els.status.setAttribute('data-status', s.status);
    setText(els.model, s.model ?? (s.status === 'running' ? 'model: first reply pending' : 'model unknown'));
    setText(els.tokens, `${formatTokens(totalTokens(s.usage))} tokens`);
    els.tokens.title = `in ${s.usage?.inputTokens ?? 0}, out ${s.usage?.outputTokens ?? 0}, cache write ${s.usage?.cacheCreationTokens ?? 0}, cache read ${s.usage?.cacheReadTokens ?? 0}`;
    setText(els.cost, formatCost(s.usage?.costUsd) || 'cost unknown');
    setText(els.sessionId, s.sessionId);
    setText(els.lastError, s.lastError ? `Last error: ${s.lastError}` : '');
    els.lastError.hidden = !s.lastError;
    updateComposer();
}

function updateComposer(): void {
    let reason = '';
    if (removed) {
        reason = 'This session is gone from disk; it cannot be continued.';
    } else if (!session) {
        reason = 'Loading…';
    } else if (session.status === 'running') {
        reason = 'A turn is running. You can reply when it ends.';
    } else if (composerBusy) {
        reason = 'Sending…';
    }
    const disabled = reason !== '';
    els.prompt.disabled = disabled;
    els.send.disabled = disabled || els.prompt.value.trim() === '';
    setText(els.reason, reason);
    els.reason.hidden = !reason;
    const offer = denial !== null && !disabled && session?.status === 'waiting_for_input';
    els.approval.hidden = !offer;
    els.allowRule.disabled = !offer || els.approvalPrompt.value.trim() === '';
    els.allowEdits.disabled = els.allowRule.disabled;
}

/** Shows (or hides) the offer to allow a denied tool call and continue. */
function renderApproval(next: Denial | null): void {
    const changed = next?.toolUseId !== denial?.toolUseId;
    denial = next;
    if (next && changed) {
        setText(els.approvalWhat, `${next.tool} ${next.target === next.tool ? '' : next.target}`.trim());
        setText(els.approvalReason, next.reason);
        setText(els.approvalRule, next.rule);
        els.approvalRule.title = 'The tool rule "Allow and continue" grants for this turn';
        els.allowRule.title = `Resume with ${next.rule} allowed for this turn`;
        els.approvalPrompt.value = next.prompt;
    }
    updateComposer();
}

function renderLiveTurn(live: { running: boolean; text: string | null }): void {
    const stick = atBottom();
    const nodes = renderLive(live);
    els.live.replaceChildren(...nodes.map((n) => toDom(doc, n) as Node));
    els.live.hidden = nodes.length === 0;
    els.live.setAttribute('data-state', live.text ? 'writing' : live.running ? 'working' : 'idle');
    document.body.classList.toggle('running', live.running);
    if (stick) {
        els.scroller.scrollTop = els.scroller.scrollHeight;
    }
}

/** Tells the extension the user works in this panel (a preview tab becomes a normal one). */
function pin(): void {
    if (!pinned) {
        pinned = true;
        vscode.postMessage({ type: 'pin' });
    }
}

function insertMessage(index: number, message: Message): void {
    const node = toDom(doc, renderMessage(index, message, tools)) as HTMLElement;
    const existing = els.messages.querySelector(`:scope > [data-index="${index}"]`);
    if (existing) {
        // Keep open <details> open when a message grows.
        const open = new Set<string>();
        existing.querySelectorAll('details[open]').forEach((d, i) => open.add(d.getAttribute('data-id') ?? `#${i}`));
        node.querySelectorAll('details').forEach((d, i) => {
            if (open.has(d.getAttribute('data-id') ?? `#${i}`)) {
                d.setAttribute('open', '');
            }
        });
        existing.replaceWith(node);
        return;
    }
    // Insert before the first child with a greater index.
    let before: Element | null = null;
    for (const child of Array.from(els.messages.children)) {
        const i = Number(child.getAttribute('data-index'));
        if (i > index) {
            before = child;
            break;
        }
    }
    els.messages.insertBefore(node, before);
}

function applyMessages(msg: Extract<ToWebview, { type: 'messages' }>): void {
    const stick = atBottom();
    const oldHeight = els.scroller.scrollHeight;
    const oldTop = els.scroller.scrollTop;
    const prepending = msg.items.length > 0 && msg.items[0].index < start;
    if (msg.reset) {
        els.messages.replaceChildren();
        tools.clear();
    }
    for (const { index, message } of msg.items) {
        insertMessage(index, message);
    }
    start = msg.start;
    els.earlier.hidden = start <= 0;
    setText(els.earlier, `Load ${start} earlier message${start === 1 ? '' : 's'}`);
    els.empty.hidden = els.messages.children.length > 0;
    els.messages.setAttribute('data-total', String(msg.total));
    els.messages.setAttribute('data-start', String(msg.start));
    if (prepending && !msg.reset) {
        els.scroller.scrollTop = oldTop + (els.scroller.scrollHeight - oldHeight);
    } else if (stick || msg.reset) {
        els.scroller.scrollTop = els.scroller.scrollHeight;
    }
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
    const msg = event.data;
    switch (msg?.type) {
        case 'session':
            renderSession(msg.session);
            break;
        case 'messages':
            applyMessages(msg);
            break;
        case 'error':
            setText(els.problem, msg.message);
            els.problem.hidden = !msg.message;
            break;
        case 'composer':
            composerBusy = msg.busy;
            if (msg.sent) {
                els.prompt.value = '';
                save({ draft: '' });
            }
            setText(els.problem, msg.error ?? '');
            els.problem.hidden = !msg.error;
            updateComposer();
            break;
        case 'loadingEarlier':
            els.earlier.disabled = msg.loading;
            break;
        case 'live':
            renderLiveTurn(msg);
            break;
        case 'approval':
            renderApproval(msg.denial);
            break;
        case 'removed':
            removed = true;
            setText(els.problem, 'This session was removed: its transcript is gone from disk.');
            els.problem.hidden = false;
            updateComposer();
            break;
        default:
            break;
    }
});

function send(): void {
    const prompt = els.prompt.value;
    if (!prompt.trim() || els.send.disabled) {
        return;
    }
    composerBusy = true;
    updateComposer();
    vscode.postMessage({ type: 'resume', prompt });
}

function approve(grant: { allowedTools?: string[]; permissionMode?: string }): void {
    const prompt = els.approvalPrompt.value;
    if (!denial || !prompt.trim() || els.allowRule.disabled) {
        return;
    }
    composerBusy = true;
    updateComposer();
    vscode.postMessage({ type: 'approve', prompt, grant });
}

els.allowRule.addEventListener('click', () => approve({ allowedTools: denial ? [denial.rule] : [] }));
els.allowEdits.addEventListener('click', () => approve({ permissionMode: 'acceptEdits' }));
els.approvalPrompt.addEventListener('input', () => {
    pin();
    updateComposer();
});
els.approvalPrompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
        e.preventDefault();
        els.allowRule.click();
    }
});

els.send.addEventListener('click', send);
els.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        send();
    }
});
els.prompt.addEventListener('input', () => {
    pin();
    save({ draft: els.prompt.value });
    updateComposer();
});
els.earlier.addEventListener('click', () => vscode.postMessage({ type: 'loadEarlier' }));
els.copyId.addEventListener('click', () => vscode.postMessage({ type: 'copyId' }));

updateComposer();
vscode.postMessage({ type: 'ready' });
