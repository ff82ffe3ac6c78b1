import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DoubleClick } from '../../clicks';
import { applyLiveUpdate, IDLE, liveOfSession, type LiveState } from '../../live';
import { isIndexingEnd, type SessionUpdatedParams, type Status } from '../../protocol';
import { renderLive } from '../../webview/render';
import { textOf, type VElement, type VNode } from '../../webview/vnode';
import { session } from './fixtures';

function update(status: Status, streaming?: { text: string } | null): SessionUpdatedParams {
    const p: SessionUpdatedParams = { session: session({ status }), appended: [], appendedFrom: null };
    if (streaming !== undefined) {
        p.streaming = streaming;
    }
    return p;
}

test('streaming: the reply grows, is replaced by the transcript, and ends with the turn', () => {
    let live: LiveState = liveOfSession(IDLE, session({ status: 'running' }));
    assert.deepEqual(live, { running: true, text: null });
    live = applyLiveUpdate(live, update('running', { text: 'Hel' }));
    assert.deepEqual(live, { running: true, text: 'Hel' });
    live = applyLiveUpdate(live, update('running', { text: 'Hello, wor' }));
    assert.deepEqual(live, { running: true, text: 'Hello, wor' });
    // An update about something else (usage) keeps the text so far.
    live = applyLiveUpdate(live, update('running'));
    assert.deepEqual(live, { running: true, text: 'Hello, wor' });
    // The message is in the transcript now.
    live = applyLiveUpdate(live, update('running', null));
    assert.deepEqual(live, { running: true, text: null });
    live = applyLiveUpdate(live, update('running', { text: 'next' }));
    // The turn ended: nothing live, even if a stale text came along.
    live = applyLiveUpdate(live, update('completed', { text: 'stale' }));
    assert.deepEqual(live, IDLE);
    assert.deepEqual(liveOfSession({ running: true, text: 'x' }, session({ status: 'waiting_for_input' })), IDLE);
});

function classes(nodes: VNode[]): string[] {
    const out: string[] = [];
    const walk = (n: VNode): void => {
        if (typeof n !== 'string') {
            if (n.attrs?.class) {
                out.push(n.attrs.class);
            }
            (n.children ?? []).forEach(walk);
        }
    };
    nodes.forEach(walk);
    return out;
}

test('renderLive: a working indicator, then the reply so far as Markdown; nothing when idle', () => {
    assert.deepEqual(renderLive(IDLE), []);
    const working = renderLive({ running: true, text: null });
    assert.equal(textOf(working), 'Assistantworking…');
    assert.ok(classes(working).includes('working'));
    const writing = renderLive({ running: true, text: 'Step **one** <script>x</script>' });
    assert.equal(textOf(writing), 'Assistantwriting…Step one <script>x</script>');
    assert.ok(classes(writing).includes('text streaming'));
    const strong = (writing[1] as VElement).children?.[0] as VElement;
    assert.equal(((strong.children?.[0] as VElement).children?.[1] as VElement).tag, 'strong');
});

test('DoubleClick: a second click on the same row within the window', () => {
    const c = new DoubleClick(500);
    assert.equal(c.click('a', 1000), false);
    assert.equal(c.click('a', 1300), true);
    assert.equal(c.click('a', 1400), false, 'a third click starts over');
    assert.equal(c.click('b', 1500), false, 'another row');
    assert.equal(c.click('a', 1600), false);
    assert.equal(c.click('a', 2200), false, 'too slow');
});

test('the end of the first indexing is told from other progress', () => {
    assert.equal(isIndexingEnd('threadline-index-4f1c', { kind: 'end' }), true);
    assert.equal(isIndexingEnd('threadline-index-4f1c', { kind: 'report' }), false);
    assert.equal(isIndexingEnd('threadline-index-4f1c', { kind: 'begin' }), false);
    assert.equal(isIndexingEnd('other-4f1c', { kind: 'end' }), false);
    assert.equal(isIndexingEnd(7, { kind: 'end' }), false);
    assert.equal(isIndexingEnd('threadline-index-x', null), false);
});
