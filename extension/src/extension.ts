/**
 * Entry point: builds the log, the server client, the session store, the tree, the
 * status bar and the commands, and wires them together.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as vscode from 'vscode';
import { describeError, ThreadlineClient } from './client';
import { Commands, ContextKeys, TRANSCRIPT_VIEW_TYPE, Views } from './constants';
import { relativeTime, statusLabel } from './format';
import { compareSessions, sessionLabel } from './grouping';
import { createLog } from './log';
import type { SessionInfo } from './protocol';
import { SessionStore } from './sessionStore';
import { SessionTreeProvider, type TreeNode } from './sessionTree';
import { resolveSettings, type ResolvedSettings } from './settings';
import { ActiveSessionStatusBar } from './statusBar';
import { TranscriptPanel, type PanelDeps } from './transcriptPanel';

/** Most sessions listed per folder (pages of the maximum size until this). */
const MAX_SESSIONS_PER_FOLDER = 2000;

let client: ThreadlineClient | undefined;

/** What a session command can be called with. */
type SessionArg = TreeNode | SessionInfo | string | undefined;

function readSettings(): ResolvedSettings {
    const c = vscode.workspace.getConfiguration('threadline');
    return resolveSettings(
        {
            serverCommand: c.get('server.command'),
            serverEnv: c.get('server.env'),
            claudeConfigDir: c.get('claude.configDir'),
            claudeCommand: c.get('claude.command'),
            claudeEnv: c.get('claude.env'),
        },
        {
            userHome: os.homedir(),
            workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
            env: process.env,
        },
    );
}

