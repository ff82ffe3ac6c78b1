import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewText, type ViewInputs } from '../../viewState';

const base: ViewInputs = { serverState: 'running', loaded: true, empty: false, hasFolders: true, filter: '', loadError: '' };

test('loading: never "no sessions" before the first list arrives', () => {
    assert.equal(viewText({ ...base, serverState: 'starting', loaded: false, empty: true }).message, 'Starting the Threadline server…');
    assert.equal(viewText({ ...base, serverState: 'stopped', loaded: false, empty: true }).message, 'Starting the Threadline server…');
    assert.equal(viewText({ ...base, loaded: false, empty: true }).message, 'Loading sessions…');
    assert.equal(viewText({ ...base, loaded: true, empty: true }).message, 'No agent sessions in this workspace yet.');
    assert.equal(viewText(base).message, undefined);
});

test('a filter shows in the description, and in the message while searching or when nothing matches', () => {
    const f = { ...base, filter: 'flaky' };
    assert.equal(viewText(f).description, 'filter: flaky');
    assert.equal(viewText(f).message, undefined);
    assert.equal(viewText({ ...f, loaded: false }).message, 'Searching sessions for "flaky"…');
    assert.match(viewText({ ...f, empty: true }).message ?? '', /^No sessions match "flaky"/);
    assert.equal(viewText(base).description, undefined);
});

test('errors win over loading; no folder leaves the welcome view alone', () => {
    assert.match(viewText({ ...base, serverState: 'failed', loaded: false }).message ?? '', /server is not running/);
    assert.equal(viewText({ ...base, loadError: 'Could not list sessions: x' }).message, 'Could not list sessions: x');
    assert.equal(viewText({ ...base, hasFolders: false, empty: true }).message, undefined);
});
