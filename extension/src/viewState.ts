/**
 * What the Sessions view says above (or instead of) its rows, and its description.
 *
 * Pure (no `vscode` import): `extension.ts` feeds it the current state and puts the result
 * on the TreeView; the unit tests check each state.
 */

export interface ViewInputs {
    serverState: 'stopped' | 'starting' | 'running' | 'failed';
    /** The first session lists of this server have arrived. */
    loaded: boolean;
    /** The tree has no rows. */
    empty: boolean;
    hasFolders: boolean;
    filter: string;
    /** Why the last listing failed, or empty. */
    loadError: string;
}

export interface ViewText {
    /** The message shown in the view, or undefined for none. */
    message: string | undefined;
    /** The view's description (next to its title), or undefined. */
    description: string | undefined;
}

export function viewText(v: ViewInputs): ViewText {
    const description = v.filter ? `filter: ${v.filter}` : undefined;
    let message: string | undefined;
    if (v.serverState === 'failed') {
        message = 'The Threadline server is not running. Check the "threadline.server.command" setting, then run "Threadline: Restart Server".';
    } else if (!v.hasFolders) {
        message = undefined; // the welcome view asks for a folder
    } else if (v.serverState === 'starting' || (v.serverState === 'stopped' && !v.loaded)) {
        message = 'Starting the Threadline server…';
    } else if (!v.loaded) {
        message = v.filter ? `Searching sessions for "${v.filter}"…` : 'Loading sessions…';
    } else if (v.loadError) {
        message = v.loadError;
    } else if (v.empty) {
        message = v.filter ? `No sessions match "${v.filter}". Clear the filter to see all.` : 'No agent sessions in this workspace yet.';
    } else if (v.filter) {
        message = undefined;
    }
    return { message, description };
}
