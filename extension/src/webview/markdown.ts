/**
 * Markdown for transcript text, parsed by markdown-it (CommonMark plus GitHub's tables,
 * strikethrough and bare-URL links) and turned into a {@link VNode} tree.
 *
 * markdown-it's HTML renderer is never used. Its token stream is walked here and mapped
 * onto the allow-listed tags of `vnode.ts`, so text stays text: raw HTML in the source is
 * off in the parser and shows literally, a link is made only for an http(s) target (any
 * other link stays its literal source text), an image becomes a link to it (nothing is
 * fetched), and task-list items get a check-box glyph. Code blocks are highlighted by
 * `highlight.ts` into the same kind of tree.
 */
import MarkdownIt from 'markdown-it';
import { highlightCode } from './highlight';
import { h, safeHref, type Tag, type VElement, type VNode } from './vnode';

type Token = MarkdownIt.Token;

/** Deepest nesting of blocks (quotes, lists) or of inline markup markdown-it builds. */
const MAX_NESTING = 40;

const md = new MarkdownIt('default', {
    html: false,
    linkify: true,
    typographer: false,
    breaks: true, // a newline in a reply is a line break, as the agents mean it
    maxNesting: MAX_NESTING,
});
// Only http(s) targets become links; markdown-it leaves any other link as its source text.
md.validateLink = (url: string): boolean => safeHref(url) !== undefined;
// Bare URLs only with a scheme ("example.org" and e-mail addresses stay text).
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });

/** Source longer than this is shown as plain text (parsing is linear, the DOM is not). */
const MAX_SOURCE = 200_000;

const HEADINGS: Record<string, Tag> = { h1: 'h3', h2: 'h4', h3: 'h5', h4: 'h5', h5: 'h5', h6: 'h5' };

/** Block and inline container tags, as markdown-it names them, to ours. */
const CONTAINERS: Record<string, Tag> = {
    p: 'p',
    blockquote: 'blockquote',
    ul: 'ul',
    ol: 'ol',
    li: 'li',
    table: 'table',
    thead: 'thead',
    tbody: 'tbody',
    tr: 'tr',
    th: 'th',
    td: 'td',
    strong: 'strong',
    em: 'em',
    s: 'del',
    a: 'a',
    ...HEADINGS,
};

const TASK = /^\[([ xX])\][ \t]/;

