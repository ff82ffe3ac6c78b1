import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkGrant, commandName, findDenial, goAheadPrompt, isPermissionDenial, ruleFor } from '../../approval';
import type { Message } from '../../protocol';
import { parseFromWebview } from '../../webviewMessages';

const WAITING = { status: 'waiting_for_input' as const };

/** The last two Messages of a turn whose tool call was refused, as the server sends them. */
function deniedTurn(command: string, refusal: string, isError = true): Message[] {
    return [
        { id: 'u1', role: 'user', timestamp: '2026-11-30T10:00:00Z', content: [{ type: 'text', text: `tidy up [[tool:bash:${command}]]` }] },
        {
            id: 'msg_1',
            role: 'assistant',
            timestamp: '2026-11-30T10:00:01Z',
            content: [
                { type: 'text', text: 'I will run a command.' },
                { type: 'tool_use', id: 'toolu_01', name: 'Bash', input: { command, description: 'Stub-requested command' } },
            ],
        },
        { id: 'r1', role: 'user', timestamp: '2026-11-30T10:00:02Z', content: [{ type: 'tool_result', toolUseId: 'toolu_01', text: refusal, isError }] },
    ];
}

describe('findDenial', () => {
    // The refusals Claude Code 2.1.197 and 2.1.329 write (the fake agent writes the same).
    const refusals = [
        "touch in '/w/approved.txt' needs approval. The path is inside the working directories for this session ('/w'), and Claude Code asks before a shell command creates, changes or removes files there.",
        "touch in '/w/approved.txt' was blocked. For security, Claude Code may only create files in the allowed working directories for this session: '/w'.",
        'This command requires approval',
    ];
    for (const refusal of refusals) {
        test(`a denied Bash call: ${refusal.slice(0, 40)}…`, () => {
            const d = findDenial(WAITING, deniedTurn('touch approved.txt', refusal));
            assert.ok(d);
            assert.equal(d.tool, 'Bash');
            assert.equal(d.toolUseId, 'toolu_01');
            assert.equal(d.rule, 'Bash(touch:*)');
            assert.equal(d.target, 'touch approved.txt');
            assert.equal(d.reason, refusal);
            assert.equal(d.prompt, 'Permission granted: go ahead and run `touch approved.txt`.');
        });
    }

    test('a Write outside the project', () => {
        const messages: Message[] = [
            { id: 'a', role: 'assistant', timestamp: '', content: [{ type: 'tool_use', id: 't', name: 'Write', input: { file_path: '/etc/x', content: 'y' } }] },
            { id: 'r', role: 'user', timestamp: '', content: [{ type: 'tool_result', toolUseId: 't', isError: true, text: "Claude requested permissions to write to /etc/x, but you haven't granted it yet." }] },
        ];
        const d = findDenial(WAITING, messages);
        assert.equal(d?.rule, 'Write');
        assert.equal(d?.prompt, 'Permission granted: go ahead with Write on /etc/x.');
    });

    test('nothing to approve: not waiting, an ordinary tool error, a question, no result yet', () => {
        const refusal = 'This command requires approval';
        assert.equal(findDenial({ status: 'completed' }, deniedTurn('touch x', refusal)), undefined);
        assert.equal(findDenial(undefined, deniedTurn('touch x', refusal)), undefined);
        assert.equal(findDenial(WAITING, deniedTurn('false', 'Exit code 1')), undefined);
        assert.equal(findDenial(WAITING, deniedTurn('touch x', refusal, false)), undefined);
        assert.equal(findDenial(WAITING, deniedTurn('touch x', refusal).slice(0, 2)), undefined);
        const question: Message[] = [
            { id: 'a', role: 'assistant', timestamp: '', content: [{ type: 'tool_use', id: 'q', name: 'AskUserQuestion', input: { questions: [] } }] },
        ];
        assert.equal(findDenial(WAITING, question), undefined);
    });

    test('only the last tool call counts: an old denial that was followed by another call is not offered', () => {
        const old = deniedTurn('touch a', 'This command requires approval');
        const later: Message[] = [
            { id: 'a2', role: 'assistant', timestamp: '', content: [{ type: 'tool_use', id: 'toolu_02', name: 'Bash', input: { command: 'ls' } }] },
            { id: 'r2', role: 'user', timestamp: '', content: [{ type: 'tool_result', toolUseId: 'toolu_02', isError: false, text: 'a' }] },
        ];
        assert.equal(findDenial(WAITING, [...old, ...later]), undefined);
    });
});

test('ruleFor: the command name for Bash, the domain for WebFetch, else the tool', () => {
    assert.equal(ruleFor('Bash', { command: 'touch x.txt' }), 'Bash(touch:*)');
    assert.equal(ruleFor('Bash', { command: '  FOO=1 BAR=2 npm test -- -x' }), 'Bash(npm:*)');
    assert.equal(ruleFor('Bash', { command: '"quoted cmd" x' }), 'Bash');
    assert.equal(ruleFor('Bash', { command: '' }), 'Bash');
    assert.equal(ruleFor('Bash', null), 'Bash');
    assert.equal(ruleFor('WebFetch', { url: 'https://docs.example.org/a' }), 'WebFetch(domain:docs.example.org)');
    assert.equal(ruleFor('WebFetch', { url: 'nope' }), 'WebFetch');
    assert.equal(ruleFor('Edit', { file_path: '/a' }), 'Edit');
    assert.equal(commandName('$(rm -rf ~)'), undefined);
    assert.equal(isPermissionDenial('Exit code 2\nno such file'), false);
    assert.equal(goAheadPrompt('Read', 'Read'), 'Permission granted: go ahead with Read.');
});

test('checkGrant: tool rules and permission modes from the webview are checked', () => {
    assert.deepEqual(checkGrant({ allowedTools: ['Bash(touch:*)'] }), { allowedTools: ['Bash(touch:*)'] });
    assert.deepEqual(checkGrant({ permissionMode: 'acceptEdits' }), { permissionMode: 'acceptEdits' });
    for (const bad of [
        null,
        {},
        { permissionMode: 'yolo' },
        { allowedTools: [] },
        { allowedTools: 'Bash' },
        { allowedTools: ['--dangerously-skip-permissions'] },
        { allowedTools: ['Bash(a) Bash(b)'] },
        { allowedTools: ['Bash(x\ny)'] },
        { allowedTools: [1] },
    ]) {
        assert.equal(checkGrant(bad), undefined, JSON.stringify(bad));
    }
});

test('the webview approve message is parsed with its grant checked', () => {
    assert.deepEqual(parseFromWebview({ type: 'approve', prompt: 'go', grant: { allowedTools: ['Bash(touch:*)'] } }), {
        type: 'approve',
        prompt: 'go',
        grant: { allowedTools: ['Bash(touch:*)'] },
    });
    assert.equal(parseFromWebview({ type: 'approve', prompt: ' ', grant: { permissionMode: 'acceptEdits' } }), undefined);
    assert.equal(parseFromWebview({ type: 'approve', prompt: 'go', grant: { permissionMode: 'bypass' } }), undefined);
    assert.deepEqual(parseFromWebview({ type: 'pin' }), { type: 'pin' });
});
