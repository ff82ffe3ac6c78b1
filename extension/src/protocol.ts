/**
 * The Threadline wire protocol, version 1, as the extension sees it.
 *
 * Mirrors the project's protocol document: method names, field names and status
 * values are fixed by the server contract. Optional fields may be omitted or `null`
 * on the wire; both mean "not known".
 *
 * This module must not import `vscode`: it is shared by the extension host code,
 * the webview bundle and the unit tests that run under plain node.
 */

/** Where a session stands. */
export type Status = 'running' | 'waiting_for_input' | 'completed' | 'failed' | 'cancelled' | 'interrupted';

/** Every status value, in the order the UI lists them. */
export const STATUSES: readonly Status[] = [
    'running',
    'waiting_for_input',
    'completed',
    'failed',
    'cancelled',
    'interrupted',
];

/** The agents the protocol knows (§1), in the order the UI offers them. */
export const AGENTS = ['claude', 'codex', 'gemini'] as const;

export type AgentId = (typeof AGENTS)[number];

/** The permission modes a turn can run with (Claude Code's `--permission-mode`). */
export const PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'bypassPermissions'] as const;

/** Token and cost totals of a session or of one message. */
export interface Usage {
    inputTokens: number;
    outputTokens: number;
    cacheCreationTokens: number;
    cacheReadTokens: number;
    /** The agent's own cost figure, or null when it reported none. */
    costUsd?: number | null;
}

/** One agent session, as `session/list` and the notifications describe it. */
export interface SessionInfo {
    /** The one id: the agent's own session id. */
    sessionId: string;
    agent: string;
    /** The project folder the session belongs to. */
    cwd: string;
    title: string;
    status: Status;
    source: 'workflow' | 'external';
    /** This session holds its project's active marker. */
    active: boolean;
    createdAt: string;
    updatedAt: string;
    messageCount: number;
    usage: Usage;
    model?: string | null;
    gitBranch?: string | null;
    skill?: string | null;
    transcriptPath?: string | null;
    pid?: number | null;
    lastError?: string | null;
    parentSessionId?: string | null;
    /** With a `session/list` query: text around the first match. */
    snippet?: string | null;
}

/** One block of a message's content. */
export type ContentBlock =
    | { type: 'text'; text: string }
    | { type: 'thinking'; text: string }
    | { type: 'tool_use'; id: string; name: string; input: unknown }
    | { type: 'tool_result'; toolUseId: string; text: string; isError: boolean }
    | { type: 'image'; mediaType: string };

/** One API message of a transcript. */
export interface Message {
    id: string;
    role: 'user' | 'assistant' | 'system';
    timestamp: string;
    content: ContentBlock[];
    model?: string | null;
    usage?: Usage | null;
    isSidechain?: boolean;
    isMeta?: boolean;
}

// ----------------------------------------------------------------------------
// Requests

export interface WorkflowStartParams {
    cwd: string;
    prompt: string;
    agent?: string;
    skill?: string;
    model?: string;
    permissionMode?: string;
    title?: string;
}

export interface SessionResult {
    sessionId: string;
    session: SessionInfo;
}

export interface SessionListParams {
    cwd?: string;
    cursor?: string;
    limit?: number;
    query?: string;
    status?: Status[];
    agent?: string[];
}

export interface SessionListResult {
    sessions: SessionInfo[];
    nextCursor?: string | null;
    activeSessionId?: string | null;
}

export interface SessionMessagesParams {
    sessionId: string;
    offset?: number;
    limit?: number;
    fromEnd?: boolean;
    follow?: boolean;
}

export interface SessionMessagesResult {
    sessionId: string;
    messages: Message[];
    /** Index of the first returned message. */
    offset: number;
    /** Number of messages in the whole transcript. */
    total: number;
}

export interface SessionResumeParams {
    sessionId: string;
    prompt: string;
    fork?: boolean;
    /** For this turn only: e.g. `acceptEdits`. */
    permissionMode?: string;
    /** For this turn only: tool rules such as `Bash(touch:*)`. */
    allowedTools?: string[];
    model?: string;
}

export interface SessionActivateParams {
    cwd: string;
    sessionId: string | null;
}

/** Request method → [params, result]. */
export interface RequestMap {
    'workflow/start': [WorkflowStartParams, SessionResult];
    'session/list': [SessionListParams, SessionListResult];
    'session/messages': [SessionMessagesParams, SessionMessagesResult];
    'session/resume': [SessionResumeParams, SessionResult];
    'session/get': [{ sessionId: string }, { session: SessionInfo }];
    'session/activate': [SessionActivateParams, { activeSessionId: string | null }];
    'workflow/cancel': [{ sessionId: string }, { session: SessionInfo }];
    'session/unfollow': [{ sessionId: string }, Record<string, never>];
}

export type RequestMethod = keyof RequestMap;
export type ParamsOf<M extends RequestMethod> = RequestMap[M][0];
export type ResultOf<M extends RequestMethod> = RequestMap[M][1];

// ----------------------------------------------------------------------------
// Notifications

export interface SessionDetectedParams {
    session: SessionInfo;
}

export interface SessionUpdatedParams {
    session: SessionInfo;
    /** Messages from index `appendedFrom` on; only for followed sessions. */
    appended?: Message[] | null;
    appendedFrom?: number | null;
    /**
     * For a followed session whose running turn this server started: the reply text
     * generated so far that is not in the transcript yet; null once it is (or the turn ended).
     * Absent: this update says nothing about it.
     */
    streaming?: { text: string } | null;
}

export interface SessionRemovedParams {
    sessionId: string;
}

/** Notification method → params. */
export interface NotificationMap {
    'session/detected': SessionDetectedParams;
    'session/updated': SessionUpdatedParams;
    'session/removed': SessionRemovedParams;
}

export type NotificationMethod = keyof NotificationMap;

/** Error codes of the protocol (§6). */
export const ErrorCodes = {
    InvalidParams: -32602,
    SessionNotFound: -32001,
    SessionBusy: -32002,
    AgentUnavailable: -32003,
    StoreError: -32004,
    AgentStartFailed: -32005,
} as const;

/** The `$/progress` token prefix of the server's first indexing of a large history. */
export const INDEX_PROGRESS_PREFIX = 'threadline-index-';

/** Whether a `$/progress` is the end of the server's first indexing (then list again). */
export function isIndexingEnd(token: unknown, value: { kind?: unknown } | null | undefined): boolean {
    return typeof token === 'string' && token.startsWith(INDEX_PROGRESS_PREFIX) && value?.kind === 'end';
}

export interface AgentOptions {
    command?: string[];
    env?: Record<string, string>;
    /** Where the agent keeps its sessions (claude: CLAUDE_CONFIG_DIR, codex: CODEX_HOME, gemini: GEMINI_CLI_HOME). */
    home?: string;
}

/** The initialization options the extension sends (§1). */
export interface InitializationOptions {
    claudeConfigDir?: string;
    agents: Partial<Record<AgentId, AgentOptions>>;
}