/** A class for a fence's language, stripped to safe characters. */
function languageOf(info: string): string {
    return (info.trim().split(/\s+/)[0] ?? '').toLowerCase().replace(/[^a-z0-9_+#.-]/g, '');
}

function codeBlock(text: string, info: string): VElement {
    const lang = languageOf(info);
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    const attrs = lang ? { class: `language-${lang}` } : null;
    return h('pre', null, h('code', attrs, ...highlightCode(body, lang)));
}

function lineBreaks(text: string): VNode[] {
    const out: VNode[] = [];
    text.split('\n').forEach((part, i) => {
        if (i > 0) {
            out.push(h('br'));
        }
        if (part) {
            out.push(part);
        }
    });
    return out;
}

/** Opens the element a `*_open` token stands for, or undefined when it adds none. */
function openElement(token: Token): VElement | undefined {
    if (token.hidden) {
        return undefined; // the paragraphs of a tight list
    }
    const tag = CONTAINERS[token.tag];
    if (!tag) {
        return h('span');
    }
    const el = h(tag);
    if (tag === 'a') {
        const href = safeHref(String(token.attrGet('href') ?? ''));
        if (href) {
            el.attrs = { href, title: href };
        }
    } else if (tag === 'ol') {
        const start = Number(token.attrGet('start') ?? '1');
        if (Number.isInteger(start) && start !== 1) {
            el.attrs = { start: String(start) };
        }
    } else if (tag === 'th' || tag === 'td') {
        const align = /text-align:\s*(left|center|right)/.exec(String(token.attrGet('style') ?? ''));
        if (align) {
            el.attrs = { class: `align-${align[1]}` };
        }
    }
    return el;
}

/** Builds the tree of a token list: `_open`/`_close` pairs nest, the rest are leaves. */
function build(tokens: readonly Token[]): VNode[] {
    const root: VElement = h('div');
    const stack: VElement[] = [root];
    // Whether the element at each depth was really opened (hidden paragraphs are not).
    const opened: boolean[] = [];
    const top = (): VElement => stack[stack.length - 1];
    const append = (...nodes: VNode[]): void => {
        const parent = top();
        parent.children = [...(parent.children ?? []), ...nodes];
    };
    tokens.forEach((token, i) => {
        if (token.nesting === 1) {
            const el = bareUrlInWord(token, tokens[i - 1]) ? undefined : openElement(token);
            opened.push(el !== undefined);
            if (el) {
                append(el);
                stack.push(el);
            }
            return;
        }
        if (token.nesting === -1) {
            if (opened.pop()) {
                stack.pop();
            }
            return;
        }
        switch (token.type) {
            case 'inline':
                append(...build(taskItem(token, stack) ?? token.children ?? []));
                break;
            case 'text':
                append(...lineBreaks(token.content));
                break;
            case 'code_inline':
                append(h('code', null, token.content));
                break;
            case 'softbreak':
            case 'hardbreak':
                append(h('br'));
                break;
            case 'fence':
                append(codeBlock(token.content, token.info));
                break;
            case 'code_block':
                append(codeBlock(token.content, ''));
                break;
            case 'hr':
                append(h('hr'));
                break;
            case 'image': {
                // Never an <img>: a link to the picture, labelled with its alt text.
                const src = safeHref(String(token.attrGet('src') ?? ''));
                const alt = token.content || 'image';
                append(src ? h('a', { href: src, title: src, class: 'image-link' }, `[image: ${alt}]`) : `[image: ${alt}]`);
                break;
            }
            default:
                if (token.content) {
                    append(...lineBreaks(token.content));
                }
                break;
        }
    });
    return root.children ?? [];
}

/**
 * A bare URL that markdown-it's linkify found glued to the text before it (inside quotes,
 * `fetch('https://…')`, `src="…"`): left as text. Only a URL that stands alone (after a
 * space, a bracket or at the start) becomes a link, as people write links in prose.
 */
function bareUrlInWord(token: Token, previous: Token | undefined): boolean {
    if (token.type !== 'link_open' || token.markup !== 'linkify') {
        return false;
    }
    if (!previous || previous.type !== 'text' || previous.content === '') {
        return false;
    }
    return !/[\s([<*_~]$/.test(previous.content);
}

/**
 * A task-list item ("- [ ] todo", "- [x] done"): marks the list item and returns its
 * inline tokens with the "[ ] " cut off and a check-box glyph in front; else undefined.
 */
function taskItem(inline: Token, stack: readonly VElement[]): Token[] | undefined {
    const children = inline.children ?? [];
    const first = children[0];
    // The item's first text: straight in the <li> (tight list) or in its only <p> (loose).
    const top = stack[stack.length - 1];
    let li: VElement | undefined;
    if (top.tag === 'li' && !top.children?.length) {
        li = top;
    } else if (top.tag === 'p' && !top.children?.length) {
        const parent = stack[stack.length - 2];
        li = parent?.tag === 'li' && parent.children?.length === 1 ? parent : undefined;
    }
    if (!li || !first || first.type !== 'text') {
        return undefined;
    }
    const m = TASK.exec(first.content);
    if (!m) {
        return undefined;
    }
    const done = m[1] !== ' ';
    li.attrs = { class: done ? 'task done' : 'task' };
    top.children = [h('span', { class: 'task-box', title: done ? 'done' : 'to do' }, done ? '\u2611' : '\u2610'), ' '];
    const rest = Object.assign(Object.create(Object.getPrototypeOf(first) as object) as Token, first, { content: first.content.slice(m[0].length) });
    return [rest, ...children.slice(1)];
}

/** Renders Markdown source to a list of block nodes. */
export function renderMarkdown(src: string): VNode[] {
    if (src.length > MAX_SOURCE) {
        return [h('p', null, ...lineBreaks(src))];
    }
    try {
        const tokens = md.parse(src, {});
        // markdown-it stops (dropping the rest) at its nesting limit: then show plain text.
        if (tokens.some((t) => t.level >= MAX_NESTING - 1 || (t.children ?? []).some((c) => c.level >= MAX_NESTING - 1))) {
            return [h('p', null, ...lineBreaks(src))];
        }
        return build(tokens);
    } catch {
        return [h('p', null, ...lineBreaks(src))];
    }
}

/** Renders one paragraph's worth of inline Markdown (no blocks). */
export function renderInline(src: string): VNode[] {
    try {
        return build(md.parseInline(src, {}));
    } catch {
        return lineBreaks(src);
    }
}
