import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { highlightCode } from '../../webview/highlight';
import { renderInline, renderMarkdown } from '../../webview/markdown';
import { safeHref, textOf, type VElement, type VNode } from '../../webview/vnode';

/** Every element in a tree, depth first. */
function elements(nodes: VNode[]): VElement[] {
    const out: VElement[] = [];
    const walk = (n: VNode): void => {
        if (typeof n !== 'string') {
            out.push(n);
            (n.children ?? []).forEach(walk);
        }
    };
    nodes.forEach(walk);
    return out;
}

/** A compact picture of a tree: tag[children] or "text". */
function shape(nodes: VNode[]): string {
    return nodes
        .map((n) => (typeof n === 'string' ? JSON.stringify(n) : `${n.tag}${n.attrs?.href ? `(${n.attrs.href})` : ''}[${shape(n.children ?? [])}]`))
        .join(',');
}

describe('safeHref', () => {
    const allowed: [string, string][] = [
        ['https://example.org/a?b=c#d', 'https://example.org/a?b=c#d'],
        ['http://127.0.0.1:8080/x', 'http://127.0.0.1:8080/x'],
        ['  HTTPS://Example.org  ', 'https://example.org/'],
    ];
    for (const [raw, href] of allowed) {
        test(`allows ${raw.trim()}`, () => assert.equal(safeHref(raw), href));
    }
    const refused = [
        'javascript:alert(1)',
        'JaVaScRiPt:alert(1)',
        ' javascript:alert(1)',
        'java\tscript:alert(1)',
        'data:text/html,<script>alert(1)</script>',
        'vbscript:msgbox(1)',
        'file:///etc/passwd',
        'command:workbench.action.terminal.new',
        'vscode://ms-python.python/x',
        '//evil.example/x',
        '/relative/path',
        'relative',
        'https:evil',
        'https:///nohost',
        'https://exa mple.org',
        'https://example.org/\u0000',
        '',
    ];
    for (const raw of refused) {
        test(`refuses ${JSON.stringify(raw)}`, () => assert.equal(safeHref(raw), undefined));
    }
});

