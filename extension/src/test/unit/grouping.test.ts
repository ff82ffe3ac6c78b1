import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
    groupOf,
    groupSessions,
    agentChoices,
    agentName,
    matchesFilter,
    soleAgent,
    rowIcon,
    sessionContextValue,
    sessionDescription,
    sessionLabel,
    sessionTooltipLines,
    statusIcon,
    treeRenderKey,
} from '../../grouping';
import type { Status } from '../../protocol';
import { iso, local, session } from './fixtures';

const now = local(2026, 11, 21, 15, 0); // a Saturday afternoon

describe('groupOf', () => {
    const cases: [string, Status, number, string][] = [
        ['running beats the date', 'running', local(2026, 1, 1), 'running'],
        ['waiting beats the date', 'waiting_for_input', local(2026, 1, 1), 'waiting'],
        ['today', 'completed', local(2026, 11, 21, 0, 5), 'today'],
        ['yesterday late', 'failed', local(2026, 11, 20, 23, 59), 'yesterday'],
        ['yesterday early', 'completed', local(2026, 11, 20, 0, 1), 'yesterday'],
        ['2 days ago', 'cancelled', local(2026, 11, 19), 'week'],
        ['6 days ago', 'interrupted', local(2026, 11, 15), 'week'],
        ['7 days ago', 'completed', local(2026, 11, 14), 'older'],
        ['long ago', 'completed', local(2025, 1, 1), 'older'],
    ];
    for (const [name, status, t, expected] of cases) {
        test(name, () => assert.equal(groupOf(session({ status, updatedAt: iso(t) }), now), expected));
    }
    test('an unreadable time is older', () => {
        assert.equal(groupOf(session({ updatedAt: 'garbage' }), now), 'older');
    });
});

test('groupSessions: fixed group order, empty groups left out, newest first', () => {
    const sessions = [
        session({ sessionId: 'a', updatedAt: iso(local(2026, 11, 21, 9)) }),
        session({ sessionId: 'b', updatedAt: iso(local(2026, 11, 21, 14)) }),
        session({ sessionId: 'c', updatedAt: iso(local(2025, 5, 5)) }),
        session({ sessionId: 'd', status: 'running', updatedAt: iso(local(2026, 11, 21, 14, 59)) }),
        session({ sessionId: 'e', status: 'waiting_for_input', updatedAt: iso(local(2026, 11, 19)) }),
        session({ sessionId: 'f', updatedAt: iso(local(2026, 11, 20)) }),
    ];
    const groups = groupSessions(sessions, now);
    assert.deepEqual(
        groups.map((g) => [g.label, g.sessions.map((s) => s.sessionId)]),
        [
            ['Running', ['d']],
            ['Waiting for you', ['e']],
            ['Today', ['b', 'a']],
            ['Yesterday', ['f']],
            ['Older', ['c']],
        ],
    );
});

test('sessionLabel is the title on one line, never empty', () => {
    assert.equal(sessionLabel(session({ title: '  two\nlines  ' })), 'two lines');
    assert.equal(sessionLabel(session({ title: '' })), '(untitled)');
});

test('sessionDescription: relative time and cost, no agent name; active and cancelled marked', () => {
    const s = session({ updatedAt: iso(now - 5 * 60_000) });
    assert.equal(sessionDescription(s, now), '5 min ago · $0.12');
    assert.equal(sessionDescription({ ...s, active: true }, now), '★ active · 5 min ago · $0.12');
    assert.equal(sessionDescription({ ...s, status: 'cancelled' }, now), 'cancelled · 5 min ago · $0.12');
    const noCost = session({ updatedAt: iso(now - 5 * 60_000), usage: { ...s.usage, costUsd: null } });
    assert.equal(sessionDescription(noCost, now), '5 min ago');
});

test('rowIcon: the agent icon, or the status icon while the session needs attention', () => {
    for (const agent of ['claude', 'codex', 'gemini']) {
        assert.deepEqual(rowIcon(session({ agent, status: 'completed' })), { kind: 'agent', agent });
        assert.deepEqual(rowIcon(session({ agent, status: 'cancelled' })), { kind: 'agent', agent });
    }
    assert.deepEqual(rowIcon(session({ agent: 'codex', status: 'running' })), { kind: 'status', id: 'sync~spin', color: 'charts.blue' });
    assert.equal(rowIcon(session({ status: 'waiting_for_input' })).kind, 'status');
    assert.equal(rowIcon(session({ status: 'failed' })).kind, 'status');
    assert.equal(rowIcon(session({ status: 'interrupted' })).kind, 'status');
    assert.equal(agentName('gemini'), 'Gemini CLI');
    assert.equal(agentName('aider'), 'aider');
});

