/**
 * The `threadline.sessions` tree: sessions of the workspace folders grouped as
 * Running, Waiting for you, Today, Yesterday, This week, Older.
 *
 * Nodes are a union keyed by `kind`. The provider reads the {@link SessionStore} and
 * redraws when it changes; the store is filled by `session/list` and kept current by
 * the server's notifications, never by polling.
 */
import * as vscode from 'vscode';
import { Commands } from './constants';
import {
    agentName,
    groupSessions,
    rowIcon,
    sessionContextValue,
    sessionDescription,
    sessionLabel,
    sessionTooltipLines,
    treeRenderKey,
    type GroupId,
} from './grouping';
import type { SessionInfo } from './protocol';
import type { SessionStore } from './sessionStore';

export interface GroupNode {
    kind: 'group';
    id: GroupId;
    label: string;
    sessions: SessionInfo[];
}

export interface SessionNode {
    kind: 'session';
    session: SessionInfo;
}

export type TreeNode = GroupNode | SessionNode;

/** The agents that have an icon in `media/agents/`. */
const AGENT_ICONS: ReadonlySet<string> = new Set(['claude', 'codex', 'gemini']);

export class SessionTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
    private readonly changeEmitter = new vscode.EventEmitter<TreeNode | undefined | void>();
    readonly onDidChangeTreeData = this.changeEmitter.event;
    private readonly subscription: { dispose(): void };
    private groups: GroupNode[] = [];
    private readonly parents = new Map<string, GroupNode>();
    private now = Date.now();
    /** What the tree last drew (see {@link treeRenderKey}). */
    private drawn = '';

    constructor(
        private readonly store: SessionStore,
        private readonly extensionUri: vscode.Uri,
    ) {
        this.subscription = store.onDidChange(() => this.refresh());
        this.rebuild();
    }

    /**
     * Recomputes the groups (relative times included) and redraws when anything shown
     * changed. Commands look a row's session up in the store by id, so an unchanged row
     * that keeps an older copy of its session acts on the current one.
     */
    refresh(): void {
        this.rebuild();
        const key = treeRenderKey(this.groups, this.now);
        if (key !== this.drawn) {
            this.drawn = key;
            this.changeEmitter.fire();
        }
    }

    /** The node of a session, for `TreeView.reveal`. */
    nodeOf(sessionId: string): SessionNode | undefined {
        for (const g of this.groups) {
            const s = g.sessions.find((x) => x.sessionId === sessionId);
            if (s) {
                return { kind: 'session', session: s };
            }
        }
        return undefined;
    }

    get isEmpty(): boolean {
        return this.groups.length === 0;
    }

    getTreeItem(node: TreeNode): vscode.TreeItem {
        switch (node.kind) {
            case 'group': {
                const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
                item.id = `group:${node.id}`;
                item.description = String(node.sessions.length);
                item.contextValue = 'group';
                return item;
            }
            case 'session': {
                const s = node.session;
                const item = new vscode.TreeItem(sessionLabel(s), vscode.TreeItemCollapsibleState.None);
                item.id = `session:${s.sessionId}`;
                item.description = sessionDescription(s, this.now);
                item.iconPath = this.iconOf(s);
                // A plain string: shown as text, never rendered as Markdown.
                item.tooltip = sessionTooltipLines(s).join('\n');
                item.contextValue = sessionContextValue(s);
                item.accessibilityInformation = {
                    label: `${sessionLabel(s)}, ${agentName(s.agent)}, ${s.status.replace(/_/g, ' ')}${s.active ? ', active' : ''}`,
                };
                // A click opens a preview; a second click on the same row (a double click) pins it.
                item.command = { command: Commands.openTranscript, title: 'Open Transcript', arguments: [node, { fromTree: true }] };
                return item;
            }
        }
    }

    private iconOf(s: SessionInfo): vscode.ThemeIcon | vscode.Uri {
        const icon = rowIcon(s);
        if (icon.kind === 'status') {
            return new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
        }
        if (AGENT_ICONS.has(icon.agent)) {
            return vscode.Uri.joinPath(this.extensionUri, 'media', 'agents', `${icon.agent}.svg`);
        }
        return new vscode.ThemeIcon('hubot');
    }

    getChildren(node?: TreeNode): TreeNode[] {
        if (!node) {
            return this.groups;
        }
        if (node.kind === 'group') {
            return node.sessions.map((session) => ({ kind: 'session', session }));
        }
        return [];
    }

    getParent(node: TreeNode): TreeNode | undefined {
        if (node.kind === 'session') {
            return this.parents.get(node.session.sessionId);
        }
        return undefined;
    }

    dispose(): void {
        this.subscription.dispose();
        this.changeEmitter.dispose();
    }

    private rebuild(): void {
        this.now = Date.now();
        this.groups = groupSessions(this.store.all(), this.now).map((g) => ({ kind: 'group', ...g }));
        this.parents.clear();
        for (const g of this.groups) {
            for (const s of g.sessions) {
                this.parents.set(s.sessionId, g);
            }
        }
    }
}
