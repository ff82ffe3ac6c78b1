/**
 * The messages of one transcript that a panel has loaded: a window
 * `[start, end)` of the session's Message list, kept by index.
 *
 * Pure (no `vscode` import). The panel feeds it pages from `session/messages` and
 * the `appended` Messages of `session/updated`, and sends what changed to the webview.
 */
import type { Message } from './protocol';

export interface IndexedMessage {
    index: number;
    message: Message;
}

/** What an update did: the changed messages, or a gap that needs a fetch. */
export interface ApplyResult {
    changed: IndexedMessage[];
    /** Set when messages between the loaded end and the update are missing. */
    gapFrom?: number;
}

export class TranscriptModel {
    private readonly messages = new Map<number, Message>();
    private startIndex = 0;
    private endIndex = 0;
    private totalCount = 0;
    private loadedOnce = false;

    /** Index of the first loaded message. */
    get start(): number {
        return this.startIndex;
    }

    /** One past the last loaded message. */
    get end(): number {
        return this.endIndex;
    }

    /** Messages in the whole transcript, as far as we know. */
    get total(): number {
        return this.totalCount;
    }

    get loaded(): boolean {
        return this.loadedOnce;
    }

    /** Whether messages before the loaded window exist. */
    get hasEarlier(): boolean {
        return this.startIndex > 0;
    }

    /** All loaded messages in order. */
    list(): IndexedMessage[] {
        const out: IndexedMessage[] = [];
        for (let i = this.startIndex; i < this.endIndex; i++) {
            const message = this.messages.get(i);
            if (message) {
                out.push({ index: i, message });
            }
        }
        return out;
    }

    /** Forgets everything (before a reload). */
    reset(): void {
        this.messages.clear();
        this.startIndex = 0;
        this.endIndex = 0;
        this.totalCount = 0;
        this.loadedOnce = false;
    }

    /**
     * Takes a page from `session/messages`. The first page sets the window; later pages
     * must touch or overlap it (earlier pages, or the tail after a gap).
     */
    applyPage(offset: number, page: readonly Message[], total: number): ApplyResult {
        const changed: IndexedMessage[] = [];
        if (!this.loadedOnce) {
            this.startIndex = offset;
            this.endIndex = offset;
            this.loadedOnce = true;
        }
        const pageEnd = offset + page.length;
        if (pageEnd < this.startIndex || offset > this.endIndex) {
            // Disjoint: start over with this page.
            this.messages.clear();
            this.startIndex = offset;
            this.endIndex = offset;
        }
        page.forEach((message, i) => {
            this.messages.set(offset + i, message);
            changed.push({ index: offset + i, message });
        });
        this.startIndex = Math.min(this.startIndex, offset);
        this.endIndex = Math.max(this.endIndex, pageEnd);
        this.totalCount = Math.max(total, this.endIndex);
        return { changed };
    }

    /**
     * Takes the `appended` Messages of `session/updated`, starting at index `from`.
     * A message at a known index replaces the old one (it grew); new ones extend the
     * window. If `from` lies beyond the loaded end, nothing is applied and `gapFrom`
     * says where to fetch from.
     */
    applyAppended(from: number, appended: readonly Message[]): ApplyResult {
        if (!this.loadedOnce) {
            return { changed: [], gapFrom: 0 };
        }
        if (from > this.endIndex) {
            return { changed: [], gapFrom: this.endIndex };
        }
        const changed: IndexedMessage[] = [];
        appended.forEach((message, i) => {
            const index = from + i;
            if (index < this.startIndex) {
                return; // before the window: not shown, nothing to replace
            }
            this.messages.set(index, message);
            changed.push({ index, message });
        });
        this.endIndex = Math.max(this.endIndex, from + appended.length);
        this.totalCount = Math.max(this.totalCount, this.endIndex);
        return { changed };
    }
}
