/**
 * A safe subset of Markdown for transcript text: paragraphs with line breaks,
 * fenced code blocks, headings, lists (ordered and unordered, nested by indent),
 * block quotes, rules, inline code, bold, italic, strikethrough and links.
 *
 * Output is a {@link VNode} tree; text stays text. Raw HTML in the source is shown
 * literally. A link is made only for an http(s) target; any other link is shown as
 * its literal source text.
 */
import { h, safeHref, type VElement, type VNode } from './vnode';

const MAX_DEPTH = 6;

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

interface ListMatch {
    indent: number;
    ordered: boolean;
    number: number;
    content: string;
    contentIndent: number;
}

function matchListItem(line: string): ListMatch | undefined {
    const m = LIST_ITEM.exec(line);
    if (!m) {
        return undefined;
    }
    const marker = m[2];
    const ordered = /^\d/.test(marker);
    return {
        indent: m[1].length,
        ordered,
        number: ordered ? parseInt(marker, 10) : 1,
        content: m[3],
        contentIndent: m[1].length + marker.length + 1,
    };
}

function indentOf(line: string): number {
    const m = /^\s*/.exec(line);
    return m ? m[0].length : 0;
}

function isBlank(line: string): boolean {
    return line.trim() === '';
}

function startsBlock(line: string): boolean {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || matchListItem(line) !== undefined;
}

