"""Claude Code's ``--output-format stream-json --verbose`` stdout, read into a turn outcome.

The ``result`` event decides: ``is_error`` → failed, ``permission_denials`` → waiting
for the user, else completed. A process that exits without a ``result`` was killed or
crashed (interrupted), or refused to start (failed, with its stderr as the reason).
"""

from __future__ import annotations

from typing import Any

from threadline.agents.base import TurnOutcome
from threadline.agents.claude.records import one_line, usage_from
from threadline.jsonl import parse_line


class ClaudeTurnMonitor:
    """Implements :class:`threadline.agents.base.TurnMonitor` for Claude Code."""

    def __init__(self) -> None:
        self.result: dict[str, Any] | None = None
        self.init: dict[str, Any] | None = None
        self.asked_user = False
        self.last_api_error: str | None = None
        self.session_id: str | None = None
        """The id in the ``init`` event (the one the server passed)."""
        self.streaming_text: str | None = None
        """The assistant text generated so far that is not in the transcript yet
        (``--include-partial-messages``); None between messages."""

    def feed(self, line: bytes) -> bool:
        event = parse_line(line)
        if event is None:
            return False
        kind, subtype = event.get("type"), event.get("subtype")
        if kind == "system" and subtype == "init":
            self.init = event
            if isinstance(event.get("session_id"), str):
                self.session_id = event["session_id"]
        elif kind == "system" and subtype == "api_retry":
            self.last_api_error = f"API error {event.get('error_status')}: {event.get('error')}"
        elif kind == "assistant":
            # The whole block is in the transcript now: what streamed of it is no longer news.
            changed = self.streaming_text is not None
            self.streaming_text = None
            message = event.get("message")
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") == "AskUserQuestion"
                for b in content
            ):
                self.asked_user = True
            return changed
        elif kind == "stream_event":
            return self._partial(event.get("event"))
        elif kind == "result":
            self.result = event
            self.streaming_text = None
            return True
        return False

    def _partial(self, event: Any) -> bool:
        """A partial-message event: grow the streaming text, or drop it once the message is whole."""
        if not isinstance(event, dict):
            return False
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                self.streaming_text = (self.streaming_text or "") + delta["text"]
                return True
        elif kind in ("message_start", "message_stop") and self.streaming_text is not None:
            self.streaming_text = None
            return True
        return False

    def outcome(self, exit_code: int, stderr_tail: str, cancelled: bool) -> TurnOutcome:
        result = self.result
        if cancelled:
            return TurnOutcome("cancelled", cost_usd=_cost(result), usage=_usage(result))
        if result is None:
            if exit_code > 0 or (exit_code == 0 and stderr_tail):
                reason = _last_line(stderr_tail) or f"The agent exited with code {exit_code} without a result."
                return TurnOutcome("failed", last_error=reason)
            if exit_code == 0:
                return TurnOutcome("completed")
            return TurnOutcome("interrupted", last_error=f"The agent process ended by signal {-exit_code}.")
        cost, usage = _cost(result), _usage(result)
        if result.get("is_error"):
            text = result.get("result")
            error: str | None = one_line(text, 500) if isinstance(text, str) and text else None
            api_status = result.get("api_error_status")
            error = error or self.last_api_error or (f"API error {api_status}" if api_status else None)
            return TurnOutcome("failed", last_error=error or "The turn ended in an error.", cost_usd=cost, usage=usage)
        if result.get("subtype") == "error_during_execution":
            return TurnOutcome("interrupted", last_error="The turn was interrupted.", cost_usd=cost, usage=usage)
        if result.get("subtype", "success") != "success":
            return TurnOutcome(
                "failed", last_error=f"The turn ended with {result.get('subtype')}.", cost_usd=cost, usage=usage
            )
        if result.get("permission_denials") or self.asked_user:
            return TurnOutcome("waiting_for_input", cost_usd=cost, usage=usage)
        if exit_code != 0:
            return TurnOutcome(
                "failed",
                last_error=_last_line(stderr_tail) or f"The agent exited with code {exit_code}.",
                cost_usd=cost,
                usage=usage,
            )
        return TurnOutcome("completed", cost_usd=cost, usage=usage)


def _cost(result: dict[str, Any] | None) -> float | None:
    value = result.get("total_cost_usd") if result else None
    return float(value) if isinstance(value, int | float) else None


def _usage(result: dict[str, Any] | None) -> Any:
    return usage_from(result.get("usage")) if result else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return one_line(lines[-1], 500) if lines else ""
