import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toDom, type DocLike, type ElementLike, type NodeLike } from '../../webview/dom';
import { h, type VElement } from '../../webview/vnode';

/** A fake DOM that records how nodes were built (no HTML parsing exists in it). */
class FakeText implements NodeLike {
    constructor(readonly text: string) {}
}

class FakeElement implements ElementLike {
    readonly attributes = new Map<string, string>();
    readonly children: NodeLike[] = [];
    constructor(readonly tag: string) {}
    setAttribute(name: string, value: string): void {
        this.attributes.set(name, value);
    }
    appendChild(child: NodeLike): unknown {
        this.children.push(child);
        return child;
    }
}

const doc: DocLike = {
    createElement: (tag) => new FakeElement(tag),
    createTextNode: (text) => new FakeText(text),
};

test('text becomes text nodes, never markup', () => {
    const el = toDom(doc, h('p', null, '<img src=x onerror=alert(1)>')) as FakeElement;
    assert.equal(el.tag, 'p');
    assert.equal(el.children.length, 1);
    assert.ok(el.children[0] instanceof FakeText);
    assert.equal((el.children[0] as FakeText).text, '<img src=x onerror=alert(1)>');
});

test('unknown tags become span, unknown attributes are dropped', () => {
    const forged = { tag: 'script', attrs: { onerror: 'alert(1)', class: 'x', style: 'color:red' }, children: ['y'] } as unknown as VElement;
    const el = toDom(doc, forged) as FakeElement;
    assert.equal(el.tag, 'span');
    assert.deepEqual([...el.attributes.keys()], ['class']);
});

test('href is checked again and only kept on links', () => {
    const bad = toDom(doc, h('a', { href: 'javascript:alert(1)' }, 'x')) as FakeElement;
    assert.equal(bad.attributes.has('href'), false);
    const good = toDom(doc, h('a', { href: 'https://example.org' }, 'x')) as FakeElement;
    assert.equal(good.attributes.get('href'), 'https://example.org/');
    assert.equal(good.attributes.get('rel'), 'noopener noreferrer');
    const notLink = toDom(doc, h('div', { href: 'https://example.org' })) as FakeElement;
    assert.equal(notLink.attributes.has('href'), false);
});
