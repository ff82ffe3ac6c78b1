/**
 * A tiny virtual-DOM description that the transcript renderer produces.
 *
 * Transcripts are hostile input. The renderer never builds HTML strings: it returns
 * a tree of these nodes, where text is always a plain string (shown as text, never
 * parsed), only the tags and attributes listed here exist, and the only link target
 * is an http(s) URL that passed {@link safeHref}. `dom.ts` turns the tree into DOM
 * nodes with `createElement` / `textContent`.
 */

export const TAGS = [
    'div',
    'span',
    'p',
    'pre',
    'code',
    'strong',
    'em',
    'del',
    'a',
    'ul',
    'ol',
    'li',
    'h3',
    'h4',
    'h5',
    'blockquote',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'hr',
    'br',
    'details',
    'summary',
    'time',
] as const;

export type Tag = (typeof TAGS)[number];

export const ATTRS = ['class', 'href', 'title', 'open', 'start', 'data-index', 'data-id', 'data-role', 'data-tool', 'datetime'] as const;

export type Attr = (typeof ATTRS)[number];

export interface VElement {
    tag: Tag;
    attrs?: Partial<Record<Attr, string>>;
    children?: VNode[];
}

/** A string is a text node. */
export type VNode = VElement | string;

/** Builds an element node. */
export function h(tag: Tag, attrs?: Partial<Record<Attr, string>> | null, ...children: (VNode | VNode[] | null | undefined | false)[]): VElement {
    const flat: VNode[] = [];
    for (const c of children) {
        if (c === null || c === undefined || c === false) {
            continue;
        }
        if (Array.isArray(c)) {
            flat.push(...c);
        } else {
            flat.push(c);
        }
    }
    const node: VElement = { tag };
    if (attrs) {
        node.attrs = attrs;
    }
    if (flat.length > 0) {
        node.children = flat;
    }
    return node;
}

/**
 * Returns a normalised link target when `raw` is an absolute http or https URL, else
 * undefined. Everything else (javascript:, data:, vbscript:, file:, command:, relative
 * paths, URLs with whitespace or control characters) is refused.
 */
export function safeHref(raw: string): string | undefined {
    const s = raw.trim();
    if (!/^https?:\/\/[^/]/i.test(s)) {
        return undefined;
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0020\u007f-\u009f]/.test(s)) {
        return undefined;
    }
    try {
        const url = new URL(s);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
            return undefined;
        }
        return url.href;
    } catch {
        return undefined;
    }
}

/** The text of a tree, as a reader would see it (for tests and summaries). */
export function textOf(node: VNode | VNode[]): string {
    if (Array.isArray(node)) {
        return node.map(textOf).join('');
    }
    if (typeof node === 'string') {
        return node;
    }
    if (node.tag === 'br') {
        return '\n';
    }
    return (node.children ?? []).map(textOf).join('');
}
