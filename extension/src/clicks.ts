/**
 * Tells a double click on a tree row from a single one. A TreeItem's command runs on every
 * click, so the second run for the same row within a short time is the double click
 * (VS Code's own convention: a click previews, a double click keeps the editor open).
 *
 * Pure (no `vscode` import) for the unit tests.
 */
export class DoubleClick {
    private last: { key: string; at: number } | undefined;

    constructor(private readonly windowMs = 500) {}

    /** Records a click on `key`; true when it completes a double click. */
    click(key: string, now: number): boolean {
        const double = this.last !== undefined && this.last.key === key && now - this.last.at <= this.windowMs;
        this.last = double ? undefined : { key, at: now };
        return double;
    }
}
