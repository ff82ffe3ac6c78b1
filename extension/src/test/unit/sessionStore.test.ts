import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionStore, type SessionChange } from '../../sessionStore';
import { parseFromWebview, sessionIdOfState } from '../../webviewMessages';
import { session } from './fixtures';

function storeWith(): { store: SessionStore; changes: SessionChange[]; redraws: () => number } {
    const store = new SessionStore();
    const changes: SessionChange[] = [];
    let n = 0;
    store.onDidChangeSession((c) => changes.push(c));
    store.onDidChange(() => n++);
    store.setFolders(['/home/u/project/']);
    return { store, changes, redraws: () => n };
}

test('keeps sessions of the folders (and below), not others', () => {
    const { store } = storeWith();
    store.upsert(session({ sessionId: 'a' }));
    store.upsert(session({ sessionId: 'b', cwd: '/home/u/project/sub' }));
    store.upsert(session({ sessionId: 'c', cwd: '/home/u/project-other' }));
    assert.deepEqual(store.all().map((s) => s.sessionId).sort(), ['a', 'b']);
});

test('listeners hear every upsert with the previous state, kept or not', () => {
    const { store, changes } = storeWith();
    store.upsert(session({ sessionId: 'a', status: 'running' }));
    store.upsert(session({ sessionId: 'a', status: 'waiting_for_input' }));
    store.upsert(session({ sessionId: 'z', cwd: '/elsewhere' }));
    assert.deepEqual(
        changes.map((c) => [c.session.sessionId, c.previous?.status, c.session.status]),
        [
            ['a', undefined, 'running'],
            ['a', 'running', 'waiting_for_input'],
            ['z', undefined, 'completed'],
        ],
    );
});

test('replaceAll reports status changes only', () => {
    const { store, changes } = storeWith();
    store.replaceAll([[session({ sessionId: 'a', status: 'running' }), session({ sessionId: 'b' })]]);
    assert.equal(changes.length, 0);
    store.replaceAll([[session({ sessionId: 'a', status: 'completed' }), session({ sessionId: 'b' })]]);
    assert.deepEqual(changes.map((c) => c.session.sessionId), ['a']);
});

test('a filter keeps new sessions that do not match out of the tree', () => {
    const { store } = storeWith();
    store.setFilter('flaky');
    store.upsert(session({ sessionId: 'a', title: 'Fix the flaky test' }));
    store.upsert(session({ sessionId: 'b', title: 'Deploy' }));
    assert.deepEqual(store.all().map((s) => s.sessionId), ['a']);
});

test('one active session per project', () => {
    const { store } = storeWith();
    store.upsert(session({ sessionId: 'a', active: true }));
    store.upsert(session({ sessionId: 'b', active: true }));
    assert.deepEqual(store.all().filter((s) => s.active).map((s) => s.sessionId), ['b']);
    assert.equal(store.activeSession()?.sessionId, 'b');
    store.setActive('/home/u/project', 'a');
    assert.equal(store.activeSession()?.sessionId, 'a');
    store.setActive('/home/u/project', null);
    assert.equal(store.activeSession(), undefined);
});

test('webview messages are narrowed; anything else is dropped', () => {
    assert.deepEqual(parseFromWebview({ type: 'resume', prompt: 'go' }), { type: 'resume', prompt: 'go' });
    assert.deepEqual(parseFromWebview({ type: 'ready', extra: 1 }), { type: 'ready' });
    assert.equal(parseFromWebview({ type: 'resume', prompt: 5 }), undefined);
    assert.equal(parseFromWebview({ type: 'runCommand' }), undefined);
    assert.equal(parseFromWebview(null), undefined);
});

test('a restored panel takes its session id from the saved state, only a well-formed one', () => {
    const id = '0b9a61c5-3f0e-4a8f-9c4e-2d6b7e1f5a10';
    assert.equal(sessionIdOfState({ sessionId: id, draft: 'half a thought' }), id);
    assert.equal(sessionIdOfState({ sessionId: id.toUpperCase() }), id);
    assert.equal(sessionIdOfState({ sessionId: '../../etc/passwd' }), undefined);
    assert.equal(sessionIdOfState({ sessionId: `${id}\n` }), undefined);
    assert.equal(sessionIdOfState({ draft: 'no id' }), undefined);
    assert.equal(sessionIdOfState(undefined), undefined);
    assert.equal(sessionIdOfState('just a string'), undefined);
});

test('remove drops a session (session/removed) and redraws once', () => {
    const { store, redraws } = storeWith();
    store.upsert(session({ sessionId: 'a' }));
    const before = redraws();
    assert.equal(store.remove('a'), true);
    assert.equal(store.get('a'), undefined);
    assert.equal(redraws(), before + 1);
    assert.equal(store.remove('a'), false);
    assert.equal(redraws(), before + 1);
});