test('tooltip has id, status, model, branch, tokens and cost', () => {
    const text = sessionTooltipLines(session({ lastError: 'API error 500', skill: 'review' })).join('\n');
    for (const part of [
        'Id: 11111111-1111-4111-8111-111111111111',
        'Agent: Claude Code',
        'Status: Completed',
        'Model: claude-opus-4-8',
        'Branch: main',
        'Tokens: 6.5k (in 1.2k, out 300, cache write 0, cache read 5k)',
        'Cost: $0.12',
        'Skill: review',
        'Last error: API error 500',
    ]) {
        assert.ok(text.includes(part), `missing ${part} in\n${text}`);
    }
});

test('tooltip names where a filter matched (the snippet)', () => {
    const lines = sessionTooltipLines(session({ snippet: '…ran the\nflaky test twice…' }));
    assert.equal(lines[lines.length - 1], 'Match: …ran the flaky test twice…');
    assert.ok(!sessionTooltipLines(session()).some((l) => l.startsWith('Match:')));
});

test('contextValue by status, with the active flag', () => {
    assert.equal(sessionContextValue(session({ status: 'running' })), 'session.running');
    assert.equal(sessionContextValue(session({ status: 'completed', active: true })), 'session.completed.active');
});

test('statusIcon: running spins, each status has its own icon', () => {
    assert.equal(statusIcon('running').id, 'sync~spin');
    const ids = (['running', 'waiting_for_input', 'completed', 'failed', 'cancelled', 'interrupted'] as const).map((s) => statusIcon(s).id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(statusIcon('future_status').id, 'circle-outline');
});

test('matchesFilter: title, id, agent; case-insensitive; empty matches all', () => {
    const s = session();
    assert.ok(matchesFilter(s, 'FLAKY'));
    assert.ok(matchesFilter(s, '1111-4111'));
    assert.ok(matchesFilter(s, '   '));
    assert.ok(!matchesFilter(s, 'deploy'));
});

test('Start Workflow asks for the agent only when the server runs more than one', () => {
    assert.equal(soleAgent(undefined), 'claude', 'a server that does not say: the default');
    assert.equal(soleAgent([]), 'claude');
    assert.equal(soleAgent(['gemini']), 'gemini');
    assert.equal(soleAgent(['claude', 'codex']), undefined);
    const known = ['claude', 'codex', 'gemini'];
    assert.deepEqual(agentChoices(known, ['claude', 'gemini']), [
        { agent: 'claude', runnable: true },
        { agent: 'gemini', runnable: true },
        { agent: 'codex', runnable: false },
    ]);
    assert.deepEqual(
        agentChoices(known, ['claude', 'gemini', 'aider'], 'gemini').map((c) => c.agent),
        ['gemini', 'claude', 'aider', 'codex'],
        'the last one used first, an agent only the server knows included',
    );
});

test('the tree redraws only when something it shows changed, not for each streamed word', () => {
    const running = session({ status: 'running', updatedAt: iso(now - 5_000) });
    const key = (...sessions: ReturnType<typeof session>[]) => treeRenderKey(groupSessions(sessions, now), now);
    const base = key(running);
    // A session/updated that only carries more streaming text repeats the same SessionInfo.
    assert.equal(key({ ...running }), base);
    assert.equal(key({ ...running, pid: 4242, transcriptPath: '/t.jsonl' }), base, 'nothing the tree shows');
    for (const [what, changed] of [
        ['status', { ...running, status: 'cancelled' as const }],
        ['title', { ...running, title: 'Something else' }],
        ['cost', { ...running, usage: { ...running.usage!, costUsd: 0.5 } }],
        ['tokens (tooltip)', { ...running, usage: { ...running.usage!, outputTokens: 9_000 } }],
        ['message count (tooltip)', { ...running, messageCount: 9 }],
        ['active', { ...running, active: true }],
        ['relative time', { ...running, updatedAt: iso(now - 3 * 3_600_000) }],
    ] as const) {
        assert.notEqual(key(changed), base, what);
    }
    assert.notEqual(key(running, session({ sessionId: '22222222-2222-4222-8222-222222222222' })), base, 'a new row');
});
