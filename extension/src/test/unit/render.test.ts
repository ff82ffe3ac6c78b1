import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message } from '../../protocol';
import { clip, compactInput, renderMessage, type ToolNames } from '../../webview/render';
import { ATTRS, TAGS, textOf, type VElement, type VNode } from '../../webview/vnode';

function all(node: VNode): VElement[] {
    if (typeof node === 'string') {
        return [];
    }
    return [node, ...(node.children ?? []).flatMap(all)];
}

function find(node: VNode, pred: (e: VElement) => boolean): VElement[] {
    return all(node).filter(pred);
}

const hasClass = (cls: string) => (e: VElement) => (e.attrs?.class ?? '').split(' ').includes(cls);

function msg(overrides: Partial<Message>): Message {
    return { id: 'm', role: 'assistant', timestamp: '2026-11-21T10:00:00Z', content: [], ...overrides };
}

describe('renderMessage', () => {
    test('user and assistant turns carry their role and index', () => {
        const tools: ToolNames = new Map();
        const u = renderMessage(0, msg({ role: 'user', content: [{ type: 'text', text: 'hello **there**' }] }), tools);
        assert.equal(u.attrs?.['data-index'], '0');
        assert.ok(hasClass('role-user')(u));
        assert.ok(textOf(u).includes('You'));
        assert.equal(find(u, (e) => e.tag === 'strong').length, 1);
        const a = renderMessage(1, msg({ model: 'claude-opus-4-8', content: [{ type: 'text', text: 'hi' }] }), tools);
        assert.ok(hasClass('role-assistant')(a));
        assert.ok(textOf(a).includes('claude-opus-4-8'));
    });

    test('thinking and tool calls are collapsed details with the tool name and compact input', () => {
        const tools: ToolNames = new Map();
        const m = renderMessage(
            3,
            msg({
                content: [
                    { type: 'thinking', text: 'let me think' },
                    { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'echo stub-tool-ok', description: 'x' } },
                ],
            }),
            tools,
        );
        const details = find(m, (e) => e.tag === 'details');
        assert.equal(details.length, 2);
        assert.ok(details.every((d) => d.attrs?.open === undefined), 'collapsed by default');
        const summary = textOf(find(details[1], (e) => e.tag === 'summary')[0]);
        assert.equal(summary, 'Tool Bash echo stub-tool-ok');
        assert.equal(tools.get('toolu_1'), 'Bash');
    });

    test('a tool result names its tool; an error result is open and marked', () => {
        const tools: ToolNames = new Map([['toolu_1', 'Bash']]);
        const ok = renderMessage(4, msg({ role: 'user', content: [{ type: 'tool_result', toolUseId: 'toolu_1', text: 'stub-tool-ok', isError: false }] }), tools);
        assert.ok(hasClass('tool-results')(ok));
        assert.ok(!textOf(ok).includes('You'), 'tool results are not shown as a user turn');
        assert.ok(textOf(ok).includes('Result Bash stub-tool-ok'));
        const bad = renderMessage(5, msg({ role: 'user', content: [{ type: 'tool_result', toolUseId: 'x', text: 'boom', isError: true }] }), tools);
        const d = find(bad, (e) => e.tag === 'details')[0];
        assert.equal(d.attrs?.open, '');
        assert.ok(hasClass('error')(d));
    });

    test('system messages and images stay visible as text', () => {
        const tools: ToolNames = new Map();
        const s = renderMessage(6, msg({ role: 'system', content: [{ type: 'text', text: 'API Error: 500 <b>x</b>' }] }), tools);
        assert.ok(hasClass('role-system')(s));
        assert.ok(textOf(s).includes('API Error: 500 <b>x</b>'));
        const i = renderMessage(7, msg({ role: 'user', content: [{ type: 'image', mediaType: 'image/png' }] }), tools);
        assert.ok(textOf(i).includes('[image: image/png]'));
    });

    test('hostile transcript text renders as inert text', () => {
        const evil = '<img src=x onerror="document.title=\'PWNED\'"> <script>window.pwned=1</script> [click](javascript:window.pwned=2)';
        const tools: ToolNames = new Map();
        const m = renderMessage(
            8,
            msg({
                role: 'user',
                content: [
                    { type: 'text', text: evil },
                    { type: 'tool_result', toolUseId: '"><script>', text: evil, isError: false },
                ],
            }),
            tools,
        );
        const tags = new Set<string>(TAGS);
        const attrs = new Set<string>(ATTRS);
        for (const e of all(m)) {
            assert.ok(tags.has(e.tag), e.tag);
            assert.ok(!['img', 'script', 'iframe'].includes(e.tag));
            for (const [k, v] of Object.entries(e.attrs ?? {})) {
                assert.ok(attrs.has(k), k);
                if (k === 'href') {
                    assert.match(v as string, /^https?:/);
                }
            }
        }
        assert.equal(find(m, (e) => e.tag === 'a').length, 0);
        assert.ok(textOf(m).includes(evil));
    });

    test('unknown block types do not break rendering', () => {
        const m = renderMessage(9, msg({ content: [{ type: 'hologram' } as unknown as Message['content'][number]] }), new Map());
        assert.ok(textOf(m).includes('[hologram block]'));
    });
});

test('compactInput picks the telling field, else compact JSON', () => {
    assert.equal(compactInput({ file_path: '/a/b.ts', content: 'x' }), '/a/b.ts');
    assert.equal(compactInput({ a: 1, b: [1, 2] }), '{"a":1,"b":[1,2]}');
    assert.equal(compactInput('multi\nline'), 'multi line');
    assert.equal(compactInput(undefined), '');
    assert.equal(compactInput({ command: 'x'.repeat(300) }).length, 120);
});

test('clip cuts long text with a note', () => {
    assert.equal(clip('abc', 10), 'abc');
    assert.equal(clip('abcdef', 3), 'abc\n… (3 more characters)');
});
