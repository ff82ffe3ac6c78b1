import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calendarDaysBetween, formatCost, formatTokens, relativeTime, statusLabel, totalTokens, truncate } from '../../format';
import { iso, local } from './fixtures';

describe('relativeTime', () => {
    const now = local(2026, 11, 21, 15, 0);
    const cases: [string, number, string][] = [
        ['seconds ago', now - 20_000, 'just now'],
        ['future (clock skew)', now + 60_000, 'just now'],
        ['minutes', now - 5 * 60_000, '5 min ago'],
        ['hours, same day', local(2026, 11, 21, 9, 0), '6 h ago'],
        ['yesterday evening', local(2026, 11, 20, 23, 0), 'yesterday'],
        ['3 days', local(2026, 11, 18, 9, 0), '3 days ago'],
        ['13 days', local(2026, 11, 8, 9, 0), '13 days ago'],
        ['3 weeks', local(2026, 10, 31, 9, 0), '3 weeks ago'],
        ['long ago: a date', local(2026, 3, 2, 9, 0), '2026-03-02'],
    ];
    for (const [name, t, expected] of cases) {
        test(name, () => assert.equal(relativeTime(iso(t), now), expected));
    }
    test('missing or bad time', () => {
        assert.equal(relativeTime(null, now), 'unknown time');
        assert.equal(relativeTime('not a date', now), 'unknown time');
    });
});

test('calendarDaysBetween counts local days, not 24 h spans', () => {
    assert.equal(calendarDaysBetween(local(2026, 11, 20, 23, 59), local(2026, 11, 21, 0, 1)), 1);
    assert.equal(calendarDaysBetween(local(2026, 11, 21, 0, 1), local(2026, 11, 21, 23, 59)), 0);
    assert.equal(calendarDaysBetween(local(2026, 10, 1), local(2026, 11, 1)), 31);
});

describe('formatCost', () => {
    const cases: [number | null | undefined, string][] = [
        [null, ''],
        [undefined, ''],
        [Number.NaN, ''],
        [-1, ''],
        [0, '$0.00'],
        [0.004, '<$0.01'],
        [0.01, '$0.01'],
        [0.1234, '$0.12'],
        [12.3, '$12.30'],
        [1234.5, '$1,235'],
    ];
    for (const [value, expected] of cases) {
        test(`${value} → ${JSON.stringify(expected)}`, () => assert.equal(formatCost(value), expected));
    }
});

describe('formatTokens', () => {
    const cases: [number, string][] = [
        [0, '0'],
        [950, '950'],
        [1000, '1k'],
        [1234, '1.2k'],
        [12_345, '12k'],
        [999_999, '1000k'],
        [1_000_000, '1M'],
        [4_560_000, '4.6M'],
    ];
    for (const [value, expected] of cases) {
        test(`${value} → ${expected}`, () => assert.equal(formatTokens(value), expected));
    }
});

test('totalTokens adds every kind, cache included', () => {
    assert.equal(totalTokens({ inputTokens: 1, outputTokens: 2, cacheCreationTokens: 3, cacheReadTokens: 4, costUsd: null }), 10);
    assert.equal(totalTokens(null), 0);
});

test('statusLabel', () => {
    assert.equal(statusLabel('waiting_for_input'), 'Waiting for you');
    assert.equal(statusLabel('running'), 'Running');
    assert.equal(statusLabel('something_new'), 'something_new');
});

test('truncate', () => {
    assert.equal(truncate('abc', 5), 'abc');
    assert.equal(truncate('abcdef', 5), 'abcd…');
});
