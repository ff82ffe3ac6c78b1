"""Claude Code records → a session Summary, folded incrementally on plain dicts.

This is the indexing path: every byte of every transcript goes through :meth:`add`, so
it builds no wire model. It keeps exactly the bookkeeping of
:class:`~threadline.agents.claude.records.MessageBuilder` (which builds the Messages of a
page on demand): the same records become Messages, consecutive assistant records that
share ``message.id`` merge into one, and usage counts once per ``message.id`` +
``requestId``. Its state is small and JSON-able, so another process can go on from the
stored offset.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from threadline.agents.base import Summary
from threadline.agents.claude.records import (
    CONVERSATION_TYPES,
    INTERRUPTED_TEXT,
    _system_text,
    message_key,
    one_line,
    prompt_title,
    tool_result_text,
)

COUNTED_WINDOW = 512
"""How many recent ``message.id:requestId`` keys are remembered to count usage once.

Claude Code writes the records of one API message together, so a short window dedupes
exactly what a full set would, while the state stays small for a 300 MB transcript."""

_TOKEN_FIELDS = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_creation_tokens", "cache_creation_input_tokens"),
    ("cache_read_tokens", "cache_read_input_tokens"),
)


def block_texts(content: Any) -> list[str]:
    """The searchable texts of a message's content, as its protocol blocks will show them."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if not isinstance(content, list):
        return texts
    for item in content:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            texts.append(str(item.get("text", "")))
        elif kind == "thinking":
            texts.append(str(item.get("thinking", item.get("text", ""))))
        elif kind in ("tool_use", "server_tool_use"):
            texts.append(input_text(item.get("input")))
        elif kind == "tool_result":
            texts.append(tool_result_text(item.get("content")))
    return texts


