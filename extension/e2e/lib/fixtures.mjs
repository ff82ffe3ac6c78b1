// Builds a throwaway Claude Code home (CLAUDE_CONFIG_DIR) for the e2e tests from the
// recorded transcripts in e2e/fixtures/, as Claude Code lays it out:
//   <claudeDir>/projects/<encoded cwd>/<sessionId>.jsonl
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SAMPLES = path.join(here, '..', 'fixtures', 'claude-code-2.1.197');

const MINUTE = 60_000;
/** Turns of the long session: 2 Messages each. */
export const LONG_TURNS = 60;
const DAY = 24 * 60 * MINUTE;

/** Claude Code's project-folder name: the real path with every non-alphanumeric char as '-'. */
export function encodeProject(cwd) {
    return fs.realpathSync(cwd).replace(/[^A-Za-z0-9]/g, '-');
}

function readRecords(name) {
    return fs
        .readFileSync(path.join(SAMPLES, name), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l));
}

/** Moves every timestamp so that the newest one is `endAt`, keeping the gaps. */
function retime(records, endAt) {
    const times = records.map((r) => Date.parse(r.timestamp)).filter((t) => !Number.isNaN(t));
    const shift = endAt - Math.max(...times);
    for (const r of records) {
        if (typeof r.timestamp === 'string') {
            r.timestamp = new Date(Date.parse(r.timestamp) + shift).toISOString();
        }
    }
}

function rewrite(records, { sessionId, cwd, endAt }) {
    for (const r of records) {
        if ('cwd' in r) {
            r.cwd = cwd;
        }
        if ('sessionId' in r) {
            r.sessionId = sessionId;
        }
    }
    retime(records, endAt);
    return records;
}

function write(claudeDir, cwd, sessionId, records) {
    const dir = path.join(claudeDir, 'projects', encodeProject(cwd));
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${sessionId}.jsonl`);
    fs.writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return file;
}

/** The text the hostile session carries; `beacon` is a URL that must never be requested. */
export function hostileText(beacon) {
    return {
        prompt: `Render this safely: <img src=x onerror="document.title='PWNED-IMG';fetch('${beacon}/img')"> <script>document.title='PWNED-SCRIPT';fetch('${beacon}/script')</script>`,
        reply: [
            'Here is what you sent, as **text**:',
            '',
            `- an image: <img src=x onerror="document.title='PWNED-IMG2';fetch('${beacon}/img2')">`,
            `- a script: <script>document.title='PWNED-SCRIPT2';fetch('${beacon}/script2')</script>`,
            `- a link: [click me](javascript:document.title='PWNED-LINK';fetch('${beacon}/link'))`,
            `- an autolink: <javascript:fetch('${beacon}/autolink')>`,
            '- a safe link: [the docs](https://example.org/docs)',
            '',
            '```html',
            `<iframe src="javascript:fetch('${beacon}/iframe')"></iframe>`,
            '```',
        ].join('\n'),
    };
}

/**
 * Writes the fixture sessions for `cwd` into `claudeDir`. Returns the sessions by key with
 * their id, title and the tree group they must land in.
 */
