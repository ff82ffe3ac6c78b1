/**
 * The transcript webview's HTML shell. It carries no transcript data: a strict CSP
 * (`default-src 'none'`), the stylesheet and one nonce'd script. Pure (no `vscode` import)
 * so the browser test of the webview script loads the very same document.
 */
import { sessionIdOfState } from './webviewMessages';

export interface ShellParams {
    /** The webview's `cspSource` (where styles and fonts may come from). */
    cspSource: string;
    scriptUri: string;
    styleUri: string;
    /** A fresh random nonce for the one script. */
    nonce: string;
    sessionId: string;
}

export function transcriptHtml(shell: ShellParams): string {
    const csp = [
        "default-src 'none'",
        `style-src ${shell.cspSource}`,
        `font-src ${shell.cspSource}`,
        `img-src ${shell.cspSource}`,
        `script-src 'nonce-${shell.nonce}'`,
        "base-uri 'none'",
        "form-action 'none'",
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${shell.styleUri}">
<title>Transcript</title>
</head>
<body data-session-id="${sessionIdOfState({ sessionId: shell.sessionId }) ?? ''}">
<header id="header">
  <h1 id="title">Loading…</h1>
  <div class="meta">
    <span id="status" class="status"></span>
    <span id="model" class="chip"></span>
    <span id="tokens" class="chip"></span>
    <span id="cost" class="chip"></span>
  </div>
  <div class="id-line">
    <span class="label">Session</span>
    <code id="session-id"></code>
    <button id="copy-id" type="button" class="link-button" title="Copy the session id">Copy id</button>
  </div>
  <div id="last-error" class="last-error" role="status" hidden></div>
</header>
<main id="scroller">
  <button id="load-earlier" type="button" class="load-earlier" hidden>Load earlier messages</button>
  <div id="messages" aria-live="polite"></div>
  <div id="live" class="live-turn" aria-live="polite" hidden></div>
  <div id="empty" class="empty">No messages yet.</div>
</main>
<footer id="composer">
  <div id="problem" class="problem" role="alert" hidden></div>
  <section id="approval" class="approval" aria-label="Permission needed" hidden>
    <div class="approval-head"><strong>Permission needed:</strong> <span id="approval-what"></span></div>
    <div id="approval-reason" class="approval-reason"></div>
    <label class="approval-label" for="approval-prompt">Continue with</label>
    <input id="approval-prompt" type="text" spellcheck="false">
    <div class="approval-buttons">
      <button id="allow-rule" type="button">Allow and continue</button>
      <button id="allow-edits" type="button" class="secondary" title="Resume with permission mode acceptEdits: file edits in the project are allowed for this turn">Allow all edits</button>
      <code id="approval-rule" class="approval-rule"></code>
    </div>
  </section>
  <div id="composer-reason" class="reason" hidden></div>
  <div class="row">
    <textarea id="prompt" rows="3" aria-label="Reply" placeholder="Reply to continue this session (Ctrl+Enter to send)"></textarea>
    <button id="send" type="button">Send</button>
  </div>
</footer>
<script nonce="${shell.nonce}" src="${shell.scriptUri}"></script>
</body>
</html>`;
}
