import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TranscriptModel } from '../../transcriptModel';
import { message } from './fixtures';

const ids = (m: TranscriptModel): string[] => m.list().map((x) => `${x.index}:${x.message.id}`);

test('first page from the end sets the window', () => {
    const m = new TranscriptModel();
    m.applyPage(8, [message(8), message(9)], 10);
    assert.deepEqual(ids(m), ['8:m8', '9:m9']);
    assert.equal(m.start, 8);
    assert.equal(m.end, 10);
    assert.equal(m.total, 10);
    assert.ok(m.hasEarlier);
});

test('earlier pages extend the window backwards', () => {
    const m = new TranscriptModel();
    m.applyPage(8, [message(8), message(9)], 10);
    const r = m.applyPage(6, [message(6), message(7)], 10);
    assert.deepEqual(r.changed.map((c) => c.index), [6, 7]);
    assert.deepEqual(ids(m), ['6:m6', '7:m7', '8:m8', '9:m9']);
});

test('appended messages: a grown message replaces its index, new ones extend', () => {
    const m = new TranscriptModel();
    m.applyPage(0, [message(0), message(1)], 2);
    const grown = message(1, { content: [{ type: 'text', text: 'more' }] });
    const r = m.applyAppended(1, [grown, message(2)]);
    assert.deepEqual(r.changed.map((c) => c.index), [1, 2]);
    assert.deepEqual(m.list()[1].message.content[0], { type: 'text', text: 'more' });
    assert.equal(m.end, 3);
    assert.equal(m.total, 3);
});

test('an update beyond the loaded end reports a gap', () => {
    const m = new TranscriptModel();
    m.applyPage(0, [message(0)], 1);
    const r = m.applyAppended(5, [message(5)]);
    assert.deepEqual(r, { changed: [], gapFrom: 1 });
    assert.equal(m.end, 1);
});

test('updates before the window are ignored; before the first load, a gap from 0', () => {
    const m = new TranscriptModel();
    assert.deepEqual(m.applyAppended(0, [message(0)]), { changed: [], gapFrom: 0 });
    m.applyPage(5, [message(5)], 6);
    const r = m.applyAppended(4, [message(4), message(5)]);
    assert.deepEqual(r.changed.map((c) => c.index), [5]);
    assert.equal(m.start, 5);
});

test('an empty transcript loads as empty', () => {
    const m = new TranscriptModel();
    m.applyPage(0, [], 0);
    assert.ok(m.loaded);
    assert.deepEqual(ids(m), []);
    m.applyAppended(0, [message(0)]);
    assert.deepEqual(ids(m), ['0:m0']);
});
