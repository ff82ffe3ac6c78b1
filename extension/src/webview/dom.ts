/**
 * Turns a {@link VNode} tree into DOM nodes, using only `createElement`,
 * `createTextNode` and `setAttribute` with an allow-list of tags and attributes.
 * Never `innerHTML`. Link targets are checked again here (defence in depth).
 */
import { ATTRS, safeHref, TAGS, type VNode } from './vnode';

/** The bits of `Document` this module needs (so it can be tested with a fake). */
export interface DocLike {
    createElement(tag: string): ElementLike;
    createTextNode(text: string): NodeLike;
}

export type NodeLike = object;

export interface ElementLike extends NodeLike {
    setAttribute(name: string, value: string): void;
    appendChild(child: NodeLike): unknown;
}

const TAG_SET: ReadonlySet<string> = new Set(TAGS);
const ATTR_SET: ReadonlySet<string> = new Set(ATTRS);

/** Builds the DOM for one node. Unknown tags become `span`, unknown attributes are dropped. */
export function toDom(doc: DocLike, node: VNode): NodeLike {
    if (typeof node === 'string') {
        return doc.createTextNode(node);
    }
    const tag = TAG_SET.has(node.tag) ? node.tag : 'span';
    const el = doc.createElement(tag);
    for (const [name, value] of Object.entries(node.attrs ?? {})) {
        if (!ATTR_SET.has(name) || typeof value !== 'string') {
            continue;
        }
        if (name === 'href') {
            if (tag !== 'a') {
                continue;
            }
            const href = safeHref(value);
            if (!href) {
                continue;
            }
            el.setAttribute('href', href);
            el.setAttribute('rel', 'noopener noreferrer');
            continue;
        }
        el.setAttribute(name, value);
    }
    for (const child of node.children ?? []) {
        el.appendChild(toDom(doc, child));
    }
    return el;
}
