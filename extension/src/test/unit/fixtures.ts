/** Builders of protocol objects for the unit tests. */
import type { Message, SessionInfo } from '../../protocol';

export function session(overrides: Partial<SessionInfo> = {}): SessionInfo {
    return {
        sessionId: '11111111-1111-4111-8111-111111111111',
        agent: 'claude',
        cwd: '/home/u/project',
        title: 'Fix the flaky test',
        status: 'completed',
        source: 'external',
        active: false,
        createdAt: '2026-11-21T10:00:00Z',
        updatedAt: '2026-11-21T10:05:00Z',
        messageCount: 4,
        usage: { inputTokens: 1200, outputTokens: 300, cacheCreationTokens: 0, cacheReadTokens: 5000, costUsd: 0.1234 },
        model: 'claude-opus-4-8',
        gitBranch: 'main',
        ...overrides,
    };
}

export function message(index: number, overrides: Partial<Message> = {}): Message {
    return {
        id: `m${index}`,
        role: index % 2 === 0 ? 'user' : 'assistant',
        timestamp: '2026-11-21T10:00:00Z',
        content: [{ type: 'text', text: `message ${index}` }],
        ...overrides,
    };
}

/** Local time helper: new Date(y, m - 1, d, h, min).getTime(). */
export function local(y: number, m: number, d: number, h = 12, min = 0): number {
    return new Date(y, m - 1, d, h, min).getTime();
}

export function iso(t: number): string {
    return new Date(t).toISOString();
}
