/**
 * Small text formatters for times, costs, tokens and statuses.
 *
 * Pure functions (no `vscode` import) so they run under the unit tests.
 */
import type { Status, Usage } from './protocol';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Parses an ISO time; returns NaN for a missing or malformed value. */
export function parseTime(iso: string | null | undefined): number {
    if (!iso) {
        return Number.NaN;
    }
    return Date.parse(iso);
}

/**
 * "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", "3 weeks ago", then a
 * date (YYYY-MM-DD, local time). A time in the future (clock skew) reads "just now".
 */
export function relativeTime(iso: string | null | undefined, now: number): string {
    const t = parseTime(iso);
    if (Number.isNaN(t)) {
        return 'unknown time';
    }
    const diff = now - t;
    if (diff < MINUTE) {
        return 'just now';
    }
    if (diff < HOUR) {
        return `${Math.floor(diff / MINUTE)} min ago`;
    }
    const days = calendarDaysBetween(t, now);
    if (days === 0) {
        return `${Math.floor(diff / HOUR)} h ago`;
    }
    if (days === 1) {
        return 'yesterday';
    }
    if (days < 14) {
        return `${days} days ago`;
    }
    if (days < 60) {
        return `${Math.floor(days / 7)} weeks ago`;
    }
    return isoDate(t);
}

/** Local calendar date as YYYY-MM-DD. */
export function isoDate(t: number): string {
    const d = new Date(t);
    const pad = (n: number): string => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Local midnight at the start of the day that contains `t`. */
export function startOfDay(t: number): number {
    const d = new Date(t);
    d.setHours(0, 0, 0, 0);
    return d.getTime();
}

/** Number of local calendar days from `earlier` to `later` (0 = same day). */
export function calendarDaysBetween(earlier: number, later: number): number {
    const a = new Date(startOfDay(earlier));
    const b = new Date(startOfDay(later));
    // Use the date parts so that DST changes do not shift the count.
    const utcA = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
    const utcB = Date.UTC(b.getFullYear(), b.getMonth(), b.getDate());
    return Math.round((utcB - utcA) / DAY);
}

/** "$0.42", "<$0.01", "$12.30", "$1,234"; an empty string when the cost is unknown. */
export function formatCost(costUsd: number | null | undefined): string {
    if (costUsd === null || costUsd === undefined || !Number.isFinite(costUsd) || costUsd < 0) {
        return '';
    }
    if (costUsd === 0) {
        return '$0.00';
    }
    if (costUsd < 0.01) {
        return '<$0.01';
    }
    if (costUsd >= 1000) {
        return `$${Math.round(costUsd).toLocaleString('en-US')}`;
    }
    return `$${costUsd.toFixed(2)}`;
}

/** "950", "12.3k", "4.5M". */
export function formatTokens(n: number | null | undefined): string {
    if (n === null || n === undefined || !Number.isFinite(n) || n < 0) {
        return '0';
    }
    if (n < 1000) {
        return String(Math.round(n));
    }
    if (n < 1_000_000) {
        return `${trimZero((n / 1000).toFixed(n < 10_000 ? 1 : 0))}k`;
    }
    return `${trimZero((n / 1_000_000).toFixed(1))}M`;
}

function trimZero(s: string): string {
    return s.endsWith('.0') ? s.slice(0, -2) : s;
}

/** All tokens of a usage record, cache included. */
export function totalTokens(usage: Usage | null | undefined): number {
    if (!usage) {
        return 0;
    }
    return (
        (usage.inputTokens || 0) +
        (usage.outputTokens || 0) +
        (usage.cacheCreationTokens || 0) +
        (usage.cacheReadTokens || 0)
    );
}

const STATUS_LABELS: Record<Status, string> = {
    running: 'Running',
    waiting_for_input: 'Waiting for you',
    completed: 'Completed',
    failed: 'Failed',
    cancelled: 'Cancelled',
    interrupted: 'Interrupted',
};

/** A status as words; an unknown value is shown as it is. */
export function statusLabel(status: string): string {
    return (STATUS_LABELS as Record<string, string>)[status] ?? status;
}

/** Cuts a string to `max` characters, ending with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
    if (text.length <= max) {
        return text;
    }
    return `${text.slice(0, Math.max(0, max - 1))}…`;
}
