/**
 * Renders transcript Messages as a conversation, as {@link VNode} trees.
 *
 * User and assistant text goes through the Markdown subset; thinking, tool calls and
 * tool results are collapsed `<details>` with a one-line summary; errors and system
 * events stay visible. Nothing here touches the DOM.
 */
import type { ContentBlock, Message } from '../protocol';
import { formatTokens, totalTokens, truncate } from '../format';
import { renderMarkdown } from './markdown';
import { h, type VElement, type VNode } from './vnode';

/** Longest tool input or result text shown in full; the rest is cut with a note. */
export const MAX_BLOCK_CHARS = 20_000;

/** Tool names by tool_use id, shared across messages so a result can name its tool. */
export type ToolNames = Map<string, string>;

const SUMMARY_KEYS = ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt', 'skill'];

/** The one-line view of a tool's input: its most telling field, else compact JSON. */
export function compactInput(input: unknown, max = 120): string {
    if (input === null || input === undefined) {
        return '';
    }
    if (typeof input === 'string') {
        return truncate(oneLine(input), max);
    }
    if (typeof input === 'object' && !Array.isArray(input)) {
        const obj = input as Record<string, unknown>;
        for (const key of SUMMARY_KEYS) {
            const v = obj[key];
            if (typeof v === 'string' && v.trim()) {
                return truncate(oneLine(v), max);
            }
        }
    }
    return truncate(oneLine(safeJson(input, false)), max);
}

function oneLine(text: string): string {
    return text.replace(/\s+/g, ' ').trim();
}

function safeJson(value: unknown, pretty: boolean): string {
    try {
        const s = JSON.stringify(value, null, pretty ? 2 : undefined);
        return s === undefined ? String(value) : s;
    } catch {
        return String(value);
    }
}

/** Text cut to {@link MAX_BLOCK_CHARS}, with a note of how much was left out. */
export function clip(text: string, max = MAX_BLOCK_CHARS): string {
    if (text.length <= max) {
        return text;
    }
    return `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
}

function roleLabel(message: Message): string {
    if (message.role === 'user') {
        return message.isMeta ? 'Agent note' : 'You';
    }
    if (message.role === 'assistant') {
        return 'Assistant';
    }
    return 'System';
}

function timeLabel(iso: string): string {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) {
        return '';
    }
    const d = new Date(t);
    return d.toLocaleString(undefined, { hour: '2-digit', minute: '2-digit', month: 'short', day: 'numeric' });
}

/** True when a user message carries only tool results (not something the user typed). */
export function isToolResultsOnly(message: Message): boolean {
    return message.role === 'user' && message.content.length > 0 && message.content.every((b) => b.type === 'tool_result');
}

/** Renders one content block. */
export function renderBlock(block: ContentBlock, message: Message, tools: ToolNames): VNode[] {
    switch (block.type) {
        case 'text': {
            if (message.role === 'system') {
                return [h('div', { class: 'system-text' }, block.text)];
            }
            return [h('div', { class: 'text' }, ...renderMarkdown(block.text))];
        }
        case 'thinking':
            return [
                h(
                    'details',
                    { class: 'thinking' },
                    h('summary', null, h('span', { class: 'kind' }, 'Thinking'), ' ', h('span', { class: 'brief' }, truncate(oneLine(block.text), 100))),
                    h('div', { class: 'thinking-text' }, clip(block.text)),
                ),
            ];
        case 'tool_use': {
            if (block.id) {
                tools.set(block.id, block.name);
            }
            return [
                h(
                    'details',
                    { class: 'tool-use', 'data-tool': block.name, 'data-id': block.id },
                    h('summary', null, h('span', { class: 'kind' }, 'Tool'), ' ', h('span', { class: 'tool-name' }, block.name), ' ', h('span', { class: 'brief' }, compactInput(block.input))),
                    h('pre', { class: 'tool-input' }, clip(safeJson(block.input, true))),
                ),
            ];
        }
        case 'tool_result': {
            const name = tools.get(block.toolUseId);
            const cls = block.isError ? 'tool-result error' : 'tool-result';
            const attrs: Record<string, string> = { class: cls, 'data-id': block.toolUseId };
            if (block.isError) {
                attrs.open = ''; // errors stay visible
            }
            const kind = block.isError ? 'Tool error' : 'Result';
            return [
                h(
                    'details',
                    attrs,
                    h('summary', null, h('span', { class: 'kind' }, kind), name ? [' ', h('span', { class: 'tool-name' }, name)] : null, ' ', h('span', { class: 'brief' }, truncate(oneLine(block.text ?? ''), 100) || '(empty)')),
                    h('pre', { class: 'tool-output' }, clip(block.text ?? '')),
                ),
            ];
        }
        case 'image':
            return [h('div', { class: 'image-placeholder' }, `[image${block.mediaType ? `: ${block.mediaType}` : ''}]`)];
        default: {
            const unknown = block as { type?: unknown };
            return [h('div', { class: 'unknown-block' }, `[${String(unknown.type ?? 'unknown')} block]`)];
        }
    }
}

/** Renders one Message with its index, as the conversation shows it. */
export function renderMessage(index: number, message: Message, tools: ToolNames): VElement {
    const classes = ['msg', `role-${message.role}`];
    if (message.isMeta) {
        classes.push('meta');
    }
    if (message.isSidechain) {
        classes.push('sidechain');
    }
    const toolsOnly = isToolResultsOnly(message);
    if (toolsOnly) {
        classes.push('tool-results');
    }
    const head: VNode[] = [];
    if (!toolsOnly) {
        head.push(h('span', { class: 'who' }, roleLabel(message)));
        if (message.isSidechain) {
            head.push(h('span', { class: 'tag' }, 'subagent'));
        }
        if (message.model && message.role === 'assistant') {
            head.push(h('span', { class: 'model' }, message.model));
        }
        if (message.usage && message.role === 'assistant') {
            head.push(h('span', { class: 'usage' }, `${formatTokens(totalTokens(message.usage))} tokens`));
        }
        const when = timeLabel(message.timestamp);
        if (when) {
            head.push(h('time', { datetime: message.timestamp, title: message.timestamp }, when));
        }
    }
    const body: VNode[] = [];
    for (const block of message.content ?? []) {
        body.push(...renderBlock(block, message, tools));
    }
    if (body.length === 0) {
        body.push(h('div', { class: 'empty' }, '(no content)'));
    }
    return h(
        'div',
        { class: classes.join(' '), 'data-index': String(index), 'data-id': message.id ?? '', 'data-role': message.role },
        head.length > 0 ? h('div', { class: 'msg-head' }, ...head) : null,
        h('div', { class: 'msg-body' }, ...body),
    );
}

/** The running turn's live part: a working indicator and the reply written so far. */
export function renderLive(live: { running: boolean; text: string | null }): VNode[] {
    if (!live.running) {
        return [];
    }
    const head = h(
        'div',
        { class: 'msg-head' },
        h('span', { class: 'who' }, 'Assistant'),
        h('span', { class: 'working', title: 'The agent is working on this turn' }, live.text ? 'writing…' : 'working…'),
    );
    const body = live.text ? h('div', { class: 'msg-body' }, h('div', { class: 'text streaming' }, ...renderMarkdown(live.text))) : null;
    return body ? [head, body] : [head];
}
