/**
 * How sessions are grouped and labelled in the history tree.
 *
 * Pure functions (no `vscode` import): the tree provider turns their results into
 * TreeItems, and the unit tests check them directly.
 */
import { calendarDaysBetween, formatCost, formatTokens, parseTime, relativeTime, statusLabel, totalTokens } from './format';
import type { SessionInfo, Status } from './protocol';

export type GroupId = 'running' | 'waiting' | 'today' | 'yesterday' | 'week' | 'older';

/** The groups, in the order the tree shows them. */
export const GROUPS: readonly { id: GroupId; label: string }[] = [
    { id: 'running', label: 'Running' },
    { id: 'waiting', label: 'Waiting for you' },
    { id: 'today', label: 'Today' },
    { id: 'yesterday', label: 'Yesterday' },
    { id: 'week', label: 'This week' },
    { id: 'older', label: 'Older' },
];

export interface SessionGroup {
    id: GroupId;
    label: string;
    sessions: SessionInfo[];
}

/**
 * The group of one session: its status first (running, waiting for input), then the
 * local calendar day of its last activity. "This week" is the last 7 days before
 * yesterday; a time that cannot be read counts as older.
 */
export function groupOf(session: SessionInfo, now: number): GroupId {
    if (session.status === 'running') {
        return 'running';
    }
    if (session.status === 'waiting_for_input') {
        return 'waiting';
    }
    const t = parseTime(session.updatedAt);
    if (Number.isNaN(t)) {
        return 'older';
    }
    const days = calendarDaysBetween(t, now);
    if (days <= 0) {
        return 'today';
    }
    if (days === 1) {
        return 'yesterday';
    }
    if (days < 7) {
        return 'week';
    }
    return 'older';
}

/** Newest `updatedAt` first; ties broken by id so the order is stable. */
export function compareSessions(a: SessionInfo, b: SessionInfo): number {
    const ta = parseTime(a.updatedAt);
    const tb = parseTime(b.updatedAt);
    const va = Number.isNaN(ta) ? -Infinity : ta;
    const vb = Number.isNaN(tb) ? -Infinity : tb;
    if (va !== vb) {
        return vb - va;
    }
    return a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0;
}

/** The non-empty groups, in tree order, each sorted newest first. */
export function groupSessions(sessions: Iterable<SessionInfo>, now: number): SessionGroup[] {
    const byGroup = new Map<GroupId, SessionInfo[]>();
    for (const s of sessions) {
        const g = groupOf(s, now);
        let list = byGroup.get(g);
        if (!list) {
            list = [];
            byGroup.set(g, list);
        }
        list.push(s);
    }
    const result: SessionGroup[] = [];
    for (const { id, label } of GROUPS) {
        const list = byGroup.get(id);
        if (list && list.length > 0) {
            result.push({ id, label, sessions: list.sort(compareSessions) });
        }
    }
    return result;
}

/** The tree label: the title, never empty. */
export function sessionLabel(session: SessionInfo): string {
    const title = (session.title ?? '').replace(/\s+/g, ' ').trim();
    return title.length > 0 ? title : '(untitled)';
}

/** The agents' names as people know them; an unknown id is shown as it is. */
const AGENT_NAMES: Record<string, string> = { claude: 'Claude Code', codex: 'Codex CLI', gemini: 'Gemini CLI' };

export function agentName(agent: string): string {
    return AGENT_NAMES[agent] ?? agent;
}

/** The agent to start without asking: the only runnable one, or the protocol's default when the server does not say. */
export function soleAgent(runnable: readonly string[] | undefined): string | undefined {
    if (!runnable || runnable.length === 0) {
        return 'claude';
    }
    return runnable.length === 1 ? runnable[0] : undefined;
}

/**
 * The agents Start Workflow offers: every known agent plus any other the server runs, the
 * runnable ones first (the last one used at the top), the others marked so the user can
 * see which setting to fix.
 */
export function agentChoices(known: readonly string[], runnable: readonly string[], last?: string): { agent: string; runnable: boolean }[] {
    const all = [...known, ...runnable.filter((a) => !known.includes(a))];
    return all
        .map((agent, i) => ({ agent, runnable: runnable.includes(agent), i }))
        .sort((a, b) => Number(b.runnable) - Number(a.runnable) || Number(b.agent === last) - Number(a.agent === last) || a.i - b.i)
        .map(({ agent, runnable: r }) => ({ agent, runnable: r }));
}

/** The statuses whose icon a row shows instead of its agent's: they need to be seen. */
const ATTENTION: ReadonlySet<string> = new Set(['running', 'waiting_for_input', 'failed', 'interrupted']);