describe('markdown (markdown-it into the safe tree)', () => {
    test('paragraphs and line breaks', () => {
        assert.equal(shape(renderMarkdown('one\ntwo\n\nthree')), 'p["one",br[],"two"],p["three"]');
    });

    test('fenced code block keeps its text verbatim, highlighted, language as a class', () => {
        const out = renderMarkdown('before\n```ts\nconst a = "<b>";\n  indented **not bold**\n```\nafter');
        assert.equal(shape([out[0], out[2]]), 'p["before"],p["after"]');
        const pre = out[1] as VElement;
        assert.equal(pre.tag, 'pre');
        const code = elements([pre]).find((e) => e.tag === 'code');
        assert.equal(code?.attrs?.class, 'language-ts');
        assert.equal(textOf(pre), 'const a = "<b>";\n  indented **not bold**');
        const spans = elements([pre]).filter((e) => e.tag === 'span');
        assert.deepEqual(
            spans.map((e) => [e.attrs?.class, textOf(e)]),
            [['hljs-keyword', 'const'], ['hljs-string', '"<b>"']],
        );
    });

    test('a block in an unknown language, or none, is plain text', () => {
        assert.equal(shape(renderMarkdown('```klingon\nqapla\n```')), 'pre[code["qapla"]]');
        assert.equal(shape(renderMarkdown('```\n<b>x</b>\n```')), 'pre[code["<b>x</b>"]]');
    });

    test('highlighting keeps every character of hostile code as text', () => {
        const src = '<img src=x onerror="alert(1)"><script>fetch("//x")</script>&amp;';
        for (const lang of ['html', 'xml', 'javascript', 'bash', 'markdown']) {
            const out = highlightCode(src, lang);
            assert.equal(textOf(out), src, lang);
            for (const e of elements(out)) {
                assert.equal(e.tag, 'span');
                assert.match(e.attrs?.class ?? '', /^(hljs-[\w-]+( hljs-[\w-]+)*|language-[\w-]+)$/);
            }
        }
    });

    test('an unclosed fence runs to the end', () => {
        assert.equal(shape(renderMarkdown('```\nopen')), 'pre[code["open"]]');
    });

    test('a hostile language name is stripped to safe characters', () => {
        const code = elements(renderMarkdown('```"><img src=x onerror=alert(1)>\nx\n```')).find((e) => e.tag === 'code');
        assert.ok(!/[<>"= ]/.test(code?.attrs?.class ?? ''), code?.attrs?.class);
    });

    test('unordered and ordered lists, nested by indent', () => {
        assert.equal(shape(renderMarkdown('- a\n- b\n  - c\n- d')), 'ul[li["a"],li["b",ul[li["c"]]],li["d"]]');
        assert.equal(shape(renderMarkdown('1. one\n2. two')), 'ol[li["one"],li["two"]]');
        const ol = renderMarkdown('3. three\n4. four')[0] as VElement;
        assert.equal(ol.attrs?.start, '3');
    });

    test('list followed by a paragraph', () => {
        assert.equal(shape(renderMarkdown('* a\n* b\n\ntext')), 'ul[li["a"],li["b"]],p["text"]');
    });

    test('headings, quotes and rules', () => {
        assert.equal(shape(renderMarkdown('# Title\n## Sub\n> quoted\n\n---')), 'h3["Title"],h4["Sub"],blockquote[p["quoted"]],hr[]');
    });

    test('inline: code, bold, italic, strikethrough', () => {
        assert.equal(shape(renderInline('a `x*y*` **b** *c* _d_ ~~e~~')), '"a ",code["x*y*"]," ",strong["b"]," ",em["c"]," ",em["d"]," ",del["e"]');
    });

    test('snake_case words are not italic', () => {
        assert.equal(shape(renderInline('use my_var_name here')), '"use my_var_name here"');
    });

    test('backslash escapes', () => {
        assert.equal(shape(renderInline('\\*not em\\*')), '"*not em*"');
    });

    test('http(s) links and autolinks become links', () => {
        assert.equal(shape(renderInline('see [docs](https://example.org/d "Docs")')), '"see ",a(https://example.org/d)["docs"]');
        assert.equal(shape(renderInline('<https://example.org>')), 'a(https://example.org/)["https://example.org"]');
        assert.equal(shape(renderInline('go to https://example.org/x.')), '"go to ",a(https://example.org/x)["https://example.org/x"],"."');
    });

    test('links with other schemes are shown as their literal text', () => {
        const src = 'click [me](javascript:alert(document.cookie)) or [file](file:///etc/passwd) or <javascript:alert(1)>';
        const out = renderInline(src);
        assert.equal(elements(out).filter((e) => e.tag === 'a').length, 0);
        assert.equal(textOf(out), src);
    });

    test('raw HTML stays text', () => {
        const src = '<img src=x onerror="alert(1)"> <script>alert(2)</script> <a href="javascript:x">y</a>';
        const out = renderMarkdown(src);
        assert.deepEqual(
            elements(out).map((e) => e.tag),
            ['p'],
        );
        assert.equal(textOf(out), src);
    });

    test('GitHub tables render as tables, with their alignment', () => {
        const out = renderMarkdown('| name | cost |\n|:--|--:|\n| a **b** | $1 |\n| <i>c</i> | 2 |');
        assert.equal(shape(out), 'table[thead[tr[th["name"],th["cost"]]],tbody[tr[td["a ",strong["b"]],td["$1"]],tr[td["<i>c</i>"],td["2"]]]]');
        const cells = elements(out).filter((e) => e.tag === 'th' || e.tag === 'td');
        assert.deepEqual(cells.map((e) => e.attrs?.class), ['align-left', 'align-right', 'align-left', 'align-right', 'align-left', 'align-right']);
    });

    test('task lists get check boxes', () => {
        const out = renderMarkdown('- [ ] write the test\n- [x] make it fail\n- plain');
        assert.equal(shape(out), 'ul[li[span["\u2610"]," ","write the test"],li[span["\u2611"]," ","make it fail"],li["plain"]]');
        const items = elements(out).filter((e) => e.tag === 'li');
        assert.deepEqual(items.map((e) => e.attrs?.class), ['task', 'task done', undefined]);
        const loose = renderMarkdown('- [x] one\n\n- [ ] two');
        assert.equal(shape(loose), 'ul[li[p[span["\u2611"]," ","one"]],li[p[span["\u2610"]," ","two"]]]');
    });

    test('an image is never loaded: it becomes a link to it, or text', () => {
        assert.equal(shape(renderMarkdown('![chart](https://example.org/c.png)')), 'p[a(https://example.org/c.png)["[image: chart]"]]');
        const out = renderMarkdown('![x](javascript:alert(1)) ![y](data:image/png;base64,AAAA)');
        assert.equal(elements(out).filter((e) => e.tag === 'a').length, 0);
    });

    test('a URL glued to the text before it (in quotes, in code) is not made a link', () => {
        const src = `fetch('https://evil.example/x') src="http://127.0.0.1:9/pwned" (see https://example.org/ok)`;
        const out = renderMarkdown(src);
        assert.deepEqual(elements(out).filter((e) => e.tag === 'a').map((e) => e.attrs?.href), ['https://example.org/ok']);
        assert.equal(textOf(out), src);
    });

    test('bare domains and e-mail addresses stay text; only URLs with a scheme become links', () => {
        assert.equal(shape(renderInline('mail me@example.org or visit example.org')), '"mail me@example.org or visit example.org"');
    });

    test('deeply nested input does not blow the stack', () => {
        const src = '> '.repeat(200) + 'deep' + '\n' + '*'.repeat(5000) + '['.repeat(3000) + '\n' + '- '.repeat(500) + 'x';
        assert.doesNotThrow(() => renderMarkdown(src));
        assert.ok(textOf(renderMarkdown(src)).includes('deep'));
    });

    test('text is kept: rendering loses no characters of plain prose', () => {
        const src = 'Plain prose with <tags>, & ampersands, "quotes" and \'apostrophes\'.';
        assert.equal(textOf(renderMarkdown(src)), src);
    });
});
