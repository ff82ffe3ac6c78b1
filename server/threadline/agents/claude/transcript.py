"""One Claude Code transcript file, read incrementally into a session summary.

The summary (title, project, times, counts, usage, model, how the last turn ended) is
kept up to date from appended bytes only; Messages themselves are not kept in memory
beyond the newest one: pages are re-read from disk by byte range when asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadline.agents.claude.records import (
    INTERRUPTED_TEXT,
    MessageBuilder,
    build_messages,
    one_line,
    prompt_title,
)
from threadline.jsonl import JsonlTail, read_range
from threadline.protocol import Message, Usage

SEARCH_CHUNK = 1024 * 1024


@dataclass(slots=True)
class Refresh:
    """What one :meth:`ClaudeTranscript.refresh` found."""

    changed: bool = False
    appended_from: int | None = None
    """Index of the first Message created or grown (None when no Message changed)."""
    appended: list[Message] = field(default_factory=list)
    reset: bool = False


@dataclass(slots=True)
class Ending:
    """How the conversation in the file ends, for the status of a session no process holds."""

    kind: str = "empty"
    """``empty``, ``reply`` (a final assistant reply), ``tool`` (waiting on a tool),
    ``prompt`` (a prompt without reply), ``api_error`` or ``interrupted``."""
    error: str | None = None


class ClaudeTranscript:
    """Incremental summary of ``<config>/projects/<project>/<sessionId>.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.session_id = path.stem
        self._tail = JsonlTail(str(path))
        self._reset_summary()

    def _reset_summary(self) -> None:
        self.builder = MessageBuilder()
        self.cwd: str | None = None
        self.created_at: str | None = None
        self.updated_at: str | None = None
        self.git_branch: str | None = None
        self.model: str | None = None
        self.custom_title: str | None = None
        self.first_prompt: str | None = None
        self.cost_usd: float | None = None
        self.ending = Ending()
        self.parent_session_id: str | None = None

    @property
    def exists(self) -> bool:
        return self._tail.identity is not None

    @property
    def size(self) -> int:
        """Bytes parsed so far."""
        return self._tail.offset

    @property
    def malformed_lines(self) -> int:
        return self._tail.malformed

    @property
    def message_count(self) -> int:
        return self.builder.count

    @property
    def usage(self) -> Usage:
        total = self.builder.usage.model_copy()
        total.cost_usd = self.cost_usd
        return total

    @property
    def title(self) -> str | None:
        return self.custom_title or self.first_prompt

    def refresh(self) -> Refresh:
        """Parse what was appended since the last refresh."""
        records, reset = self._tail.read_new()
        result = Refresh(reset=reset)
        if reset:
            self._reset_summary()
        touched: dict[int, Message] = {}
        for record in records:
            self._summarize(record.data)
            index = self.builder.add(record)
            if index is not None and self.builder.last is not None:
                touched[index] = self.builder.last
                self._note_ending(self.builder.last, record.data)
        result.changed = bool(records) or reset
        if touched:
            first = min(touched)
            result.appended_from = first
            result.appended = [touched[i] for i in range(first, self.builder.count)]
        return result

    def _summarize(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        timestamp = data.get("timestamp")
        if isinstance(timestamp, str):
            if self.created_at is None:
                self.created_at = timestamp
            if self.updated_at is None or timestamp > self.updated_at:
                self.updated_at = timestamp
        if self.cwd is None and isinstance(data.get("cwd"), str):
            self.cwd = data["cwd"]
        if isinstance(data.get("gitBranch"), str) and data["gitBranch"]:
            self.git_branch = data["gitBranch"]
        if kind == "custom-title" and isinstance(data.get("customTitle"), str):
            self.custom_title = one_line(data["customTitle"]) or self.custom_title
        elif kind == "cost-state" and isinstance(data.get("totalCostUSD"), int | float):
            self.cost_usd = float(data["totalCostUSD"])
        elif kind == "user" and self.first_prompt is None:
            self.first_prompt = prompt_title(data)
        elif kind == "assistant":
            message = data.get("message")
            model = message.get("model") if isinstance(message, dict) else None
            if isinstance(model, str) and model != "<synthetic>":
                self.model = model
            requested = data.get("requestSessionId")
            if self.parent_session_id is None and isinstance(requested, str) and requested != self.session_id:
                self.parent_session_id = requested

    def _note_ending(self, message: Message, data: dict[str, Any]) -> None:
        if message.is_sidechain:
            return
        if message.role == "assistant":
            if data.get("isApiErrorMessage"):
                text = next((b.text for b in message.content if b.type == "text"), "API error")
                self.ending = Ending("api_error", one_line(text, 500))
                return
            raw = data.get("message") or {}
            stop = raw.get("stop_reason") if isinstance(raw, dict) else None
            has_tool = any(b.type == "tool_use" for b in message.content)
            self.ending = Ending("tool" if has_tool and stop in ("tool_use", None) else "reply")
        elif message.role == "user":
            texts = [b.text for b in message.content if b.type == "text"]
            if any(t.startswith(INTERRUPTED_TEXT) for t in texts):
                self.ending = Ending("interrupted")
            elif message.is_meta:
                return
            elif all(b.type == "tool_result" for b in message.content) and message.content:
                self.ending = Ending("tool")
            else:
                self.ending = Ending("prompt")

    def read_messages(self, offset: int, limit: int) -> list[Message]:
        """Messages ``offset`` … ``offset+limit-1``, re-read from disk by byte range."""
        offsets = self.builder.offsets
        if offset >= len(offsets) or limit <= 0:
            return []
        start = offsets[offset]
        stop = offset + limit
        end = offsets[stop] if stop < len(offsets) else self._tail.offset
        messages = build_messages(read_range(str(self.path), start, end))
        return messages[:limit]

    def contains(self, query: str) -> bool:
        """Case-insensitive search of the title and message texts, streaming the file."""
        needle = query.casefold()
        if self.title and needle in self.title.casefold():
            return True
        if not self._raw_contains(needle):
            return False
        for message in self.read_messages(0, self.message_count):
            for block in message.content:
                text = getattr(block, "text", None)
                if isinstance(text, str) and needle in text.casefold():
                    return True
                if block.type == "tool_use" and needle in str(block.input).casefold():
                    return True
        return False

    def _raw_contains(self, needle: str) -> bool:
        """Cheap pre-check on raw bytes before any JSON is parsed (may over-accept)."""
        words = [w for w in re.split(r"[\"\\\s]+", needle) if w]
        probe = max(words, key=len, default="").encode()
        if not probe:
            return True
        overlap = len(probe)
        previous = b""
        with open(self.path, "rb") as handle:
            while chunk := handle.read(SEARCH_CHUNK):
                window = (previous + chunk).lower()
                if probe in window:
                    return True
                previous = chunk[-overlap:]
        return False
