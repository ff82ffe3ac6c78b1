/**
 * ThreadlineClient: owns the language client that talks to `threadline serve` over
 * stdio, starts/stops/restarts it, offers typed requests, and fans the server's
 * notifications out to subscribers (each call guarded and logged).
 */
import * as vscode from 'vscode';
import {
    CloseAction,
    ErrorAction,
    LanguageClient,
    RevealOutputChannelOn,
    State,
    type Executable,
    type LanguageClientOptions,
} from 'vscode-languageclient/node';
import { ContextKeys } from './constants';
import { isIndexingEnd, type NotificationMap, type NotificationMethod, type ParamsOf, type RequestMethod, type ResultOf } from './protocol';
import { formatCommand, type ResolvedSettings } from './settings';

export type ServerState = 'stopped' | 'starting' | 'running' | 'failed';

const NOTIFICATIONS: readonly NotificationMethod[] = ['session/detected', 'session/updated', 'session/removed'];

/** How many unexpected exits within {@link CRASH_WINDOW_MS} are restarted. */
const MAX_CRASH_RESTARTS = 3;
const CRASH_WINDOW_MS = 3 * 60_000;

/**
 * A LanguageClient that never pops up its own notifications: it still logs them,
 * and ThreadlineClient shows one clear message of its own instead.
 */
class QuietLanguageClient extends LanguageClient {
    override error(message: string, data?: unknown, _showNotification?: boolean | 'force'): void {
        super.error(message, data, false);
    }
}

/** One sentence out of any error a request or start can throw. */
export function describeError(error: unknown): string {
    if (error instanceof Error) {
        return error.message;
    }
    if (typeof error === 'object' && error !== null && 'message' in error) {
        return String((error as { message: unknown }).message);
    }
    return String(error);
}

function startFailureReason(error: unknown): string {
    const text = describeError(error);
    if (/ENOENT/.test(text)) {
        return 'the command was not found';
    }
    if (/EACCES/.test(text)) {
        return 'the command is not executable';
    }
    if (/connection got disposed|Connection is closed|closed|exited/i.test(text)) {
        return 'it exited before it was ready';
    }
    return text.split('\n')[0];
}

/**
 * Opens the settings editor on the server settings. They are machine-scoped (they name
 * programs on the machine the server runs on), so in a remote window (Remote-SSH, WSL,
 * code-server) they live in the Remote tab.
 */
export async function openServerSettings(): Promise<void> {
    const command = vscode.env.remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings';
    await vscode.commands.executeCommand(command, { query: 'threadline.server' });
}

type Handler<M extends NotificationMethod> = (params: NotificationMap[M]) => void;

