/**
 * The extension's one log: a LogOutputChannel named "Threadline", shared with the
 * language client (which writes the server's stderr and protocol trace to it).
 */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function createLog(): vscode.LogOutputChannel {
    channel = vscode.window.createOutputChannel('Threadline', { log: true });
    return channel;
}

function describe(args: unknown[]): string {
    return args
        .map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : JSON.stringify(a)))
        .join(' ');
}

export function traceError(...args: unknown[]): void {
    channel?.error(describe(args));
}

export function traceWarn(...args: unknown[]): void {
    channel?.warn(describe(args));
}

export function traceInfo(...args: unknown[]): void {
    channel?.info(describe(args));
}

export function traceVerbose(...args: unknown[]): void {
    channel?.debug(describe(args));
}

export function showLog(): void {
    channel?.show(true);
}