function folderPaths(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

function withRealPaths(paths: string[]): string[] {
    const out = new Set(paths);
    for (const p of paths) {
        try {
            out.add(fs.realpathSync(p));
        } catch {
            // a folder that is gone: keep the path as given
        }
    }
    return [...out];
}

export function activate(context: vscode.ExtensionContext): void {
    const log = createLog();
    const store = new SessionStore();
    const threadline = new ThreadlineClient(log, readSettings);
    client = threadline;
    const tree = new SessionTreeProvider(store);
    const treeView = vscode.window.createTreeView<TreeNode>(Views.sessions, { treeDataProvider: tree });
    const statusBar = new ActiveSessionStatusBar(store);
    const deps: PanelDeps = { extensionUri: context.extensionUri, client: threadline, store, log };
    const notifiedWaiting = new Set<string>();
    let lastLoadError = '';

    const updateViewMessage = (): void => {
        if (threadline.serverState === 'failed') {
            treeView.message = 'The Threadline server is not running. Check the "threadline.server.command" setting, then run "Threadline: Restart Server".';
        } else if (threadline.serverState === 'starting') {
            treeView.message = 'Starting the Threadline server…';
        } else if (lastLoadError) {
            treeView.message = lastLoadError;
        } else if (tree.isEmpty && folderPaths().length > 0) {
            treeView.message = store.filter ? `No sessions match "${store.filter}".` : 'No agent sessions in this workspace yet.';
        } else {
            treeView.message = undefined;
        }
        treeView.description = store.filter ? `filter: ${store.filter}` : undefined;
    };

    const listFolder = async (cwd: string): Promise<SessionInfo[]> => {
        const sessions: SessionInfo[] = [];
        let cursor: string | undefined;
        do {
            const result = await threadline.request('session/list', {
                cwd,
                limit: 1000,
                ...(cursor ? { cursor } : {}),
                ...(store.filter ? { query: store.filter } : {}),
            });
            sessions.push(...(result.sessions ?? []));
            cursor = result.nextCursor ?? undefined;
        } while (cursor && sessions.length < MAX_SESSIONS_PER_FOLDER);
        return sessions;
    };

    const reload = async (): Promise<void> => {
        const folders = folderPaths();
        store.setFolders(withRealPaths(folders));
        if (!threadline.isRunning) {
            updateViewMessage();
            return;
        }
        const errors: string[] = [];
        const lists = await Promise.all(
            folders.map((cwd) =>
                listFolder(cwd).catch((error: unknown) => {
                    errors.push(`${cwd}: ${describeError(error)}`);
                    log.error(`session/list ${cwd}: ${describeError(error)}`);
                    return [] as SessionInfo[];
                }),
            ),
        );
        lastLoadError = errors.length > 0 ? `Could not list sessions: ${errors.join('; ')}` : '';
        store.replaceAll(lists);
        updateViewMessage();
    };

    const resolveSession = async (arg: SessionArg, placeHolder: string, filter?: (s: SessionInfo) => boolean): Promise<SessionInfo | undefined> => {
        if (typeof arg === 'string') {
            const known = store.get(arg);
            if (known) {
                return known;
            }
            try {
                return (await threadline.request('session/get', { sessionId: arg })).session;
            } catch (error) {
                void vscode.window.showErrorMessage(describeError(error));
                return undefined;
            }
        }
        if (arg && 'kind' in arg) {
            return arg.kind === 'session' ? (store.get(arg.session.sessionId) ?? arg.session) : undefined;
        }
        if (arg && 'sessionId' in arg) {
            return store.get(arg.sessionId) ?? arg;
        }
        const now = Date.now();
        const candidates = store.all().filter(filter ?? (() => true)).sort(compareSessions);
        if (candidates.length === 0) {
            void vscode.window.showInformationMessage('There is no matching session in this workspace.');
            return undefined;
        }
        const picked = await vscode.window.showQuickPick(
            candidates.map((s) => ({
                label: sessionLabel(s),
                description: `${statusLabel(s.status)} · ${relativeTime(s.updatedAt, now)}`,
                detail: s.sessionId,
                session: s,
            })),
            { placeHolder, matchOnDescription: true, matchOnDetail: true },
        );
        return picked?.session;
    };

    const pickFolder = async (): Promise<string | undefined> => {
        const folders = vscode.workspace.workspaceFolders?.filter((f) => f.uri.scheme === 'file') ?? [];
        if (folders.length === 0) {
            void vscode.window.showErrorMessage('Open a folder first: a workflow runs in a workspace folder.');
            return undefined;
        }
        if (folders.length === 1) {
            return folders[0].uri.fsPath;
        }
        const picked = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Folder to run the workflow in' });
        return picked?.uri.fsPath;
    };

    const openTranscript = (session: SessionInfo): void => {
        TranscriptPanel.show(deps, session.sessionId, session);
    };

    const revealInTree = (sessionId: string): void => {
        const node = tree.nodeOf(sessionId);
        if (node && treeView.visible) {
            treeView.reveal(node, { select: true, focus: false }).then(undefined, () => undefined);
        }
    };

    const askPrompt = (title: string, placeHolder: string): Thenable<string | undefined> =>
        vscode.window.showInputBox({
            title,
            prompt: placeHolder,
            placeHolder,
            ignoreFocusOut: true,
            validateInput: (v) => (v.trim() ? undefined : 'Enter a prompt.'),
        });

    const run = async <T>(what: string, job: () => Promise<T>): Promise<T | undefined> => {
        try {
            return await job();
        } catch (error) {
            log.error(`${what}: ${describeError(error)}`);
            void vscode.window.showErrorMessage(describeError(error));
            return undefined;
        }
    };

    interface StartArgs {
        prompt?: string;
        skill?: string;
        cwd?: string;
    }

    const commands: [string, (...args: never[]) => unknown][] = [
        [
            Commands.startWorkflow,
            async (args?: StartArgs) => {
                const cwd = args?.cwd ?? (await pickFolder());
                if (!cwd) {
                    return undefined;
                }
                const prompt = args?.prompt ?? (await askPrompt('Threadline: New Workflow — Prompt', 'What should the agent do?'));
                if (prompt === undefined || !prompt.trim()) {
                    return undefined;
                }
                let skill = args?.skill;
                if (args?.prompt === undefined) {
                    skill = await vscode.window.showInputBox({
                        title: 'Threadline: New Workflow — Skill (optional)',
                        prompt: 'Run the prompt with a skill (sent as /<skill> <prompt>). Leave empty for none.',
                        placeHolder: 'Skill name, or empty for none',
                        ignoreFocusOut: true,
                        validateInput: (v) => (/^[\w.:-]*$/.test(v.trim()) ? undefined : 'A skill name has no spaces or slashes.'),
                    });
                    if (skill === undefined) {
                        return undefined;
                    }
                }
                skill = skill?.trim() || undefined;
                const result = await run('workflow/start', () =>
                    threadline.request('workflow/start', { cwd, prompt, ...(skill ? { skill } : {}) }),
                );
                if (result) {
                    store.upsert(result.session);
                    openTranscript(result.session);
                    revealInTree(result.sessionId);
                    updateViewMessage();
                }
                return result?.sessionId;
            },
        ],
        [
            Commands.openTranscript,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Session to open');
                if (s) {
                    openTranscript(s);
                }
            },
        ],
        [
            Commands.resumeSession,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Session to resume', (x) => x.status !== 'running');
                if (!s) {
                    return;
                }
                const prompt = await askPrompt(`Resume: ${sessionLabel(s)}`, 'Follow-up prompt');
                if (!prompt) {
                    return;
                }
                const result = await run('session/resume', () => threadline.request('session/resume', { sessionId: s.sessionId, prompt }));
                if (result) {
                    store.upsert(result.session);
                    openTranscript(result.session);
                }
            },
        ],
        [
            Commands.forkSession,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Session to fork', (x) => x.status !== 'running');
                if (!s) {
                    return;
                }
                const prompt = await askPrompt(`Fork: ${sessionLabel(s)}`, 'Prompt for the new branch of this session');
                if (!prompt) {
                    return;
                }
                const result = await run('session/resume (fork)', () =>
                    threadline.request('session/resume', { sessionId: s.sessionId, prompt, fork: true }),
                );
                if (result) {
                    store.upsert(result.session);
                    openTranscript(result.session);
                    revealInTree(result.sessionId);
                }
            },
        ],
        [
            Commands.setActiveSession,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Session to make active');
                if (!s) {
                    return;
                }
                const result = await run('session/activate', () =>
                    threadline.request('session/activate', { cwd: s.cwd, sessionId: s.sessionId }),
                );
                if (result) {
                    store.setActive(s.cwd, result.activeSessionId ?? null);
                }
            },
        ],
        [
            Commands.clearActiveSession,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Active session to clear', (x) => x.active);
                if (!s) {
                    return;
                }
                const result = await run('session/activate', () => threadline.request('session/activate', { cwd: s.cwd, sessionId: null }));
                if (result) {
                    store.setActive(s.cwd, result.activeSessionId ?? null);
                }
            },
        ],
        [
            Commands.cancelWorkflow,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Running session to cancel', (x) => x.status === 'running');
                if (!s) {
                    return;
                }
                const result = await run('workflow/cancel', () => threadline.request('workflow/cancel', { sessionId: s.sessionId }));
                if (result) {
                    store.upsert(result.session);
                }
            },
        ],
        [
            Commands.copySessionId,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Session whose id to copy');
                if (s) {
                    await vscode.env.clipboard.writeText(s.sessionId);
                    vscode.window.setStatusBarMessage(`Threadline: copied ${s.sessionId}`, 3000);
                }
            },
        ],
        [
            Commands.revealTranscript,
            async (arg: SessionArg) => {
                const s = await resolveSession(arg, 'Session whose transcript file to open');
                if (!s) {
                    return;
                }
                if (!s.transcriptPath) {
                    void vscode.window.showInformationMessage('The agent has not written a transcript for this session yet.');
                    return;
                }
                await run('open transcript file', async () => {
                    await vscode.window.showTextDocument(vscode.Uri.file(s.transcriptPath as string), { preview: true });
                });
            },
        ],
        [Commands.refresh, () => reload()],
        [
            Commands.filterSessions,
            async (text?: string) => {
                const value =
                    typeof text === 'string'
                        ? text
                        : await vscode.window.showInputBox({
                              title: 'Threadline: Filter Sessions',
                              prompt: 'Show the sessions whose title or messages contain this text. Leave empty to show all.',
                              value: store.filter,
                          });
                if (value === undefined) {
                    return;
                }
                store.setFilter(value);
                void vscode.commands.executeCommand('setContext', ContextKeys.filtered, Boolean(store.filter));
                await reload();
            },
        ],
        [
            Commands.clearFilter,
            async () => {
                store.setFilter('');
                void vscode.commands.executeCommand('setContext', ContextKeys.filtered, false);
                await reload();
            },
        ],
        [Commands.restartServer, () => threadline.restart()],
        [Commands.showLog, () => log.show(true)],
    ];
    for (const [id, handler] of commands) {
        context.subscriptions.push(vscode.commands.registerCommand(id, handler as (...args: unknown[]) => unknown));
    }

    context.subscriptions.push(
        log,
        treeView,
        tree,
        statusBar,
        { dispose: () => TranscriptPanel.disposeAll() },
        vscode.window.registerWebviewPanelSerializer(TRANSCRIPT_VIEW_TYPE, {
            deserializeWebviewPanel: async (panel, state) => TranscriptPanel.revive(deps, panel, state),
        }),
        threadline.onNotification('session/detected', (p) => {
            if (p?.session) {
                store.upsert(p.session);
            }
        }),
        threadline.onNotification('session/updated', (p) => {
            if (p?.session) {
                store.upsert(p.session);
            }
        }),
        store.onDidChangeSession(({ session, previous }) => {
            if (session.status !== 'waiting_for_input') {
                notifiedWaiting.delete(session.sessionId);
                return;
            }
            // Only a seen transition: a session that was already waiting when it was first
            // listed (or first reported) is in the tree's "Waiting for you" group instead.
            if (!previous || previous.status === 'waiting_for_input' || notifiedWaiting.has(session.sessionId)) {
                return;
            }
            if (!store.belongs(session) && !TranscriptPanel.get(session.sessionId)) {
                return;
            }
            if (!vscode.workspace.getConfiguration('threadline').get<boolean>('notifications.waitingForInput', true)) {
                return;
            }
            notifiedWaiting.add(session.sessionId);
            void vscode.window
                .showInformationMessage(`Threadline: "${sessionLabel(session)}" is waiting for you.`, 'Open')
                .then((choice) => {
                    if (choice === 'Open') {
                        openTranscript(store.get(session.sessionId) ?? session);
                    }
                });
        }),
        store.onDidChange(() => updateViewMessage()),
        threadline.onDidChangeState((state) => {
            statusBar.setServerState(state);
            updateViewMessage();
            if (state === 'running') {
                void reload();
            } else if (state === 'failed') {
                store.clear();
            }
        }),
        treeView.onDidChangeVisibility((e) => {
            if (e.visible) {
                tree.refresh(); // relative times
            }
        }),
        vscode.workspace.onDidChangeWorkspaceFolders(() => void reload()),
        vscode.workspace.onDidChangeConfiguration((e) => {
            if (e.affectsConfiguration('threadline.server') || e.affectsConfiguration('threadline.claude')) {
                log.info('Threadline settings changed; restarting the server.');
                void threadline.restart();
            }
        }),
    );

    // Relative times ("5 min ago") and day groups age: redraw the tree, without any
    // request to the server, once a minute while it is visible.
    const timer = setInterval(() => {
        if (treeView.visible) {
            tree.refresh();
        }
    }, 60_000);
    context.subscriptions.push({ dispose: () => clearInterval(timer) });

    store.setFolders(withRealPaths(folderPaths()));
    updateViewMessage();
    void threadline.start();
}

export async function deactivate(): Promise<void> {
    TranscriptPanel.disposeAll();
    await client?.dispose();
    client = undefined;
}