export class ThreadlineClient implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private state: ServerState = 'stopped';
    private started = false;
    private crashes: number[] = [];
    private queue: Promise<unknown> = Promise.resolve();
    private readonly handlers = new Map<NotificationMethod, Set<(params: unknown) => void>>();
    private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
    private readonly indexedEmitter = new vscode.EventEmitter<void>();

    /**
     * Fires when the server's first indexing of a large history ends (the `$/progress` end of
     * a `threadline-index-…` token): the first lists held only what was indexed by then.
     */
    readonly onDidFinishIndexing = this.indexedEmitter.event;

    /** Fires on every state change; `running` also after an automatic restart. */
    readonly onDidChangeState = this.stateEmitter.event;

    constructor(
        private readonly log: vscode.LogOutputChannel,
        private readonly readSettings: () => ResolvedSettings,
    ) {}

    get serverState(): ServerState {
        return this.state;
    }

    get isRunning(): boolean {
        return this.state === 'running' && this.client?.isRunning() === true;
    }

    /** The agents the server can run (`capabilities.experimental.threadline.agents`), if it says. */
    get runnableAgents(): string[] | undefined {
        const experimental = this.client?.initializeResult?.capabilities?.experimental as { threadline?: { agents?: unknown } } | undefined;
        const agents = experimental?.threadline?.agents;
        return Array.isArray(agents) ? agents.filter((a): a is string => typeof a === 'string') : undefined;
    }

    /** Version string the server reported at initialize. */
    get serverVersion(): string | undefined {
        return this.client?.initializeResult?.serverInfo?.version;
    }

    start(): Promise<boolean> {
        return this.enqueue(() => this.doStart());
    }

    restart(): Promise<boolean> {
        return this.enqueue(async () => {
            await this.doStop();
            return this.doStart();
        });
    }

    stop(): Promise<void> {
        return this.enqueue(() => this.doStop());
    }

    /** Subscribes to a server notification; the handler runs in a try/catch. */
    onNotification<M extends NotificationMethod>(method: M, handler: Handler<M>): vscode.Disposable {
        let set = this.handlers.get(method);
        if (!set) {
            set = new Set();
            this.handlers.set(method, set);
        }
        const h = handler as (params: unknown) => void;
        set.add(h);
        return new vscode.Disposable(() => set.delete(h));
    }

    /** Sends a typed request; rejects with the server's one-sentence error message. */
    async request<M extends RequestMethod>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
        const client = this.client;
        if (!client || !this.isRunning) {
            throw new Error('The Threadline server is not running. Use "Threadline: Restart Server" or check the settings.');
        }
        return (await client.sendRequest(method, params)) as ResultOf<M>;
    }

    async dispose(): Promise<void> {
        await this.stop();
        this.stateEmitter.dispose();
        this.indexedEmitter.dispose();
    }

    private enqueue<T>(job: () => Promise<T>): Promise<T> {
        const next = this.queue.then(job, job);
        this.queue = next.catch(() => undefined);
        return next;
    }

    private setState(state: ServerState): void {
        if (this.state === state) {
            return;
        }
        this.state = state;
        void vscode.commands.executeCommand('setContext', ContextKeys.serverRunning, state === 'running');
        this.stateEmitter.fire(state);
    }

    private dispatch(method: NotificationMethod, params: unknown): void {
        for (const handler of [...(this.handlers.get(method) ?? [])]) {
            try {
                handler(params);
            } catch (error) {
                this.log.error(`Handler for ${method} failed: ${describeError(error)}`);
            }
        }
    }

    private async doStart(): Promise<boolean> {
        const settings = this.readSettings();
        for (const warning of settings.warnings) {
            this.log.warn(warning);
        }
        const [program, ...args] = settings.command;
        const serverOptions: Executable = {
            command: program,
            args,
            options: { env: { ...process.env, ...settings.env } },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [],
            outputChannel: this.log,
            traceOutputChannel: this.log,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: settings.initializationOptions,
            initializationFailedHandler: () => false,
            middleware: {
                handleWorkDoneProgress: (token, params, next) => {
                    next(token, params);
                    if (isIndexingEnd(token, params)) {
                        this.log.info('The server finished indexing the session history; listing again.');
                        this.indexedEmitter.fire();
                    }
                },
            },
            errorHandler: {
                error: (_error, _message, count) =>
                    (count ?? 0) > 3 ? { action: ErrorAction.Shutdown, handled: true } : { action: ErrorAction.Continue, handled: true },
                closed: () => this.onClosed(),
            },
        };
        const client = new QuietLanguageClient('threadline', 'Threadline', serverOptions, clientOptions);
        for (const method of NOTIFICATIONS) {
            client.onNotification(method, (params: unknown) => this.dispatch(method, params));
        }
        client.onDidChangeState((e) => {
            if (e.newState === State.Running && this.started && this.client === client) {
                this.setState('running');
            } else if (e.newState === State.Stopped && this.client === client && this.state === 'running') {
                this.setState('stopped');
            }
        });
        this.client = client;
        this.started = false;
        this.setState('starting');
        this.log.info(`Starting the Threadline server: ${formatCommand(settings.command)}`);
        this.log.debug(`initializationOptions: ${JSON.stringify(settings.initializationOptions)}`);
        try {
            await client.start();
        } catch (error) {
            this.log.error(`The Threadline server did not start: ${describeError(error)}`);
            this.client = undefined;
            try {
                await client.dispose(2000);
            } catch {
                // already gone
            }
            this.setState('failed');
            this.showStartFailure(settings.command, error);
            return false;
        }
        this.started = true;
        this.crashes = [];
        this.setState('running');
        const info = client.initializeResult?.serverInfo;
        this.log.info(`Threadline server running${info ? ` (${info.name} ${info.version ?? ''})` : ''}.`);
        return true;
    }

    private async doStop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        this.started = false;
        if (client) {
            try {
                if (client.needsStop()) {
                    await client.stop(3000);
                }
            } catch (error) {
                this.log.warn(`Stopping the server: ${describeError(error)}`);
            }
            try {
                await client.dispose(1000);
            } catch {
                // already stopped
            }
        }
        this.setState('stopped');
    }

    private onClosed(): { action: CloseAction; handled: boolean } {
        if (!this.started) {
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        const now = Date.now();
        this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
        this.crashes.push(now);
        if (this.crashes.length <= MAX_CRASH_RESTARTS) {
            this.log.warn('The Threadline server exited unexpectedly; restarting it.');
            this.setState('starting');
            return { action: CloseAction.Restart, handled: true };
        }
        this.log.error('The Threadline server keeps exiting; not restarting it again.');
        this.started = false;
        this.setState('failed');
        void this.showFailure(
            'The Threadline server stopped unexpectedly several times and was not restarted. See the Threadline log.',
        );
        return { action: CloseAction.DoNotRestart, handled: true };
    }

    private showStartFailure(command: string[], error: unknown): void {
        const reason = startFailureReason(error);
        void this.showFailure(
            `Threadline could not start its server (${formatCommand(command)}): ${reason}. Check the "threadline.server.command" setting.`,
        );
    }

    private async showFailure(message: string): Promise<void> {
        const openSettings = 'Open Settings';
        const showLog = 'Show Log';
        const choice = await vscode.window.showErrorMessage(message, openSettings, showLog);
        if (choice === openSettings) {
            await openServerSettings();
        } else if (choice === showLog) {
            this.log.show(true);
        }
    }
}
