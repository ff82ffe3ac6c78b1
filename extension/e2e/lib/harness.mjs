// Starts a throwaway VS Code (code-server on 127.0.0.1, in its own process group) with the
// Threadline extension, opens it in Debian's Chromium through playwright-core, and tears
// everything down again. Used by e2e/tests/*.test.mjs.
/* global window, document, MutationObserver, getComputedStyle -- used inside page.evaluate and init scripts, which run in the browser */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const EXT_DIR = path.resolve(here, '..', '..');
export const REPO_DIR = path.resolve(EXT_DIR, '..');
export const CACHE_DIR = process.env.THREADLINE_E2E_CACHE ?? path.join(EXT_DIR, '.cache', 'e2e');
export const SHOT_DIR = process.env.THREADLINE_E2E_SHOTS ?? path.join(EXT_DIR, 'e2e', 'screenshots');
const CODE_SERVER = path.join(CACHE_DIR, 'code-server', 'node_modules', '.bin', 'code-server');

/** Generous upper bound for any single UI wait (the machine may be slow and busy). */
export const TIMEOUT = Number(process.env.THREADLINE_E2E_TIMEOUT ?? 30_000);

function which(cmd) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
        const p = path.join(dir, cmd);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // next
        }
    }
    return undefined;
}

/** The programs the tests need, from the environment or their usual places in the repo. */
export function locate({ requireAgent = true } = {}) {
    const chromiumPath = process.env.THREADLINE_E2E_CHROMIUM ?? which('chromium') ?? which('chromium-browser');
    const server = process.env.THREADLINE_SERVER ?? path.join(REPO_DIR, '.venv', 'bin', 'threadline');
    const fakeClaude = process.env.THREADLINE_FAKE_CLAUDE ?? path.join(REPO_DIR, 'tests', 'agents', 'bin', 'claude');
    const extension = process.env.THREADLINE_E2E_EXTENSION ?? EXT_DIR;
    const problems = [];
    if (!fs.existsSync(CODE_SERVER)) {
        problems.push(`code-server is not installed (run: bash e2e/install.sh) — looked for ${CODE_SERVER}`);
    }
    if (!chromiumPath) {
        problems.push('chromium is not on PATH (apt-get install chromium, or set THREADLINE_E2E_CHROMIUM)');
    }
    if (!fs.existsSync(server)) {
        problems.push(`the Threadline server is missing: ${server} (set THREADLINE_SERVER)`);
    }
    if (requireAgent && !fs.existsSync(fakeClaude)) {
        problems.push(`the fake claude agent is missing: ${fakeClaude} (set THREADLINE_FAKE_CLAUDE)`);
    }
    for (const f of ['dist/extension.js', 'media/transcript.js', 'package.json']) {
        if (!fs.existsSync(path.join(extension, f))) {
            problems.push(`the extension is not built: ${path.join(extension, f)} is missing (npm run build)`);
        }
    }
    return { chromiumPath, server, fakeClaude, extension, problems };
}

