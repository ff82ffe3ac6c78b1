"""Gemini CLI's ``-o stream-json`` stdout, read into a turn outcome.

``init`` (the session id) comes first; ``message`` events carry the user's prompt and the
assistant's text as deltas; ``tool_use`` / ``tool_result`` a tool round trip; ``error`` a
warning or error; ``result`` ends the turn (``status`` success or error). The ``result`` event
decides, never the exit code alone: on SIGINT or SIGTERM Gemini exits 0 **without** one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from threadline.agents.base import TurnOutcome
from threadline.agents.gemini.chat import APPROVAL_TOOLS, fold_file, is_stray, one_line
from threadline.agents.gemini.paths import GeminiPaths
from threadline.jsonl import parse_line
from threadline.protocol import Usage

REFUSALS = frozenset({"tool_not_registered", "policy_violation"})
"""How headless Gemini refuses a tool that needs approval: not registered without any rule
for it, "denied by policy" when ``--allowed-tools`` rules exist but do not cover the call."""


class GeminiTurnMonitor:
    """Implements ``TurnMonitor`` (ADAPTER.md) for Gemini CLI."""

    def __init__(self, paths: GeminiPaths | None = None) -> None:
        self.paths = paths
        self.started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.session_id: str | None = None
        self.streaming_text: str | None = None
        """Assistant text streamed in this model call and not yet in the chat file."""
        self.result: dict[str, Any] | None = None
        self.denied = False
        self.last_error: str | None = None
        self._tools: dict[str, str] = {}

    def feed(self, line: bytes) -> bool:
        event = parse_line(line)
        if event is None:
            return False
        kind = event.get("type")
        if kind == "init":
            value = event.get("session_id")
            self.session_id = value if isinstance(value, str) else self.session_id
            return True
        if kind == "message":
            if event.get("role") == "assistant" and isinstance(event.get("content"), str):
                self.streaming_text = (self.streaming_text or "") + event["content"]
                return True
            return False
        if kind == "tool_use":
            # Gemini writes the reply so far (with its tool calls) when the tools start.
            self.streaming_text = None
            self._tools[str(event.get("tool_id", ""))] = str(event.get("tool_name", ""))
            return True
        if kind == "tool_result":
            error = event.get("error")
            name = self._tools.get(str(event.get("tool_id", "")), "")
            if isinstance(error, dict) and name in APPROVAL_TOOLS and error.get("type") in REFUSALS:
                self.denied = True
            return True
        if kind == "error":
            if event.get("severity") == "error" and isinstance(event.get("message"), str):
                self.last_error = one_line(event["message"], 500)
            return False
        if kind == "result":
            self.result = event
            self.streaming_text = None
            return True
        return False

    def outcome(self, exit_code: int, stderr_tail: str, cancelled: bool) -> TurnOutcome:
        result = self.result
        usage = _usage(result)
        if cancelled:
            return TurnOutcome("cancelled", usage=usage)
        if result is None:
            if exit_code > 0:
                reason = _stderr_reason(stderr_tail) or f"Gemini CLI exited with code {exit_code} without a result."
                return TurnOutcome("failed", last_error=reason)
            if exit_code == 0:
                # Exit 0 without a result: a SIGINT / SIGTERM, or a finished turn whose last
                # stdout lines Node dropped at exit (seen after a ~1 MB prompt echo). The chat
                # file tells them apart: a reply written during this turn means it finished.
                ending = self._ending_on_disk()
                if ending in ("reply", "waiting"):
                    return TurnOutcome("completed" if ending == "reply" else "waiting_for_input")
                if ending == "api_error":
                    return TurnOutcome("failed", last_error=self.last_error or "The turn ended in an error.")
            how = "ended without a result" if exit_code == 0 else f"was ended by signal {-exit_code}"
            return TurnOutcome("interrupted", last_error=f"The Gemini CLI process {how}.")
        if result.get("status") != "success":
            error = result.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            text = one_line(message, 500) if isinstance(message, str) and message else self.last_error
            return TurnOutcome("failed", last_error=text or "The turn ended in an error.", usage=usage)
        if exit_code != 0:
            reason = _stderr_reason(stderr_tail) or f"Gemini CLI exited with code {exit_code}."
            return TurnOutcome("failed", last_error=reason, usage=usage)
        if self.denied:
            return TurnOutcome("waiting_for_input", usage=usage)
        return TurnOutcome("completed", usage=usage)

    def _ending_on_disk(self) -> str | None:
        """How this session's chat ends, if it changed during this turn (else None)."""
        if self.paths is None or self.session_id is None:
            return None
        for path in self.paths.chats_of(self.session_id):
            try:
                fold = fold_file(path, keep_raw=False)
            except OSError:
                continue
            summary = fold.summary()
            if summary.session_id != self.session_id or is_stray(summary):
                continue
            if summary.updated_at is None or summary.updated_at < self.started_at:
                return None
            return summary.ending
        return None


def _usage(result: dict[str, Any] | None) -> Usage | None:
    stats = result.get("stats") if result else None
    if not isinstance(stats, dict):
        return None

    def number(key: str) -> int:
        value = stats.get(key)
        return value if isinstance(value, int) else 0

    cached = number("cached")
    return Usage(
        input_tokens=max(0, number("input_tokens") - cached),
        output_tokens=number("output_tokens"),
        cache_read_tokens=cached,
    )


def _stderr_reason(text: str) -> str:
    """The line of stderr that says why (Gemini prints warnings and stack frames too)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("at ", "Warning: 256-color", "[STARTUP]"))]
    for line in reversed(lines):
        if line.startswith(("Error", "Invalid", "Gemini CLI is not running", "Please set an Auth")):
            return one_line(line, 500)
    return one_line(lines[-1], 500) if lines else ""
