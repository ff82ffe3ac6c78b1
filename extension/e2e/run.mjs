#!/usr/bin/env node
// Runs the end-to-end tests: real VS Code (code-server 4.100.3) in headless Chromium, the
// extension, the real Threadline server and the fake agents of tests/agents (claude; codex
// and gemini in agents.test.mjs).
//
//   node e2e/run.mjs [--vsix FILE] [test file ...]
//
// --vsix FILE  test the packaged extension (installed with code-server --install-extension)
//              instead of this folder.
// Environment: THREADLINE_SERVER (default <repo>/.venv/bin/threadline),
// THREADLINE_FAKE_CLAUDE (default <repo>/tests/agents/bin/claude), THREADLINE_E2E_CHROMIUM,
// THREADLINE_E2E_CACHE, THREADLINE_E2E_KEEP=1 (keep the throwaway folders).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR, EXT_DIR, locate } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const env = { ...process.env };

const vsixAt = args.indexOf('--vsix');
if (vsixAt >= 0) {
    const vsix = path.resolve(args[vsixAt + 1] ?? '');
    args.splice(vsixAt, 2);
    if (!fs.existsSync(vsix)) {
        console.error(`e2e: no such VSIX: ${vsix}`);
        process.exit(2);
    }
    // Install it into a fresh extensions folder with code-server itself.
    const extDir = path.join(CACHE_DIR, 'vsix-extensions');
    fs.rmSync(extDir, { recursive: true, force: true });
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-vsix-'));
    const cs = path.join(CACHE_DIR, 'code-server', 'node_modules', '.bin', 'code-server');
    const res = spawnSync(cs, ['--extensions-dir', extDir, '--user-data-dir', path.join(scratch, 'data'), '--install-extension', vsix], {
        env: { ...env, XDG_CONFIG_HOME: path.join(scratch, 'config'), XDG_DATA_HOME: path.join(scratch, 'share') },
        encoding: 'utf8',
    });
    fs.rmSync(scratch, { recursive: true, force: true });
    const installed = fs.existsSync(extDir) ? fs.readdirSync(extDir).find((d) => d.startsWith('threadline.threadline-')) : undefined;
    if (res.status !== 0 || !installed) {
        console.error(`e2e: installing ${vsix} failed:\n${res.stdout}\n${res.stderr}`);
        process.exit(2);
    }
    env.THREADLINE_E2E_EXTENSION = path.join(extDir, installed);
    console.log(`e2e: testing the packaged extension ${path.basename(vsix)} (${installed})`);
}

if (env.THREADLINE_E2E_EXTENSION) {
    process.env.THREADLINE_E2E_EXTENSION = env.THREADLINE_E2E_EXTENSION;
}
// The agent is checked by the tests that start workflows.
const { problems } = locate({ requireAgent: false });
if (problems.length > 0) {
    console.error(`e2e: cannot run:\n  ${problems.join('\n  ')}`);
    process.exit(2);
}

const files =
    args.length > 0
        ? args.map((f) => path.resolve(f))
        : fs
              .readdirSync(path.join(here, 'tests'))
              .filter((f) => f.endsWith('.test.mjs'))
              .sort()
              .map((f) => path.join(here, 'tests', f));

const started = Date.now();
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    env,
    cwd: EXT_DIR,
});
child.on('exit', (code, signal) => {
    console.log(`e2e: total wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
    process.exit(code ?? (signal ? 1 : 0));
});
