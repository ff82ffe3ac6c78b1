/**
 * Entry point: builds the log, the server client, the session store, the tree, the
 * status bar and the commands, and wires them together.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as vscode from 'vscode';
import { findDenial, type ApprovalGrant, type Denial } from './approval';
import { DoubleClick } from './clicks';
import { describeError, ThreadlineClient } from './client';
import { Commands, ContextKeys, TRANSCRIPT_VIEW_TYPE, Views } from './constants';
import { relativeTime, statusLabel } from './format';
import { agentChoices, agentName, compareSessions, sessionLabel, soleAgent } from './grouping';
import { createLog } from './log';
import { AGENTS, type SessionInfo } from './protocol';
import { SessionStore } from './sessionStore';
import { SessionTreeProvider, type TreeNode } from './sessionTree';
import { resolveSettings, type ResolvedSettings } from './settings';
import { ActiveSessionStatusBar } from './statusBar';
import { TranscriptPanel, type PanelDeps, type ShowOptions } from './transcriptPanel';
import { viewText } from './viewState';

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
            codexCommand: c.get('codex.command'),
            codexEnv: c.get('codex.env'),
            codexHome: c.get('codex.home'),
            geminiCommand: c.get('gemini.command'),
            geminiEnv: c.get('gemini.env'),
            geminiHome: c.get('gemini.home'),
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
    const tree = new SessionTreeProvider(store, context.extensionUri);
    const treeView = vscode.window.createTreeView<TreeNode>(Views.sessions, { treeDataProvider: tree });
    const statusBar = new ActiveSessionStatusBar(store);
    const deps: PanelDeps = { extensionUri: context.extensionUri, client: threadline, store, log };
    const notifiedWaiting = new Set<string>();
    const clicks = new DoubleClick();
    let lastLoadError = '';
    /** The first lists of the running server have arrived (until then the view says "Loading"). */
    let loaded = false;
    /** Bumped by every reload: only the newest one's lists are kept. */
    let reloads = 0;

    const updateViewMessage = (): void => {
        const text = viewText({
            serverState: threadline.serverState,
            loaded,
            empty: tree.isEmpty,
            hasFolders: folderPaths().length > 0,
            filter: store.filter,
            loadError: lastLoadError,
        });
        treeView.message = text.message;
        treeView.description = text.description;
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
        const mine = ++reloads;
        const errors: string[] = [];
        // A progress bar on the view while the lists load (the first can take seconds).
        const lists = await vscode.window.withProgress({ location: { viewId: Views.sessions } }, () =>
            Promise.all(
                folders.map((cwd) =>
                    listFolder(cwd).catch((error: unknown) => {
                        errors.push(`${cwd}: ${describeError(error)}`);
                        log.error(`session/list ${cwd}: ${describeError(error)}`);
                        return [] as SessionInfo[];
                    }),
                ),
            ),
        );
        if (mine !== reloads) {
            return; // a newer reload (another filter, a restart) owns the view
        }
        lastLoadError = errors.length > 0 ? `Could not list sessions: ${errors.join('; ')}` : '';
        loaded = true;
        store.replaceAll(lists);
        updateViewMessage();
    };

    /** Lists again from scratch, saying "Loading…" meanwhile (a new filter, a new server). */
    const reloadFresh = async (): Promise<void> => {
        loaded = false;
        updateViewMessage();
        await reload();
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

    const openTranscript = (session: SessionInfo, options: ShowOptions = {}): void => {
        TranscriptPanel.show(deps, session.sessionId, session, options);
    };

    /** Which agent a new workflow runs: asked only when the server can run more than one. */
    const pickAgent = async (): Promise<string | undefined> => {
        const runnable = threadline.runnableAgents;
        const sole = soleAgent(runnable);
        if (sole) {
            return sole;
        }
        const last = context.workspaceState.get<string>('threadline.lastAgent');
        const items = agentChoices(AGENTS, runnable ?? [], last).map(({ agent, runnable: canRun }) => ({
            label: agentName(agent),
            description: canRun ? agent : `${agent} (not found: set threadline.${agent}.command)`,
            agent,
            runnable: canRun,
            iconPath: (AGENTS as readonly string[]).includes(agent) ? vscode.Uri.joinPath(context.extensionUri, 'media', 'agents', `${agent}.svg`) : undefined,
        }));
        const picked = await vscode.window.showQuickPick(items, {
            title: 'Threadline: New Workflow — Agent',
            placeHolder: 'Which agent runs this workflow?',
            ignoreFocusOut: true,
        });
        if (!picked) {
            return undefined;
        }
        if (!picked.runnable) {
            void vscode.window.showErrorMessage(
                `The Threadline server cannot run ${agentName(picked.agent)}: its command was not found. Set "threadline.${picked.agent}.command".`,
            );
            return undefined;
        }
        await context.workspaceState.update('threadline.lastAgent', picked.agent);
        return picked.agent;
    };

    /** Resumes a waiting session with a permission granted, asking for the prompt first. */
    const approveAndContinue = async (session: SessionInfo, denial: Denial, grant: ApprovalGrant): Promise<void> => {
        const what = grant.permissionMode === 'acceptEdits' ? 'all edits' : denial.rule;
        const prompt = await vscode.window.showInputBox({
            title: `Threadline: Allow ${what} and continue`,
            prompt: `Continue "${sessionLabel(session)}" with ${what} allowed for this turn.`,
            value: denial.prompt,
            ignoreFocusOut: true,
            validateInput: (v) => (v.trim() ? undefined : 'Enter a prompt.'),
        });
        if (!prompt) {
            return;
        }
        const result = await run('session/resume (approve)', () =>
            threadline.request('session/resume', { sessionId: session.sessionId, prompt, ...grant }),
        );
        if (result) {
            store.upsert(result.session);
            openTranscript(result.session);
        }
    };

    /** The denied tool call of a waiting session: from its open panel, else its last messages. */
    const denialOf = async (session: SessionInfo): Promise<Denial | undefined> => {
        const panel = TranscriptPanel.get(session.sessionId);
        if (panel?.pendingDenial) {
            return panel.pendingDenial;
        }
        try {
            const page = await threadline.request('session/messages', { sessionId: session.sessionId, fromEnd: true, limit: 20 });
            return findDenial(session, page.messages ?? []);
        } catch (error) {
            log.warn(`session/messages ${session.sessionId}: ${describeError(error)}`);
            return undefined;
        }
    };

    /** The "waiting for you" notification, with Allow buttons when a tool call was denied. */
    const notifyWaiting = async (session: SessionInfo): Promise<void> => {
        const denial = await denialOf(session);
        if (TranscriptPanel.get(session.sessionId)?.isFocused) {
            return; // the user is looking at it
        }
        const open = 'Open';
        const allow = 'Allow and Continue';
        const edits = 'Allow All Edits';
        const label = sessionLabel(session);
        const choice = denial
            ? await vscode.window.showInformationMessage(
                  `Threadline: "${label}" is waiting for you: ${denial.tool} ${denial.target === denial.tool ? '' : `\`${denial.target}\` `}needs your permission (${denial.rule}).`,
                  allow,
                  edits,
                  open,
              )
            : await vscode.window.showInformationMessage(`Threadline: "${label}" is waiting for you.`, open);
        const current = store.get(session.sessionId) ?? session;
        if (choice === open) {
            openTranscript(current);
        } else if (denial && choice === allow) {
            await approveAndContinue(current, denial, { allowedTools: [denial.rule] });
        } else if (denial && choice === edits) {
            await approveAndContinue(current, denial, { permissionMode: 'acceptEdits' });
        }
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
        agent?: string;
    }

    const commands: [string, (...args: never[]) => unknown][] = [
        [
            Commands.startWorkflow,
            async (args?: StartArgs) => {
                const cwd = args?.cwd ?? (await pickFolder());
                if (!cwd) {
                    return undefined;
                }
                const agent = args?.agent ?? (await pickAgent());
                if (!agent) {
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
                    threadline.request('workflow/start', { cwd, prompt, agent, ...(skill ? { skill } : {}) }),
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
            async (arg: SessionArg, how?: { fromTree?: boolean }) => {
                const s = await resolveSession(arg, 'Session to open');
                if (!s) {
                    return;
                }
                // A click previews; a double click (the second run within 500 ms) pins. Users
                // who turned VS Code's preview editors off get a tab per click.
                const previews = vscode.workspace.getConfiguration('workbench.editor').get<boolean>('enablePreview', true);
                if (how?.fromTree === true && previews) {
                    const double = clicks.click(s.sessionId, Date.now());
                    openTranscript(s, { preview: !double });
                } else {
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
                await reloadFresh();
            },
        ],
        [
            Commands.clearFilter,
            async () => {
                store.setFilter('');
                void vscode.commands.executeCommand('setContext', ContextKeys.filtered, false);
                await reloadFresh();
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
        threadline.onNotification('session/removed', (p) => {
            if (typeof p?.sessionId === 'string') {
                notifiedWaiting.delete(p.sessionId);
                store.remove(p.sessionId);
            }
        }),
        threadline.onDidFinishIndexing(() => void reload()),
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
            void notifyWaiting(session);
        }),
        store.onDidChange(() => updateViewMessage()),
        threadline.onDidChangeState((state) => {
            statusBar.setServerState(state);
            updateViewMessage();
            if (state === 'running') {
                void reloadFresh();
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
            if (['server', 'claude', 'codex', 'gemini'].some((k) => e.affectsConfiguration(`threadline.${k}`))) {
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
    void vscode.commands.executeCommand('setContext', ContextKeys.activated, true);
    void threadline.start();
}

export async function deactivate(): Promise<void> {
    TranscriptPanel.disposeAll();
    await client?.dispose();
    client = undefined;
}
