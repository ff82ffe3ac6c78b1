/** Command, view and context-key ids, named once (same strings as package.json). */

export const Commands = {
    startWorkflow: 'threadline.startWorkflow',
    openTranscript: 'threadline.openTranscript',
    resumeSession: 'threadline.resumeSession',
    forkSession: 'threadline.forkSession',
    setActiveSession: 'threadline.setActiveSession',
    clearActiveSession: 'threadline.clearActiveSession',
    cancelWorkflow: 'threadline.cancelWorkflow',
    copySessionId: 'threadline.copySessionId',
    revealTranscript: 'threadline.revealTranscript',
    refresh: 'threadline.refresh',
    filterSessions: 'threadline.filterSessions',
    clearFilter: 'threadline.clearFilter',
    restartServer: 'threadline.restartServer',
    showLog: 'threadline.showLog',
} as const;

export const Views = {
    container: 'threadline',
    sessions: 'threadline.sessions',
} as const;

export const ContextKeys = {
    filtered: 'threadline.filtered',
    serverRunning: 'threadline.serverRunning',
    /** Set once the extension runs: until then a welcome text stands in for the tree. */
    activated: 'threadline.activated',
} as const;

/** The webview panel type of a transcript. */
export const TRANSCRIPT_VIEW_TYPE = 'threadline.transcript';
