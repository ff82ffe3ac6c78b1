/**
 * Syntax highlighting of code blocks with highlight.js, as a {@link VNode} tree.
 *
 * highlight.js normally returns an HTML string. Here its documented `__emitter` hook
 * receives the scopes and text instead, and builds `<span class="hljs-…">` nodes whose
 * text stays text, so nothing is ever parsed as HTML (the webview's CSP forbids inline
 * styles and scripts anyway). Only a set of common languages is bundled; an unknown or
 * missing language shows the code plain, never guessed.
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import kotlin from 'highlight.js/lib/languages/kotlin';
import makefile from 'highlight.js/lib/languages/makefile';
import markdown from 'highlight.js/lib/languages/markdown';
import php from 'highlight.js/lib/languages/php';
import plaintext from 'highlight.js/lib/languages/plaintext';
import python from 'highlight.js/lib/languages/python';
import ruby from 'highlight.js/lib/languages/ruby';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import swift from 'highlight.js/lib/languages/swift';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { h, type VElement, type VNode } from './vnode';

/** Longest code block that is highlighted; longer ones are shown plain. */
export const MAX_HIGHLIGHT_CHARS = 50_000;

/** `title.function` → `hljs-title hljs-function`: safe class names only. */
function scopeClass(scope: string): string {
    return scope
        .split('.')
        .map((part) => `hljs-${part.replace(/[^a-zA-Z0-9_-]/g, '')}`)
        .join(' ');
}

/** Receives highlight.js's scopes and text and builds VNodes (the `__emitter` contract). */
class VNodeEmitter {
    readonly root: VElement = h('span');
    private readonly stack: VElement[] = [this.root];

    constructor(_options: unknown) {}

    private add(node: VNode): void {
        const top = this.stack[this.stack.length - 1];
        (top.children ??= []).push(node);
    }

    addText(text: string): void {
        if (text) {
            this.add(text);
        }
    }

    startScope(scope: string): void {
        const el = h('span', { class: scopeClass(scope) });
        this.add(el);
        this.stack.push(el);
    }

    endScope(): void {
        if (this.stack.length > 1) {
            this.stack.pop();
        }
    }

    /** The older names highlight.js 11 still calls for mode scopes. */
    openNode(scope: string): void {
        this.startScope(scope);
    }

    closeNode(): void {
        this.endScope();
    }

    __addSublanguage(emitter: VNodeEmitter, name: string): void {
        const el = emitter.root;
        if (name) {
            el.attrs = { class: `language-${name.replace(/[^a-zA-Z0-9_-]/g, '')}` };
        }
        this.add(el);
    }

    finalize(): void {
        // nothing to close: unbalanced scopes are simply left open in the tree
    }

    toHTML(): string {
        return ''; // never used: the tree is read instead
    }
}

const engine = hljs.newInstance();
engine.configure({ __emitter: VNodeEmitter as never });
for (const [name, lang] of Object.entries({
    bash, c, cpp, csharp, css, diff, dockerfile, go, ini, java, javascript, json, kotlin, makefile,
    markdown, php, plaintext, python, ruby, rust, shell, sql, swift, typescript, xml, yaml,
})) {
    engine.registerLanguage(name, lang);
}
engine.registerAliases(['sh', 'zsh', 'console'], { languageName: 'bash' });
engine.registerAliases(['toml'], { languageName: 'ini' });

/** Whether a code block in this language gets colours. */
export function canHighlight(language: string): boolean {
    return Boolean(language) && engine.getLanguage(language) !== undefined;
}

/** The code as nodes: highlighted spans for a known language, else the plain text. */
export function highlightCode(code: string, language: string): VNode[] {
    if (!canHighlight(language) || code.length > MAX_HIGHLIGHT_CHARS) {
        return code ? [code] : [];
    }
    try {
        const result = engine.highlight(code, { language, ignoreIllegals: true });
        if (result.errorRaised) {
            return [code];
        }
        const emitter = result._emitter as unknown as VNodeEmitter;
        return emitter.root.children ?? [];
    } catch {
        return code ? [code] : [];
    }
}
