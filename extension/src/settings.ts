/**
 * Turns the user's `threadline.*` settings into the server's launch command,
 * environment and `initializationOptions`.
 *
 * Pure (no `vscode` import): `extension.ts` reads the raw values from the
 * configuration and passes them in, the unit tests call it directly.
 */
import type { AgentOptions, InitializationOptions } from './protocol';

export const DEFAULT_SERVER_COMMAND: readonly string[] = ['threadline', 'serve'];

/** The raw values, as `workspace.getConfiguration('threadline')` returns them. */
export interface RawSettings {
    serverCommand?: unknown;
    serverEnv?: unknown;
    claudeConfigDir?: unknown;
    claudeCommand?: unknown;
    claudeEnv?: unknown;
    codexCommand?: unknown;
    codexEnv?: unknown;
    codexHome?: unknown;
    geminiCommand?: unknown;
    geminiEnv?: unknown;
    geminiHome?: unknown;
}

/** What is needed to start the server. */
export interface ResolvedSettings {
    /** argv: `command[0]` is the program. */
    command: string[];
    /** Extra environment for the server process, merged over the extension host's. */
    env: Record<string, string>;
    initializationOptions: InitializationOptions;
    /** Settings that had to be ignored, in words, for the log. */
    warnings: string[];
}

/** Values used to expand `${...}` variables and a leading `~`. */
export interface ExpansionContext {
    userHome: string;
    workspaceFolder?: string;
    env: Record<string, string | undefined>;
}

/**
 * Expands `~` / `~/` at the start, `${userHome}`, `${workspaceFolder}` and
 * `${env:NAME}`. Unknown variables are left as they are.
 */
export function expandVariables(value: string, ctx: ExpansionContext): string {
    let out = value;
    if (out === '~' || out.startsWith('~/')) {
        out = ctx.userHome + out.slice(1);
    }
    return out.replace(/\$\{([^}]+)\}/g, (match, name: string) => {
        if (name === 'userHome') {
            return ctx.userHome;
        }
        if (name === 'workspaceFolder') {
            return ctx.workspaceFolder ?? match;
        }
        if (name.startsWith('env:')) {
            return ctx.env[name.slice(4)] ?? '';
        }
        return match;
    });
}

function isStringArray(value: unknown): value is string[] {
    return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function readArgv(value: unknown, name: string, warnings: string[], ctx: ExpansionContext): string[] | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (!isStringArray(value) || value.length === 0 || value[0].trim() === '') {
        warnings.push(`${name} must be a non-empty array of strings; using the default.`);
        return undefined;
    }
    return value.map((v) => expandVariables(v, ctx));
}

function readEnv(value: unknown, name: string, warnings: string[], ctx: ExpansionContext): Record<string, string> {
    if (value === undefined || value === null) {
        return {};
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
        warnings.push(`${name} must be an object of strings; ignored.`);
        return {};
    }
    const env: Record<string, string> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === 'string') {
            env[key] = expandVariables(v, ctx);
        } else if (typeof v === 'number' || typeof v === 'boolean') {
            env[key] = String(v);
        } else {
            warnings.push(`${name}.${key} must be a string; ignored.`);
        }
    }
    return env;
}

/** A folder setting: empty means "the server's default"; `~` and variables are expanded. */
function readFolder(value: unknown, name: string, warnings: string[], ctx: ExpansionContext): string | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (typeof value !== 'string') {
        warnings.push(`${name} must be a string; using the default.`);
        return undefined;
    }
    const dir = value.trim();
    return dir ? expandVariables(dir, ctx) : undefined;
}

/** Resolves the raw settings; never throws, bad values fall back to defaults. */
export function resolveSettings(raw: RawSettings, ctx: ExpansionContext): ResolvedSettings {
    const warnings: string[] = [];
    const command = readArgv(raw.serverCommand, 'threadline.server.command', warnings, ctx) ?? [
        ...DEFAULT_SERVER_COMMAND,
    ];
    const env = readEnv(raw.serverEnv, 'threadline.server.env', warnings, ctx);

    const agent = (id: string, commandValue: unknown, envValue: unknown, homeValue?: unknown): AgentOptions => {
        const out: AgentOptions = {};
        const agentCommand = readArgv(commandValue, `threadline.${id}.command`, warnings, ctx);
        if (agentCommand) {
            out.command = agentCommand;
        }
        const agentEnv = readEnv(envValue, `threadline.${id}.env`, warnings, ctx);
        if (Object.keys(agentEnv).length > 0) {
            out.env = agentEnv;
        }
        const home = readFolder(homeValue, `threadline.${id}.home`, warnings, ctx);
        if (home) {
            out.home = home;
        }
        return out;
    };
    const initializationOptions: InitializationOptions = {
        agents: {
            claude: agent('claude', raw.claudeCommand, raw.claudeEnv),
            codex: agent('codex', raw.codexCommand, raw.codexEnv, raw.codexHome),
            gemini: agent('gemini', raw.geminiCommand, raw.geminiEnv, raw.geminiHome),
        },
    };
    const configDir = readFolder(raw.claudeConfigDir, 'threadline.claude.configDir', warnings, ctx);
    if (configDir) {
        initializationOptions.claudeConfigDir = configDir;
    }
    return { command, env, initializationOptions, warnings };
}

/** Renders an argv for messages: `threadline serve`, quoting arguments with spaces. */
export function formatCommand(argv: readonly string[]): string {
    return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
