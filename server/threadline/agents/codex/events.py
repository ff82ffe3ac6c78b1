"""``codex exec --json`` stdout, read into the thread id and a turn outcome.

Line 1 is ``thread.started`` with the id (Codex mints it; nothing can choose it). A turn
ends with ``turn.completed`` or ``turn.failed``; the exit code alone decides nothing: a
SIGINT'ed Codex exits 1 with no terminal event, a failed turn also exits 1. Agent text
arrives only as whole ``item.completed`` items (no deltas in this mode).

``turn.completed.usage`` is the thread's running total (a resume reports the earlier
turns too, a fork its parent's), so the outcome carries no usage: the rollout's token
counts, differenced per turn, are the session's figures.
"""

from __future__ import annotations

from typing import Any

from threadline.agents.base import TurnOutcome
from threadline.agents.codex.rollout import one_line
from threadline.jsonl import parse_line

ASKING_ITEMS = frozenset({"approval_request", "user_input_request"})


class CodexTurnMonitor:
    """Implements the ``TurnMonitor`` protocol for ``codex exec --json``."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.streaming_text: str | None = None
        self.turn_started = False
        self.completed: dict[str, Any] | None = None
        self.failed: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.asked_user = False
        self.agent_text: str | None = None
        """The newest whole agent message of this turn."""

    def feed(self, line: bytes) -> bool:
        event = parse_line(line)
        if event is None:
            return False
        kind = event.get("type")
        if kind == "thread.started":
            thread_id = event.get("thread_id")
            if isinstance(thread_id, str) and thread_id and self.session_id is None:
                self.session_id = thread_id
                return True
            return False
        if kind == "turn.started":
            self.turn_started = True
            return False
        if kind in ("item.started", "item.updated", "item.completed"):
            item = event.get("item")
            if not isinstance(item, dict):
                return False
            item_type = item.get("type")
            if item_type == "agent_message" and isinstance(item.get("text"), str):
                if kind == "item.completed":
                    self.agent_text = item["text"]
                    self.streaming_text = None
                else:
                    self.streaming_text = item["text"]
                return True
            if item_type == "error" and isinstance(item.get("message"), str):
                self.last_error = one_line(item["message"], 500)
            elif item_type in ASKING_ITEMS:
                self.asked_user = True
            return kind == "item.completed"
        if kind == "error":
            message = event.get("message")
            if isinstance(message, str) and message:
                self.last_error = one_line(message, 500)
            return False
        if kind == "turn.completed":
            self.completed = event
            self.streaming_text = None
            return True
        if kind == "turn.failed":
            self.failed = event
            self.streaming_text = None
            return True
        return False

    def outcome(self, exit_code: int, stderr_tail: str, cancelled: bool) -> TurnOutcome:
        if self.completed is not None:
            if cancelled:
                return TurnOutcome("cancelled")
            return TurnOutcome("waiting_for_input" if self.asked_user else "completed")
        if self.failed is not None:
            error = self.failed.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            text = one_line(message, 500) if isinstance(message, str) and message else self.last_error
            return TurnOutcome("failed", last_error=text or "The turn failed.")
        if cancelled:
            return TurnOutcome("cancelled")
        reason = _error_line(stderr_tail)
        if self.session_id is None:
            reason = reason or _last_line(stderr_tail)
            return TurnOutcome("failed", last_error=reason or f"Codex exited with code {exit_code} before starting.")
        if exit_code < 0:
            return TurnOutcome("interrupted", last_error=f"The agent process ended by signal {-exit_code}.")
        if reason:
            return TurnOutcome("failed", last_error=reason)
        return TurnOutcome("interrupted", last_error="The agent exited before the turn ended.")


def _error_line(stderr: str) -> str:
    """The ``Error: …`` line of Codex's stderr (a Rust backtrace may follow it), else ''."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error:") or line.startswith("Error loading"):
            return one_line(line.removeprefix("Error:").strip(), 500)
    return ""


def _last_line(stderr: str) -> str:
    """The last line of stderr that says something (not Codex's note about reading stdin)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not (line.startswith("Reading ") and line.endswith("stdin..."))]
    return one_line(lines[-1], 500) if lines else ""