/** Renders Markdown source to a list of block nodes. */
export function renderMarkdown(src: string, depth = 0): VNode[] {
    const text = src.replace(/\r\n?/g, '\n');
    if (depth > MAX_DEPTH) {
        return [h('p', null, ...lineBreaks(text))];
    }
    const lines = text.split('\n');
    const out: VNode[] = [];
    let i = 0;
    while (i < lines.length) {
        const line = lines[i];
        if (isBlank(line)) {
            i++;
            continue;
        }
        const fence = FENCE.exec(line);
        if (fence) {
            const marker = fence[1];
            const lang = fence[2].toLowerCase().replace(/[^a-z0-9_+#.-]/g, '');
            const body: string[] = [];
            i++;
            while (i < lines.length) {
                const close = lines[i].trim();
                if (close[0] === marker[0] && close.length >= marker.length && /^(`+|~+)$/.test(close)) {
                    i++;
                    break;
                }
                body.push(lines[i]);
                i++;
            }
            const codeAttrs = lang ? { class: `language-${lang}` } : null;
            out.push(h('pre', null, h('code', codeAttrs, body.join('\n'))));
            continue;
        }
        const heading = HEADING.exec(line);
        if (heading) {
            const level = heading[1].length;
            const tag = level === 1 ? 'h3' : level === 2 ? 'h4' : 'h5';
            out.push(h(tag, null, ...renderInline(heading[2] ?? '', depth)));
            i++;
            continue;
        }
        if (RULE.test(line)) {
            out.push(h('hr'));
            i++;
            continue;
        }
        if (QUOTE.test(line)) {
            const body: string[] = [];
            while (i < lines.length && !isBlank(lines[i])) {
                const q = QUOTE.exec(lines[i]);
                body.push(q ? q[1] : lines[i]);
                i++;
            }
            out.push(h('blockquote', null, ...renderMarkdown(body.join('\n'), depth + 1)));
            continue;
        }
        const item = matchListItem(line);
        if (item) {
            const [list, next] = parseList(lines, i, item, depth);
            out.push(list);
            i = next;
            continue;
        }
        const para: string[] = [];
        while (i < lines.length && !isBlank(lines[i]) && (para.length === 0 || !startsBlock(lines[i]))) {
            para.push(lines[i].trim());
            i++;
        }
        out.push(h('p', null, ...renderInline(para.join('\n'), depth)));
    }
    return out;
}

function parseList(lines: string[], start: number, first: ListMatch, depth: number): [VElement, number] {
    const items: string[][] = [];
    let current: string[] = [];
    let contentIndent = first.contentIndent;
    let i = start;
    while (i < lines.length) {
        const line = lines[i];
        const m = matchListItem(line);
        if (m && m.indent <= first.indent + 1 && m.ordered === first.ordered) {
            if (i !== start) {
                items.push(current);
            }
            current = [m.content];
            contentIndent = m.contentIndent;
            i++;
            continue;
        }
        if (m && m.indent <= first.indent + 1) {
            break; // a list of the other kind starts
        }
        if (isBlank(line)) {
            let j = i + 1;
            while (j < lines.length && isBlank(lines[j])) {
                j++;
            }
            if (j >= lines.length) {
                break;
            }
            const nm = matchListItem(lines[j]);
            const continues = (nm && nm.indent <= first.indent + 1 && nm.ordered === first.ordered) || indentOf(lines[j]) > first.indent;
            if (!continues) {
                break;
            }
            current.push('');
            i++;
            continue;
        }
        if (indentOf(line) > first.indent) {
            current.push(line.slice(Math.min(indentOf(line), contentIndent)));
            i++;
            continue;
        }
        if (!startsBlock(line) && current.length > 0 && !isBlank(current[current.length - 1])) {
            current.push(line.trim()); // lazy continuation of the item's paragraph
            i++;
            continue;
        }
        break;
    }
    items.push(current);
    const lis = items.map((body) => {
        const blocks = renderMarkdown(body.join('\n'), depth + 1);
        const only = blocks.length === 1 ? blocks[0] : undefined;
        if (only && typeof only !== 'string' && only.tag === 'p') {
            return h('li', null, ...(only.children ?? []));
        }
        return h('li', null, ...blocks);
    });
    const attrs = first.ordered && first.number !== 1 ? { start: String(first.number) } : null;
    return [h(first.ordered ? 'ol' : 'ul', attrs, ...lis), i];
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

const BARE_URL = /^https?:\/\/[^\s<>()[\]{}"'`]+/i;
const TRAILING_PUNCT = /[.,;:!?'")\]]+$/;

/** Renders inline Markdown (one paragraph's text) to nodes; newlines become `<br>`. */
export function renderInline(src: string, depth = 0): VNode[] {
    const out: VNode[] = [];
    let buf = '';
    const flush = (): void => {
        if (buf) {
            out.push(...lineBreaks(buf));
            buf = '';
        }
    };
    if (depth > MAX_DEPTH) {
        return lineBreaks(src);
    }
    let i = 0;
    while (i < src.length) {
        const c = src[i];
        const rest = src.slice(i);

        if (c === '\\' && i + 1 < src.length && /[!-/:-@[-`{-~]/.test(src[i + 1])) {
            buf += src[i + 1];
            i += 2;
            continue;
        }

        if (c === '`') {
            const run = /^`+/.exec(rest)![0];
            const close = src.indexOf(run, i + run.length);
            if (close > 0) {
                flush();
                let code = src.slice(i + run.length, close).replace(/\n/g, ' ');
                if (code.length > 1 && code.startsWith(' ') && code.endsWith(' ') && code.trim()) {
                    code = code.slice(1, -1);
                }
                out.push(h('code', null, code));
                i = close + run.length;
                continue;
            }
            buf += run;
            i += run.length;
            continue;
        }

        if (c === '*' || c === '_' || c === '~') {
            const double = src[i + 1] === c;
            const delim = double ? c + c : c;
            const prev = i > 0 ? src[i - 1] : ' ';
            const leftFlanking = !/\s/.test(src[i + delim.length] ?? ' ');
            const intraword = c === '_' && /[\p{L}\p{N}]/u.test(prev);
            if ((c !== '~' || double) && leftFlanking && !intraword) {
                const close = findClosing(src, i + delim.length, delim);
                if (close > i + delim.length) {
                    flush();
                    const inner = renderInline(src.slice(i + delim.length, close), depth + 1);
                    const tag = c === '~' ? 'del' : double ? 'strong' : 'em';
                    out.push(h(tag, null, ...inner));
                    i = close + delim.length;
                    continue;
                }
            }
            buf += delim;
            i += delim.length;
            continue;
        }

        if (c === '[') {
            const link = parseLink(src, i);
            if (link) {
                const href = safeHref(link.url);
                if (href) {
                    flush();
                    const label = renderInline(link.text, depth + 1);
                    out.push(h('a', { href, title: href }, ...(label.length > 0 ? label : [href])));
                } else {
                    buf += src.slice(i, link.end); // shown literally
                }
                i = link.end;
                continue;
            }
        }

        if (c === '<') {
            const auto = /^<([a-z][a-z0-9+.-]{1,31}:[^\s<>]*)>/i.exec(rest);
            if (auto) {
                const href = safeHref(auto[1]);
                if (href) {
                    flush();
                    out.push(h('a', { href, title: href }, auto[1]));
                    i += auto[0].length;
                    continue;
                }
            }
        }

        if ((c === 'h' || c === 'H') && (i === 0 || /[\s(]/.test(src[i - 1]))) {
            const m = BARE_URL.exec(rest);
            if (m) {
                const url = m[0].replace(TRAILING_PUNCT, '');
                const href = safeHref(url);
                if (href) {
                    flush();
                    out.push(h('a', { href, title: href }, url));
                    i += url.length;
                    continue;
                }
            }
        }

        buf += c;
        i++;
    }
    flush();
    return out;
}

function findClosing(src: string, from: number, delim: string): number {
    let i = from;
    while (i < src.length) {
        if (src[i] === '\\') {
            i += 2;
            continue;
        }
        if (src[i] === '`') {
            const run = /^`+/.exec(src.slice(i))![0];
            const close = src.indexOf(run, i + run.length);
            i = close > 0 ? close + run.length : i + run.length;
            continue;
        }
        if (src.startsWith(delim, i) && !/\s/.test(src[i - 1] ?? ' ')) {
            // Do not take the first half of a longer run (`**` when looking for `*`).
            if (delim.length === 1 && src[i + 1] === delim) {
                i += 2;
                continue;
            }
            if (delim === '_' && /[\p{L}\p{N}]/u.test(src[i + 1] ?? ' ')) {
                i++;
                continue;
            }
            return i;
        }
        i++;
    }
    return -1;
}

function parseLink(src: string, start: number): { text: string; url: string; end: number } | undefined {
    // [text](url "title") with one level of nested brackets in the text.
    let depth = 0;
    let i = start;
    for (; i < src.length; i++) {
        const ch = src[i];
        if (ch === '\\') {
            i++;
            continue;
        }
        if (ch === '[') {
            depth++;
        } else if (ch === ']') {
            depth--;
            if (depth === 0) {
                break;
            }
        } else if (ch === '\n' && src[i + 1] === '\n') {
            return undefined;
        }
    }
    if (depth !== 0 || src[i + 1] !== '(') {
        return undefined;
    }
    const text = src.slice(start + 1, i);
    let j = i + 2;
    let parens = 0;
    for (; j < src.length; j++) {
        const ch = src[j];
        if (ch === '(') {
            parens++;
        } else if (ch === ')') {
            if (parens === 0) {
                break;
            }
            parens--;
        } else if (ch === '\n') {
            return undefined;
        }
    }
    if (j >= src.length) {
        return undefined;
    }
    let target = src.slice(i + 2, j).trim();
    const titled = /^(\S+)\s+["'(].*["')]$/.exec(target);
    if (titled) {
        target = titled[1];
    }
    if (target.startsWith('<') && target.endsWith('>')) {
        target = target.slice(1, -1);
    }
    return { text, url: target, end: j + 1 };
}
