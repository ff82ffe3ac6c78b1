import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandVariables, formatCommand, resolveSettings, type ExpansionContext } from '../../settings';

const ctx: ExpansionContext = { userHome: '/home/u', workspaceFolder: '/ws', env: { VENV: '/opt/venv' } };

test('defaults: threadline serve, no env, empty agent options', () => {
    const r = resolveSettings({}, ctx);
    assert.deepEqual(r.command, ['threadline', 'serve']);
    assert.deepEqual(r.env, {});
    assert.deepEqual(r.initializationOptions, { agents: { claude: {}, codex: {}, gemini: {} } });
    assert.deepEqual(r.warnings, []);
});

test('everything set: initializationOptions per protocol §1', () => {
    const r = resolveSettings(
        {
            serverCommand: ['${env:VENV}/bin/threadline', 'serve', '-v'],
            serverEnv: { A: '1', N: 2 },
            claudeConfigDir: '~/claude-home',
            claudeCommand: ['${workspaceFolder}/bin/claude'],
            claudeEnv: { FAKE: 'yes' },
            codexCommand: ['/opt/codex/bin/codex'],
            codexEnv: { OPENAI_BASE_URL: 'http://127.0.0.1:9' },
            codexHome: '${userHome}/.codex-work',
            geminiCommand: ['node', '~/gemini/cli.js'],
            geminiHome: '~',
        },
        ctx,
    );
    assert.deepEqual(r.command, ['/opt/venv/bin/threadline', 'serve', '-v']);
    assert.deepEqual(r.env, { A: '1', N: '2' });
    assert.deepEqual(r.initializationOptions, {
        claudeConfigDir: '/home/u/claude-home',
        agents: {
            claude: { command: ['/ws/bin/claude'], env: { FAKE: 'yes' } },
            codex: { command: ['/opt/codex/bin/codex'], env: { OPENAI_BASE_URL: 'http://127.0.0.1:9' }, home: '/home/u/.codex-work' },
            gemini: { command: ['node', '/home/u/gemini/cli.js'], home: '/home/u' },
        },
    });
});

test('bad values fall back with a warning each', () => {
    const r = resolveSettings(
        { serverCommand: [], serverEnv: 'x', claudeCommand: 'claude', claudeConfigDir: 5, claudeEnv: { X: {} }, codexHome: ['x'], geminiCommand: [''] },
        ctx,
    );
    assert.deepEqual(r.command, ['threadline', 'serve']);
    assert.deepEqual(r.initializationOptions, { agents: { claude: {}, codex: {}, gemini: {} } });
    assert.equal(r.warnings.length, 7);
    assert.ok(r.warnings.some((w) => w.startsWith('threadline.codex.home ')), r.warnings.join('\n'));
});

test('a blank configDir is left to the server default', () => {
    assert.equal(resolveSettings({ claudeConfigDir: '  ' }, ctx).initializationOptions.claudeConfigDir, undefined);
    assert.equal(resolveSettings({ codexHome: '' }, ctx).initializationOptions.agents.codex?.home, undefined);
});

test('expandVariables', () => {
    assert.equal(expandVariables('~', ctx), '/home/u');
    assert.equal(expandVariables('~/x', ctx), '/home/u/x');
    assert.equal(expandVariables('a~/x', ctx), 'a~/x');
    assert.equal(expandVariables('${userHome}/y', ctx), '/home/u/y');
    assert.equal(expandVariables('${env:MISSING}z', ctx), 'z');
    assert.equal(expandVariables('${unknown}', ctx), '${unknown}');
    assert.equal(expandVariables('${workspaceFolder}', { ...ctx, workspaceFolder: undefined }), '${workspaceFolder}');
});

test('formatCommand quotes what needs quoting', () => {
    assert.equal(formatCommand(['threadline', 'serve']), 'threadline serve');
    assert.equal(formatCommand(['/a b/threadline', '--x=1']), '"/a b/threadline" --x=1');
});