def input_text(value: Any) -> str:
    """A tool input as the text a search looks in (compact JSON, non-ASCII kept)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


class ClaudeSummarizer:
    """Folds a Claude Code transcript into a Summary; see the module docstring."""

    def __init__(self, session_id: str, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.summary = Summary.from_dict(state.get("summary", {}))
        self.summary.session_id = session_id
        self.offsets: list[int] = []
        self._last_key: str | None = state.get("lastKey")
        self._last_tool: bool = bool(state.get("lastTool", False))
        self._last_text: str | None = state.get("lastText")
        self._last_sidechain: bool = bool(state.get("lastSidechain", False))
        self._counted: OrderedDict[str, None] = OrderedDict.fromkeys(state.get("counted", []))
        self._touched: int | None = None
        self._texts: list[str] = []

    def state(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_dict(),
            "lastKey": self._last_key,
            "lastTool": self._last_tool,
            "lastText": self._last_text,
            "lastSidechain": self._last_sidechain,
            "counted": list(self._counted),
        }

    def take_touched(self) -> int | None:
        touched, self._touched = self._touched, None
        return touched

    def take_search_text(self) -> list[str]:
        texts, self._texts = self._texts, []
        return texts

    # -- folding ------------------------------------------------------------------------------
    def add(self, data: dict[str, Any], offset: int) -> None:
        self._summarize(data)
        kind = data.get("type")
        if kind not in CONVERSATION_TYPES:
            return
        sidechain = bool(data.get("isSidechain", False))
        if kind == "system":
            text = _system_text(data)
            if text is not None:
                self._texts.append(text)
                self._new_message(offset, None, sidechain)
            return
        message = data.get("message")
        if not isinstance(message, dict):
            return
        content = message.get("content")
        self._texts.extend(block_texts(content))
        if kind == "user":
            self._new_message(offset, None, sidechain)
            if not sidechain:
                self._note_user_ending(data, content)
            return
        key = message_key(data) or str(data.get("uuid", f"assistant-{offset}"))
        self._count_usage(f"{key}:{data.get('requestId', '')}", message.get("usage"))
        has_tool = _has_tool_use(content)
        first_text = _first_text(content)
        if self._last_key == key and self.summary.message_count > 0:
            self._mark(self.summary.message_count - 1)
            self._last_tool = self._last_tool or has_tool
            if self._last_text is None:
                self._last_text = first_text
        else:
            self._new_message(offset, key, sidechain)
            self._last_tool, self._last_text = has_tool, first_text
        if not self._last_sidechain:
            self._note_assistant_ending(data, message)

    def _new_message(self, offset: int, key: str | None, sidechain: bool) -> None:
        self._last_key = key
        self._last_sidechain = sidechain
        self.offsets.append(offset)
        self._mark(self.summary.message_count)
        self.summary.message_count += 1

    def _mark(self, index: int) -> None:
        if self._touched is None or index < self._touched:
            self._touched = index

    def _count_usage(self, key: str, raw: Any) -> None:
        if key in self._counted:
            return
        self._counted[key] = None
        if len(self._counted) > COUNTED_WINDOW:
            self._counted.popitem(last=False)
        if not isinstance(raw, dict):
            return
        summary = self.summary
        for attribute, name in _TOKEN_FIELDS:
            value = raw.get(name)
            if isinstance(value, int):
                setattr(summary, attribute, getattr(summary, attribute) + value)

    def _summarize(self, data: dict[str, Any]) -> None:
        summary = self.summary
        kind = data.get("type")
        timestamp = data.get("timestamp")
        if isinstance(timestamp, str):
            if summary.created_at is None:
                summary.created_at = timestamp
            if summary.updated_at is None or timestamp > summary.updated_at:
                summary.updated_at = timestamp
        if summary.cwd is None and isinstance(data.get("cwd"), str):
            summary.cwd = data["cwd"]
        branch = data.get("gitBranch")
        if isinstance(branch, str) and branch:
            summary.git_branch = branch
        if kind == "custom-title" and isinstance(data.get("customTitle"), str):
            title = one_line(data["customTitle"])
            if title:
                summary.custom_title = title
        elif kind == "cost-state" and isinstance(data.get("totalCostUSD"), int | float):
            summary.cost_usd = float(data["totalCostUSD"])
        elif kind == "user" and summary.first_prompt is None:
            summary.first_prompt = prompt_title(data)
        elif kind == "assistant":
            message = data.get("message")
            model = message.get("model") if isinstance(message, dict) else None
            if isinstance(model, str) and model != "<synthetic>":
                summary.model = model
            requested = data.get("requestSessionId")
            if summary.parent_session_id is None and isinstance(requested, str) and requested != summary.session_id:
                summary.parent_session_id = requested

    def _note_assistant_ending(self, data: dict[str, Any], message: dict[str, Any]) -> None:
        summary = self.summary
        if data.get("isApiErrorMessage"):
            summary.ending, summary.ending_error = "api_error", one_line(self._last_text or "API error", 500)
            return
        stop = message.get("stop_reason")
        summary.ending = "tool" if self._last_tool and stop in ("tool_use", None) else "reply"
        summary.ending_error = None

    def _note_user_ending(self, data: dict[str, Any], content: Any) -> None:
        summary = self.summary
        texts = [content] if isinstance(content, str) else _texts_of(content)
        if any(t.startswith(INTERRUPTED_TEXT) for t in texts):
            summary.ending, summary.ending_error = "interrupted", None
        elif data.get("isMeta", False):
            return
        elif _only_tool_results(content):
            summary.ending, summary.ending_error = "tool", None
        else:
            summary.ending, summary.ending_error = "prompt", None


def _texts_of(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"]


def _has_tool_use(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") in ("tool_use", "server_tool_use") for b in content
    )


def _first_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    texts = _texts_of(content)
    return texts[0] if texts else None


def _only_tool_results(content: Any) -> bool:
    """A user message made only of tool results (the blocks a Message would carry)."""
    if not isinstance(content, list):
        return False
    kinds = [
        b.get("type")
        for b in content
        if isinstance(b, dict)
        and b.get("type")
        in ("text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "tool_result", "image")
    ]
    return bool(kinds) and all(k == "tool_result" for k in kinds)
