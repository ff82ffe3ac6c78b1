"""What the Gemini-API stub answers and the fake ``gemini`` writes, in one place.

Stdlib only and import-light: the fake ``gemini`` imports it on every start. The same
markers as the Claude stub (``[[name]]`` / ``[[name:arg]]`` in the newest prompt) pick a
scenario, so one prompt drives the fake and the real CLI alike:

``[[tool]]`` / ``[[tool:ls]]``
    a ``list_directory`` call on ``.`` (read-only: runs without approval).
``[[tool:shell:CMD]]``
    a ``run_shell_command`` call (needs approval: ``--approval-mode yolo`` runs it).
``[[slow]]`` / ``[[slow:N]]``
    words ``w0 w1 …`` streamed over N seconds (default 20), then the plain reply.
``[[http500]]``
    HTTP 500 with a Google-style error body.
``[[thinking]]``
    a thought part (``thought: true``) before the reply.
``[[nofinish]]``
    a stream that ends without ``finishReason``.

Otherwise the reply is ``stub reply #N to: <prompt>``, N being the number of prompts in the
conversation so far (so a resumed session's second turn is ``#2``). Long prompts are quoted
by their first 60 characters and their length.
"""

from __future__ import annotations

import json
import re
from typing import Any

MARKER_RE = re.compile(r"\[\[([a-z0-9]+)(?::([^\]]*))?\]\]")
DEFAULT_SLOW_SECONDS = 20.0
SLOW_WORD_INTERVAL = 0.25
SESSION_CONTEXT = "<session_context>"
MAIN_MODEL = "gemini-3.8-flash"
ROUTER_MODEL = "gemini-3.5-flash-lite"


def find_markers(text: str) -> dict[str, str | None]:
    """``[[name]]`` / ``[[name:arg]]`` markers of ``text`` as ``{name: arg}`` (first wins)."""
    found: dict[str, str | None] = {}
    for match in MARKER_RE.finditer(text):
        found.setdefault(match.group(1), match.group(2))
    return found


def quote(prompt: str) -> str:
    """The prompt as a reply quotes it: whole when short, else its start and length."""
    if len(prompt) <= 200:
        return prompt
    return f"{prompt[:60]}… ({len(prompt)} chars)"


def plain_reply(prompt: str, turn: int) -> str:
    return f"stub reply #{turn} to: {quote(prompt)}"


THOUGHT_SUBJECT = "Stub plan"


def thought_text(prompt: str) -> str:
    """A thought part's text as models send it: a bold subject line, then the description."""
    return f"**{THOUGHT_SUBJECT}**\n\nthinking about: {quote(prompt)}"


def tool_call(spec: str | None) -> tuple[str, dict[str, Any]]:
    """The function call a ``[[tool:KIND:ARG]]`` marker asks for: ``(name, args)``."""
    kind, _, arg = (spec or "ls").partition(":")
    if kind == "shell":
        return "run_shell_command", {"command": arg or "echo stub-tool-ok"}
    return "list_directory", {"dir_path": arg or "."}


def tool_reply(name: str, output: str) -> str:
    return f"stub saw {name} result: {quote(output)}"


def slow_words(arg: str | None) -> tuple[float, list[str]]:
    try:
        seconds = float(arg) if arg else DEFAULT_SLOW_SECONDS
    except ValueError:
        seconds = DEFAULT_SLOW_SECONDS
    seconds = max(0.0, seconds)
    return seconds, [f"w{i} " for i in range(max(1, round(seconds / SLOW_WORD_INTERVAL)))]


def error_body(status: int) -> dict[str, Any]:
    return {"error": {"code": status, "message": f"stub: forced failure {status}", "status": "INTERNAL"}}


def response_text(value: Any) -> str:
    """The text of a ``functionResponse.response`` (``{"output": …}`` or anything else)."""
    if isinstance(value, dict) and isinstance(value.get("output"), str):
        return str(value["output"])
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return str(value["error"])
    return json.dumps(value, sort_keys=True)