export function buildClaudeHome({ claudeDir, cwd, now = Date.now(), beacon }) {
    fs.mkdirSync(claudeDir, { recursive: true });
    const sessions = {};
    // "Today" sessions stay today even just after midnight.
    const today = (minutes) => now - Math.min(minutes * MINUTE, ((now - startOfDay(now)) * minutes) / 120);
    const add = (key, sessionId, title, group, records) => {
        write(claudeDir, cwd, sessionId, records);
        sessions[key] = { sessionId, title, group };
    };

    // Today: the basic two-turn conversation, 10 minutes ago.
    add('basic', '11111111-1111-4111-8111-111111111111', 'hello there', 'Today',
        rewrite(readRecords('basic.jsonl'), { sessionId: '11111111-1111-4111-8111-111111111111', cwd, endAt: today(10) }));

    // Yesterday: a Bash tool round trip.
    add('tool', '33333333-3333-4333-8333-333333333333', 'run the marker [[tool:bash]]', 'Yesterday',
        rewrite(readRecords('tool.jsonl'), { sessionId: '33333333-3333-4333-8333-333333333333', cwd, endAt: startOfDay(now) - 3 * 60 * MINUTE }));

    // This week: an API error, then a recovery turn.
    add('http500', '44444444-4444-4444-8444-444444444444', 'please fail [[http500]]', 'This week',
        rewrite(readRecords('http500.jsonl'), { sessionId: '44444444-4444-4444-8444-444444444444', cwd, endAt: startOfDay(now) - 3 * DAY + 9 * 60 * MINUTE }));

    // Older: interrupted by SIGINT, then resumed.
    add('sigint', '55555555-5555-4555-8555-555555555555', 'stream slowly [[slow]]', 'Older',
        rewrite(readRecords('sigint.jsonl'), { sessionId: '55555555-5555-4555-8555-555555555555', cwd, endAt: now - 40 * DAY }));

    // Older: a long conversation (120 Messages), more than the transcript's first page.
    {
        const sessionId = '99999999-9999-4999-8999-999999999999';
        const all = readRecords('basic.jsonl');
        const userTpl = all.find((r) => r.type === 'user');
        const asstTpl = all.find((r) => r.type === 'assistant');
        const records = [];
        let parent = null;
        for (let i = 0; i < LONG_TURNS; i++) {
            const u = structuredClone(userTpl);
            Object.assign(u, { uuid: fakeUuid(2 * i), parentUuid: parent, promptId: fakeUuid(10_000 + i), timestamp: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() });
            u.message.content = i === 0 ? 'a long conversation' : `question ${i}`;
            const a = structuredClone(asstTpl);
            Object.assign(a, { uuid: fakeUuid(2 * i + 1), parentUuid: u.uuid, requestId: `req_long_${i}`, timestamp: new Date(Date.UTC(2026, 0, 1, 0, i, 30)).toISOString() });
            a.message.id = `msg_long_${i}`;
            a.message.content = [{ type: 'text', text: `answer ${i}` }];
            parent = a.uuid;
            records.push(u, a);
        }
        add('long', sessionId, 'a long conversation', 'Older', rewrite(records, { sessionId, cwd, endAt: now - 50 * DAY }));
    }

    // Today, hostile: the first turn of the basic session with HTML, script and
    // javascript: links in the prompt and the reply.
    {
        const sessionId = '77777777-7777-4777-8777-777777777777';
        const text = hostileText(beacon);
        const all = readRecords('basic.jsonl');
        const firstTurnEnd = all.findIndex((r) => r.type === 'last-prompt');
        const records = all.slice(0, firstTurnEnd + 1);
        for (const r of records) {
            if (r.type === 'user' && typeof r.message?.content === 'string') {
                r.message.content = text.prompt;
            }
            if (r.type === 'assistant') {
                r.message.content = [{ type: 'text', text: text.reply }];
            }
            if (r.type === 'queue-operation' && typeof r.content === 'string') {
                r.content = text.prompt;
            }
            if (r.type === 'last-prompt') {
                r.lastPrompt = text.prompt;
            }
        }
        add('hostile', sessionId, text.prompt, 'Today', rewrite(records, { sessionId, cwd, endAt: today(60) }));
    }

    // Waiting for you: the agent ends its turn asking the user a question.
    {
        const sessionId = '88888888-8888-4888-8888-888888888888';
        const all = readRecords('tool.jsonl');
        const toolUse = all.findIndex((r) => r.type === 'assistant' && r.message?.content?.[0]?.type === 'tool_use');
        const records = all.slice(0, toolUse + 1);
        for (const r of records) {
            if (r.type === 'user' && typeof r.message?.content === 'string') {
                r.message.content = 'pick a database for the cache';
            }
            if (r.type === 'queue-operation' && typeof r.content === 'string') {
                r.content = 'pick a database for the cache';
            }
            if (r.type === 'assistant' && r.message.content[0].type === 'text') {
                r.message.content[0].text = 'I need one decision from you first.';
            }
        }
        const use = records[toolUse].message.content[0];
        use.name = 'AskUserQuestion';
        use.input = {
            questions: [{ question: 'Which database should the cache use?', header: 'Database', multiSelect: false,
                options: [{ label: 'Redis', description: 'in memory' }, { label: 'SQLite', description: 'a file' }] }],
        };
        const endAt = today(30);
        add('waiting', sessionId, 'pick a database for the cache', 'Waiting for you', rewrite(records, { sessionId, cwd, endAt }));
        // Only a turn the server ran can end "waiting for input" (the agent's final result
        // says so); the project store keeps that outcome. Write the entry such a turn leaves.
        const started = new Date(endAt - 2000).toISOString();
        const ended = new Date(endAt).toISOString();
        writeStoreEntry(cwd, {
            version: 1,
            sessionId,
            agent: 'claude',
            cwd,
            skill: null,
            title: 'pick a database for the cache',
            status: 'waiting_for_input',
            createdAt: started,
            updatedAt: ended,
            transcriptPath: path.join(claudeDir, 'projects', encodeProject(cwd), `${sessionId}.jsonl`),
            pid: null,
            lastError: null,
            parentSessionId: null,
            turns: [{ prompt: 'pick a database for the cache', startedAt: started, endedAt: ended, exitCode: 0, status: 'waiting_for_input', costUsd: 0.0421 }],
        });
    }
    return sessions;
}

/** Writes a session's entry in the project store (`<cwd>/.threadline/workflows/<id>/metadata.json`). */
function writeStoreEntry(cwd, meta) {
    const store = path.join(cwd, '.threadline');
    fs.mkdirSync(path.join(store, 'workflows', meta.sessionId), { recursive: true });
    fs.writeFileSync(path.join(store, '.gitignore'), '*\n');
    fs.writeFileSync(path.join(store, 'workflows', meta.sessionId, 'metadata.json'), JSON.stringify(meta, null, 2));
}

function fakeUuid(n) {
    return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

function startOfDay(t) {
    const d = new Date(t);
    d.setHours(0, 0, 0, 0);
    return d.getTime();
}