/**
 * The icon of a tree row: the agent's own icon, except while the session needs attention
 * (running, waiting, failed, interrupted), when the status icon takes its place.
 */
export function rowIcon(session: SessionInfo): { kind: 'status'; id: string; color?: string } | { kind: 'agent'; agent: string } {
    if (ATTENTION.has(session.status)) {
        return { kind: 'status', ...statusIcon(session.status) };
    }
    return { kind: 'agent', agent: session.agent };
}

/**
 * The tree description: "★ active · 5 min ago · $0.12". The agent is the row's icon, not a
 * word; a cancelled session (which shows its agent's icon) says so.
 */
export function sessionDescription(session: SessionInfo, now: number): string {
    const parts: string[] = [];
    if (session.active) {
        parts.push('★ active');
    }
    if (session.status === 'cancelled') {
        parts.push('cancelled');
    }
    parts.push(relativeTime(session.updatedAt, now));
    const cost = formatCost(session.usage?.costUsd);
    if (cost) {
        parts.push(cost);
    }
    return parts.join(' · ');
}

/** Tooltip lines: id, status, model, branch, tokens, cost (and the error, if any). */
export function sessionTooltipLines(session: SessionInfo): string[] {
    const u = session.usage;
    const lines = [
        sessionLabel(session),
        '',
        `Id: ${session.sessionId}`,
        `Status: ${statusLabel(session.status)}${session.active ? ' (active session)' : ''}`,
        `Agent: ${agentName(session.agent)}`,
        `Model: ${session.model ?? 'unknown'}`,
        `Branch: ${session.gitBranch ?? 'unknown'}`,
        `Tokens: ${formatTokens(totalTokens(u))} (in ${formatTokens(u?.inputTokens)}, out ${formatTokens(u?.outputTokens)}, cache write ${formatTokens(u?.cacheCreationTokens)}, cache read ${formatTokens(u?.cacheReadTokens)})`,
        `Cost: ${formatCost(u?.costUsd) || 'unknown'}`,
        `Messages: ${session.messageCount}`,
    ];
    if (session.skill) {
        lines.push(`Skill: ${session.skill}`);
    }
    if (session.parentSessionId) {
        lines.push(`Forked from: ${session.parentSessionId}`);
    }
    if (session.lastError) {
        lines.push(`Last error: ${session.lastError}`);
    }
    if (session.snippet) {
        // With a filter: where the text matched (session/list `query`).
        lines.push('', `Match: ${session.snippet.replace(/\s+/g, ' ').trim()}`);
    }
    return lines;
}

/**
 * The `contextValue` of a session item, for menus: `session.<status>` with `.active`
 * appended for the active session, e.g. `session.running.active`.
 */
export function sessionContextValue(session: SessionInfo): string {
    return `session.${session.status}${session.active ? '.active' : ''}`;
}

/** Codicon id and theme color id for a status; running spins. */
export function statusIcon(status: Status | string): { id: string; color?: string } {
    switch (status) {
        case 'running':
            return { id: 'sync~spin', color: 'charts.blue' };
        case 'waiting_for_input':
            return { id: 'bell-dot', color: 'charts.yellow' };
        case 'completed':
            return { id: 'pass', color: 'charts.green' };
        case 'failed':
            return { id: 'error', color: 'charts.red' };
        case 'cancelled':
            return { id: 'circle-slash' };
        case 'interrupted':
            return { id: 'debug-disconnect', color: 'charts.orange' };
        default:
            return { id: 'circle-outline' };
    }
}

/** Keeps sessions whose title, id or agent contains the text (case-insensitive). */
export function matchesFilter(session: SessionInfo, query: string): boolean {
    const q = query.trim().toLowerCase();
    if (!q) {
        return true;
    }
    return [session.title, session.sessionId, session.agent, session.skill ?? '']
        .some((field) => (field ?? '').toLowerCase().includes(q));
}

/**
 * Everything the tree shows of these groups, as one string: the tree redraws only when it
 * changes. A running turn is reported every 50 ms while its reply is written (the text is
 * for the transcript, not the tree), and each redraw rebuilds every row with its inline
 * buttons: a click whose press and release straddle one (Cancel Running Turn, say) was lost.
 */
export function treeRenderKey(groups: readonly SessionGroup[], now: number): string {
    return JSON.stringify(
        groups.map((g) => [
            g.id,
            g.label,
            g.sessions.map((s) => [
                s.sessionId,
                sessionLabel(s),
                sessionDescription(s, now),
                rowIcon(s),
                sessionTooltipLines(s),
                sessionContextValue(s),
                s.active,
                s.status,
            ]),
        ]),
    );
}
