/**
 * Approve and continue: finds the tool call a waiting session was denied, and what to
 * resume it with (protocol §3 `session/resume` `allowedTools` / `permissionMode`).
 *
 * Pure (no `vscode` import): the transcript panel, the waiting notification and the unit
 * tests share it.
 */
import { PERMISSION_MODES, type Message, type SessionInfo } from './protocol';

/** A tool call the agent was not allowed to make, and how to allow it. */
export interface Denial {
    toolUseId: string;
    tool: string;
    /** The one-line view of what it wanted to do (the command, the file). */
    target: string;
    /** The agent's own words for the refusal. */
    reason: string;
    /** The tool rule that allows it, e.g. `Bash(touch:*)`. */
    rule: string;
    /** A short prompt that tells the agent to go ahead; the user may edit it. */
    prompt: string;
}

/** What the agents write when a tool call needs a permission the session did not have. */
const DENIAL_TEXT = [
    /requires approval/i,
    /needs approval/i,
    /was blocked\. For security/i,
    /requested permissions? to .* but you haven't granted it/i,
    /permission (was )?denied/i,
    /not allowed by the (current )?(approval|permission)/i,
    /rejected by the user/i,
];

/** Tools whose denial "Allow all edits" (`acceptEdits`) also grants. */
const EDIT_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/** Whether a tool result's text is a permission refusal (not an ordinary tool error). */
export function isPermissionDenial(text: string): boolean {
    return DENIAL_TEXT.some((re) => re.test(text));
}

function stringField(input: unknown, key: string): string | undefined {
    if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
        const v = (input as Record<string, unknown>)[key];
        return typeof v === 'string' ? v : undefined;
    }
    return undefined;
}

/** The program a shell command runs: its first word after any `NAME=value` assignments. */
export function commandName(command: string): string | undefined {
    for (const word of command.trim().split(/\s+/)) {
        if (!word || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) {
            continue;
        }
        // A rule pattern cannot hold parentheses; a quoted or odd word gets the whole tool.
        return /^[\w./+@-]+$/.test(word) ? word : undefined;
    }
    return undefined;
}

/** The tool rule that allows a call: `Bash(touch:*)` for a shell command, else the tool. */
export function ruleFor(tool: string, input: unknown): string {
    if (tool === 'Bash') {
        const name = commandName(stringField(input, 'command') ?? '');
        return name ? `Bash(${name}:*)` : 'Bash';
    }
    if (tool === 'WebFetch') {
        try {
            const host = new URL(stringField(input, 'url') ?? '').hostname;
            if (host) {
                return `WebFetch(domain:${host})`;
            }
        } catch {
            // no usable URL: the whole tool
        }
    }
    return tool;
}

function targetOf(tool: string, input: unknown): string {
    const text = stringField(input, 'command') ?? stringField(input, 'file_path') ?? stringField(input, 'path') ?? stringField(input, 'url') ?? '';
    const line = text.replace(/\s+/g, ' ').trim();
    return line.length > 120 ? `${line.slice(0, 119)}…` : line || tool;
}

/** The short "go ahead" prompt offered with the approval. */
export function goAheadPrompt(tool: string, target: string): string {
    if (tool === 'Bash' && target !== tool) {
        return `Permission granted: go ahead and run \`${target}\`.`;
    }
    return `Permission granted: go ahead with ${tool === target ? tool : `${tool} on ${target}`}.`;
}

/**
 * The denied tool call of a waiting session: the last tool_use of the messages, when its
 * tool_result is an error that reads as a permission refusal. Undefined otherwise (the
 * agent asked a question, or the session is not waiting).
 */
export function findDenial(session: Pick<SessionInfo, 'status'> | undefined, messages: readonly Message[]): Denial | undefined {
    if (session?.status !== 'waiting_for_input') {
        return undefined;
    }
    let use: { id: string; name: string; input: unknown } | undefined;
    let useIndex = -1;
    for (let i = messages.length - 1; i >= 0 && !use; i--) {
        const blocks = messages[i].content ?? [];
        for (let j = blocks.length - 1; j >= 0; j--) {
            const b = blocks[j];
            if (b.type === 'tool_use') {
                use = b;
                useIndex = i;
                break;
            }
        }
    }
    if (!use) {
        return undefined;
    }
    for (let i = useIndex; i < messages.length; i++) {
        for (const b of messages[i].content ?? []) {
            if (b.type === 'tool_result' && b.toolUseId === use.id) {
                if (!b.isError || !isPermissionDenial(b.text ?? '')) {
                    return undefined;
                }
                const target = targetOf(use.name, use.input);
                return {
                    toolUseId: use.id,
                    tool: use.name,
                    target,
                    reason: (b.text ?? '').trim(),
                    rule: ruleFor(use.name, use.input),
                    prompt: goAheadPrompt(use.name, target),
                };
            }
        }
    }
    return undefined;
}

/** Whether "Allow all edits" covers the denied call without a rule. */
export function isEditTool(tool: string): boolean {
    return EDIT_TOOLS.has(tool);
}

const RULE = /^[A-Za-z_][\w.-]*(\([^()\n]{1,200}\))?$/;

/** The `session/resume` extras of an approval, checked (the webview is not trusted). */
export interface ApprovalGrant {
    allowedTools?: string[];
    permissionMode?: string;
}

/** Checks a grant from the webview; undefined when it is malformed. */
export function checkGrant(value: unknown): ApprovalGrant | undefined {
    if (typeof value !== 'object' || value === null) {
        return undefined;
    }
    const v = value as Record<string, unknown>;
    const grant: ApprovalGrant = {};
    if (v.allowedTools !== undefined) {
        if (!Array.isArray(v.allowedTools) || v.allowedTools.length === 0 || v.allowedTools.length > 20) {
            return undefined;
        }
        if (!v.allowedTools.every((r): r is string => typeof r === 'string' && RULE.test(r))) {
            return undefined;
        }
        grant.allowedTools = [...v.allowedTools];
    }
    if (v.permissionMode !== undefined) {
        if (typeof v.permissionMode !== 'string' || !(PERMISSION_MODES as readonly string[]).includes(v.permissionMode)) {
            return undefined;
        }
        grant.permissionMode = v.permissionMode;
    }
    return grant.allowedTools || grant.permissionMode ? grant : undefined;
}