async function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/** Polls an async condition until it is truthy (for things no selector can express). */
export async function waitFor(what, fn, timeout = TIMEOUT, interval = 100) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) {
                return last;
            }
        } catch (error) {
            last = error;
        }
        if (Date.now() > end) {
            throw new Error(`timed out after ${timeout} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
        }
        await new Promise((r) => setTimeout(r, interval));
    }
}

/** A loopback HTTP server that records every request: hostile content must never reach it. */
/** Run one test body; on failure print the workbench's diagnostics and save a screenshot first. */
export async function withDiagnostics(vs, fn) {
    try {
        await fn();
    } catch (error) {
        console.error(vs.diagnostics());
        await vs.screenshot(`failure-${Date.now()}.tmp.png`).catch(() => undefined);
        throw error;
    }
}

export async function startBeacon() {
    const hits = [];
    const server = http.createServer((req, res) => {
        hits.push(req.url);
        res.writeHead(204, { 'access-control-allow-origin': '*' });
        res.end();
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    return { url: `http://127.0.0.1:${port}/pwned`, hits, close: () => new Promise((r) => server.close(r)) };
}

/** User settings: a quiet, offline workbench with no first-run UI. */
function userSettings() {
    return {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'workbench.colorTheme': 'Default Dark Modern',
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'extensions.ignoreRecommendations': true,
        'security.workspace.trust.enabled': false,
        'window.restoreWindows': 'none',
        'git.enabled': false,
        'git.autoRepositoryDetection': false,
        'npm.autoDetect': 'off',
        'chat.commandCenter.enabled': false,
        'chat.disableAIFeatures': true,
        'accessibility.signals.sounds.volume': 0,
        // The protocol trace lands in the Threadline log, which the tests read.
        'threadline.trace.server': 'verbose',
    };
}

/**
 * The Threadline settings: the real server over a fixture Claude home, with the fake agent.
 * They are machine-scoped (they name programs on the machine the extension host runs on),
 * and code-server is a remote window, so they go into the remote ("Machine") settings, as
 * a user of code-server or Remote-SSH would put them.
 */
function machineSettings({ server, fakeClaude, claudeDir, serverLog, agentEnv, serverCommand, settings }) {
    return {
        'threadline.server.command': serverCommand ?? [server, '-vv', '--log-file', serverLog, 'serve'],
        'threadline.claude.configDir': claudeDir,
        'threadline.claude.command': [fakeClaude],
        'threadline.claude.env': agentEnv ?? {},
        // Only the (fake) Claude agent can run here, whatever is on PATH, so Start Workflow
        // never asks which agent; the picker itself is unit-tested.
        'threadline.codex.command': ['/nonexistent/threadline-e2e/codex'],
        'threadline.gemini.command': ['/nonexistent/threadline-e2e/gemini'],
        ...settings,
    };
}

/** The fake `codex` and `gemini` of tests/agents/bin, each with its own home under `root`. */
export function fakeAgentSettings(root) {
    const codexHome = path.join(root, 'codex-home');
    const geminiHome = path.join(root, 'gemini-home');
    fs.mkdirSync(codexHome, { recursive: true });
    fs.mkdirSync(geminiHome, { recursive: true });
    const bin = path.join(REPO_DIR, 'tests', 'agents', 'bin');
    return {
        codexHome,
        geminiHome,
        settings: {
            'threadline.codex.command': [path.join(bin, 'codex')],
            'threadline.codex.home': codexHome,
            'threadline.gemini.command': [path.join(bin, 'gemini')],
            'threadline.gemini.home': geminiHome,
            // What a headless Gemini CLI needs: a trusted folder and a key (the fake checks both).
            'threadline.gemini.env': { GEMINI_CLI_TRUST_WORKSPACE: 'true', GEMINI_API_KEY: 'e2e-fake-key' },
        },
    };
}

/**
 * Starts code-server + Chromium on a fresh workspace. `prepare({workspace, claudeDir})` may
 * write fixtures before VS Code starts. Returns the page and helpers; call `close()` after.
 */
export async function launch({ name, prepare, agentEnv, serverCommand, settings, requireAgent = true } = {}) {
    const tools = locate({ requireAgent });
    if (tools.problems.length > 0) {
        throw new Error(`e2e prerequisites missing:\n  ${tools.problems.join('\n  ')}`);
    }
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `threadline-e2e-${name ?? 'run'}-`));
    const workspace = path.join(root, 'workspace');
    const claudeDir = path.join(root, 'claude-home');
    const dataDir = path.join(root, 'code-server');
    const userDataDir = path.join(dataDir, 'user-data');
    const extensionsDir = path.join(dataDir, 'extensions');
    const xdg = path.join(root, 'xdg');
    const serverLog = path.join(root, 'threadline-server.log');
    for (const d of [workspace, claudeDir, path.join(userDataDir, 'User'), path.join(userDataDir, 'Machine'), extensionsDir]) {
        fs.mkdirSync(d, { recursive: true });
    }
    for (const d of ['config', 'data', 'cache', 'state', 'runtime']) {
        fs.mkdirSync(path.join(xdg, d), { recursive: true, mode: 0o700 });
    }
    fs.writeFileSync(path.join(workspace, 'README.md'), '# e2e workspace\n');
    const extra = prepare ? await prepare({ root, workspace, claudeDir }) : undefined;
    // Extra Threadline settings: an object, or a function of the throw-away folders.
    const moreSettings = typeof settings === 'function' ? settings({ root, workspace, claudeDir }) : settings;

    const pkg = JSON.parse(fs.readFileSync(path.join(tools.extension, 'package.json'), 'utf8'));
    fs.symlinkSync(tools.extension, path.join(extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`), 'dir');
    fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(userSettings(), null, 2));
    fs.writeFileSync(
        path.join(userDataDir, 'Machine', 'settings.json'),
        JSON.stringify(machineSettings({ ...tools, claudeDir, serverLog, agentEnv, serverCommand, settings: moreSettings }), null, 2),
    );

    const port = await freePort();
    const csLog = fs.openSync(path.join(root, 'code-server.log'), 'a');
    const env = {
        ...process.env,
        XDG_CONFIG_HOME: path.join(xdg, 'config'),
        XDG_DATA_HOME: path.join(xdg, 'data'),
        XDG_CACHE_HOME: path.join(xdg, 'cache'),
        XDG_STATE_HOME: path.join(xdg, 'state'),
        XDG_RUNTIME_DIR: path.join(xdg, 'runtime'),
        // A dead loopback gallery: the workbench never calls a marketplace.
        EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/item' }),
        CLAUDE_CONFIG_DIR: claudeDir,
    };
    delete env.VSCODE_IPC_HOOK_CLI;
    // detached: the child calls setsid(), so it leads a new process group that close() kills
    // as a whole (code-server, its file watcher, the extension host, the Threadline server and
    // any agent it started).
    const cs = spawn(
        CODE_SERVER,
        [
            '--bind-addr', `127.0.0.1:${port}`,
            '--auth', 'none',
            '--disable-telemetry',
            '--disable-update-check',
            '--disable-workspace-trust',
            '--disable-getting-started-override',
            '--disable-file-downloads',
            '--user-data-dir', userDataDir,
            '--extensions-dir', extensionsDir,
            workspace,
        ],
        { detached: true, stdio: ['ignore', csLog, csLog], env, cwd: root },
    );
    fs.closeSync(csLog);
    const pgid = cs.pid;
    let exited = false;
    cs.on('exit', () => {
        exited = true;
    });

    const base = `http://127.0.0.1:${port}`;
    const killGroup = async () => {
        for (const [signal, wait] of [['SIGTERM', 3000], ['SIGKILL', 2000]]) {
            try {
                process.kill(-pgid, signal);
            } catch {
                return; // the group is gone
            }
            const end = Date.now() + wait;
            while (Date.now() < end) {
                try {
                    process.kill(-pgid, 0);
                } catch {
                    return;
                }
                await new Promise((r) => setTimeout(r, 50));
            }
        }
    };

    let ctx;
    try {
        await waitFor('code-server /healthz', async () => {
            if (exited) {
                throw new Error(`code-server exited; see ${path.join(root, 'code-server.log')}`);
            }
            const res = await fetch(`${base}/healthz`).catch(() => undefined);
            return res?.ok;
        }, 30_000, 100);

        ctx = await chromium.launchPersistentContext(path.join(root, 'chromium-profile'), {
            executablePath: tools.chromiumPath,
            headless: true,
            viewport: { width: 1440, height: 900 },
            args: [
                '--no-sandbox',
                '--disable-gpu',
                '--disable-quic',
                '--no-first-run',
                '--disable-background-networking',
                '--disable-component-update',
                '--disable-sync',
                '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
            ],
            env: { ...env, HOME: process.env.HOME },
        });
    } catch (error) {
        await ctx?.close().catch(() => undefined);
        await killGroup();
        throw error;
    }

    // Only loopback traffic; record every request for the tests' "nothing was fetched" checks.
    const requests = [];
    const blocked = [];
    await ctx.route('**/*', (route) => {
        const url = route.request().url();
        let host = '';
        try {
            host = new URL(url).hostname;
        } catch {
            // data:, blob: and the like
        }
        if (host === '127.0.0.1' || !/^https?:/.test(url)) {
            return route.continue();
        }
        blocked.push(url);
        return route.abort('blockedbyclient');
    });
    ctx.on('request', (req) => requests.push(req.url()));
    const consoleLines = [];
    // Every text the Sessions view shows as its message, from the first paint on, so that a
    // test can tell what a user saw while the first list loaded (it may last only 100 ms).
    await ctx.addInitScript(() => {
        const seen = [];
        window.__threadlineViewMessages = seen;
        const record = () => {
            // Only what is on screen: a hidden message element keeps its old text.
            for (const el of document.querySelectorAll('.pane-body .message, .pane-body .welcome-view-content')) {
                const shown = el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
                const text = shown ? (el.textContent ?? '').trim() : '';
                if (text && seen[seen.length - 1] !== text) {
                    seen.push(text);
                }
            }
        };
        new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));

    await page.goto(`${base}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: TIMEOUT });

    const vscode = new Workbench(page);
    return {
        root,
        workspace,
        claudeDir,
        serverLog,
        page,
        ctx,
        vscode,
        requests,
        blocked,
        consoleLines,
        extra,
        /** Saves a screenshot of the page (or of one locator) under e2e/screenshots/. */
        async screenshot(file, locator) {
            fs.mkdirSync(SHOT_DIR, { recursive: true });
            const target = path.join(SHOT_DIR, file);
            if (locator) {
                await locator.screenshot({ path: target });
            } else {
                await page.screenshot({ path: target });
            }
            return target;
        },
        /** Rewrites the Threadline (machine) settings, as a user editing them would. */
        setThreadlineSettings(overrides = {}) {
            const file = path.join(userDataDir, 'Machine', 'settings.json');
            const settings = { ...machineSettings({ ...tools, claudeDir, serverLog, agentEnv, settings: moreSettings }), ...overrides };
            fs.writeFileSync(file, JSON.stringify(settings, null, 2));
        },
        /** The text of the extension's "Threadline" log (with the protocol trace). */
        threadlineLog() {
            const logs = path.join(userDataDir, 'logs');
            const found = [];
            const walk = (dir) => {
                for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
                    const p = path.join(dir, e.name);
                    if (e.isDirectory()) {
                        walk(p);
                    } else if (e.name === 'Threadline.log') {
                        found.push(p);
                    }
                }
            };
            try {
                walk(logs);
            } catch {
                return '';
            }
            return found.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
        },
        /** Logs worth reading when a test failed. */
        diagnostics() {
            const tail = (file, n = 60) => {
                try {
                    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
                } catch {
                    return '(none)';
                }
            };
            const exthost = (() => {
                try {
                    return execFileSync('sh', ['-c', `find "${userDataDir}/logs" -name 'exthost.log' -o -name '*Threadline*.log' | xargs -r tail -n 80`], { encoding: 'utf8' });
                } catch {
                    return '(none)';
                }
            })();
            return [
                `--- threadline server log (${serverLog})`, tail(serverLog),
                '--- extension host / Threadline output', exthost,
                '--- code-server', tail(path.join(root, 'code-server.log'), 30),
                '--- browser console', consoleLines.slice(-40).join('\n'),
                '--- blocked non-loopback requests', blocked.join('\n') || '(none)',
            ].join('\n');
        },
        async close({ keep = false } = {}) {
            await ctx.close().catch(() => undefined);
            await killGroup();
            if (!keep && !process.env.THREADLINE_E2E_KEEP) {
                fs.rmSync(root, { recursive: true, force: true });
            }
        },
    };
}

/** Workbench helpers: activity bar, tree rows, command palette, quick input, webviews. */
export class Workbench {
    constructor(page) {
        this.page = page;
    }

    /** The Sessions view pane of the Threadline container. */
    get sessionsPane() {
        return this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: /sessions/i }) });
    }

    /** The rows of the Sessions tree, in screen order. */
    get rows() {
        return this.sessionsPane.locator('.monaco-list-row');
    }

    row(text) {
        return this.rows.filter({ hasText: text });
    }

    async openThreadline() {
        const icon = this.page.locator('.activitybar [aria-label^="Threadline"]').first();
        await icon.waitFor({ timeout: TIMEOUT });
        if ((await icon.getAttribute('aria-expanded')) !== 'true' && !(await icon.locator('..').evaluate((el) => el.classList.contains('checked')).catch(() => false))) {
            await icon.click();
        }
        await this.sessionsPane.waitFor({ timeout: TIMEOUT });
        // Move the pointer off the activity bar so its hover does not cover the tree.
        await this.page.mouse.move(900, 500);
        await this.page.locator('.workbench-hover-container, .monaco-hover:not(.hidden)').first()
            .waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
    }

    /** The texts (label + description) of the visible tree rows, top to bottom. */
    async rowTexts() {
        return this.rows.evaluateAll((rows) =>
            rows
                .map((r) => ({ top: r.getBoundingClientRect().top, text: (r.textContent ?? '').replace(/\s+/g, ' ').trim() }))
                .sort((a, b) => a.top - b.top)
                .map((r) => r.text),
        );
    }

    /** The messages the Sessions view has shown so far, in order (see launch()). */
    async viewMessages() {
        return this.page.evaluate(() => [...(window.__threadlineViewMessages ?? [])]);
    }

    /** The file name of a tree row's icon when it is an image (an agent icon), else null. */
    async rowImageIcon(row) {
        return row.locator('.custom-view-tree-node-item-icon').first().evaluate((el) => {
            const m = /url\(["']?([^"')]*)/.exec(getComputedStyle(el).backgroundImage);
            const file = m ? /([\w.-]+\.(?:svg|png))(?:[?&#]|$)/.exec(decodeURIComponent(m[1])) : null;
            return file ? file[1] : null;
        });
    }

    /** The labels of the editor tabs, left to right. */
    async tabLabels() {
        return this.page.locator('.editor-group-container .tabs-container .tab').evaluateAll((tabs) =>
            tabs.map((t) => (t.getAttribute('aria-label') ?? t.textContent ?? '').replace(/\s+/g, ' ').trim()),
        );
    }

    /** Runs a command from the palette by its title. */
    async runCommand(title) {
        // Focus the workbench itself (not a webview frame) before the keybinding.
        await this.page.locator('.part.sidebar .composite.title').first().click();
        await this.page.keyboard.press('F1');
        const input = this.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ timeout: TIMEOUT });
        await input.fill(`>${title}`);
        const item = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first();
        await item.waitFor({ timeout: TIMEOUT });
        await input.press('Enter');
    }

    /**
     * Waits for the quick input whose title contains `title`, types `text` and accepts it.
     * Waiting for the title matters when one input box follows another.
     */
    async answerInput(title, text) {
        const widget = this.page.locator('.quick-input-widget');
        const exact = new RegExp(`^\\s*${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
        const titleEl = widget.locator('.quick-input-title', { hasText: exact });
        await titleEl.waitFor({ timeout: TIMEOUT });
        const input = widget.locator('.quick-input-box input');
        await input.fill(text);
        await input.press('Enter');
        await titleEl.waitFor({ state: 'hidden', timeout: TIMEOUT });
    }

    /**
     * Waits for the quick pick whose title is `title`, filters it by `label` and accepts the
     * item with that label. Returns the labels and descriptions the pick offered first.
     */
    async pick(title, label) {
        const widget = this.page.locator('.quick-input-widget');
        const exact = new RegExp(`^\\s*${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
        const titleEl = widget.locator('.quick-input-title', { hasText: exact });
        await titleEl.waitFor({ timeout: TIMEOUT });
        const rows = widget.locator('.quick-input-list .monaco-list-row');
        await rows.first().waitFor({ timeout: TIMEOUT });
        const offered = await rows.evaluateAll((els) =>
            els.map((e) => ({
                label: (e.querySelector('.label-name')?.textContent ?? '').trim(),
                description: (e.querySelector('.label-description')?.textContent ?? '').trim(),
            })),
        );
        const input = widget.locator('.quick-input-box input');
        await input.fill(label);
        await widget.locator('.quick-input-list .monaco-list-row.focused', { hasText: label }).waitFor({ timeout: TIMEOUT });
        await input.press('Enter');
        await titleEl.waitFor({ state: 'hidden', timeout: TIMEOUT });
        return offered;
    }

    /**
     * Runs an entry of a tree row's context menu. The menu ignores a mouse-up that comes
     * right after it opened, so the item is chosen with the keyboard once highlighted.
     */
    async contextMenu(row, label) {
        await row.click({ button: 'right' });
        const item = this.page.locator('.context-view .action-item', { hasText: label }).first();
        await item.hover();
        await this.page.locator('.context-view .action-item.focused', { hasText: label }).waitFor({ timeout: TIMEOUT });
        await this.page.keyboard.press('Enter');
        await this.page.locator('.context-view .monaco-menu').waitFor({ state: 'detached', timeout: TIMEOUT });
    }

    /** The content frame of the visible webview (nested iframes in VS Code web). */
    webview() {
        return this.page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('#active-frame');
    }

    /** Notifications toasts containing a text. */
    notification(text) {
        return this.page.locator('.notifications-toasts .notification-toast', { hasText: text });
    }
}
