"""Codex rollout records → a session Summary and protocol Messages.

A rollout line is ``{"timestamp", ["ordinal",] "type", "payload"}`` (with ``ordinal``:
the paginated history of 0.169+, without: the legacy shape; both are read alike). The
conversation is in the ``response_item`` lines, exactly what the model saw: messages,
reasoning, function calls and their outputs. ``event_msg`` lines repeat it for clients
(``item_completed``, legacy ``user_message`` / ``agent_message``) and are not read for
Messages, except what is only there: a turn's error (``task_complete.error``), an abort,
a request for approval, a thread name and the token counts.

Messages: consecutive assistant-side items (reasoning as thinking, text, tool calls) make
one assistant Message; consecutive tool outputs one user Message of tool_results, paired
by ``call_id``; each user prompt, abort and error its own Message. Everything here is
plain tuples on the reading path: pydantic objects are built only in :func:`read_messages`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from threadline.agents.codex.interface import Summary
from threadline.protocol import (
    ContentBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)

# A block is ("text", text) | ("thinking", text) | ("tool_use", id, name, input)
# | ("tool_result", tool_use_id, text, is_error).
Block = tuple[Any, ...]

META_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "<skills_instructions>",
    "<permissions instructions>",
    "<collaboration_mode>",
    "<apps_instructions>",
    "# AGENTS.md instructions",
)
"""User-role texts Codex injects itself: kept as ``is_meta`` Messages, never a title."""
ABORT_PREFIX = "<turn_aborted>"
INTERRUPTED = "The turn was interrupted."
APPROVAL_EVENTS = frozenset(
    {
        "exec_approval_request",
        "apply_patch_approval_request",
        "request_user_input",
        "request_permissions",
        "elicitation_request",
    }
)
"""``event_msg`` types by which Codex asks the user and waits."""
ASKING_TOOLS = frozenset({"request_user_input"})
ASSISTANT_ITEMS = frozenset({"reasoning", "function_call", "custom_tool_call", "local_shell_call", "web_search_call"})
OUTPUT_ITEMS = frozenset({"function_call_output", "custom_tool_call_output"})
RESPONSE_ITEM_TYPES = ASSISTANT_ITEMS | OUTPUT_ITEMS | {"message"}


def one_line(text: str, limit: int = 200) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def normalize(record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(type, payload)`` of a rollout line of either shape (None: not a record we know).

    The oldest rollouts (before ``payload`` existed) hold the response item itself on the
    line, and a session header with ``id`` and ``timestamp`` first.
    """
    kind = record.get("type")
    payload = record.get("payload")
    if isinstance(kind, str) and isinstance(payload, dict):
        return kind, payload
    if kind in RESPONSE_ITEM_TYPES:
        return "response_item", record
    if kind is None and isinstance(record.get("id"), str) and "timestamp" in record and "record_type" not in record:
        return "session_meta", record
    return None


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text")
    ]


def _output_text(output: Any) -> tuple[str, bool]:
    """A tool output's text and whether it failed (a string, or ``{content, success}``)."""
    if isinstance(output, str):
        return output, False
    if isinstance(output, dict):
        content = output.get("content")
        text = content if isinstance(content, str) else "\n".join(_texts(content))
        return text, output.get("success") is False
    if isinstance(output, list):
        return "\n".join(_texts(output)), False
    return "", False


def _tool_input(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


@dataclasses.dataclass(slots=True)
class Item:
    """One conversation item of a record: its side (how it groups) and its blocks."""

    side: str
    """``assistant`` and ``tool`` group with a preceding item of the same side;
    ``user`` and ``system`` always start a Message."""
    id: str
    blocks: list[Block]
    search: list[str]
    is_meta: bool = False
    ending: str | None = None
    ending_error: str | None = None
    prompt: str | None = None


def item_of(kind: str, payload: dict[str, Any], offset: int) -> Item | None:
    """The conversation item of one normalized record, or None."""
    if kind == "response_item":
        return _response_item(payload, offset)
    if kind != "event_msg":
        return None
    event = payload.get("type")
    if event == "task_complete":
        error = payload.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "The turn ended in an error.")
            info = error.get("codex_error_info")
            text = f"API error ({info}): {message}" if isinstance(info, str) else f"API error: {message}"
            return Item("system", f"error-{offset}", [("text", text)], [text], ending="api_error", ending_error=message)
        return None
    if event == "error":
        message = str(payload.get("message") or "The turn ended in an error.")
        text = f"API error: {message}"
        return Item("system", f"error-{offset}", [("text", text)], [text], ending="api_error", ending_error=message)
    if event == "turn_aborted":
        return Item("marker", "", [], [], ending="interrupted", ending_error=INTERRUPTED)
    if event in APPROVAL_EVENTS:
        return Item("marker", "", [], [], ending="waiting")
    return None


def _response_item(payload: dict[str, Any], offset: int) -> Item | None:
    kind = payload.get("type")
    item_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    if kind == "message":
        role = payload.get("role")
        texts = _texts(payload.get("content"))
        if role == "user":
            joined = "\n".join(texts)
            if joined.lstrip().startswith(ABORT_PREFIX):
                return Item(
                    "system",
                    item_id or f"aborted-{offset}",
                    [("text", INTERRUPTED)],
                    [],
                    ending="interrupted",
                    ending_error=INTERRUPTED,
                )
            meta = bool(texts) and all(t.lstrip().startswith(META_PREFIXES) for t in texts)
            if meta:
                return Item("user", item_id or f"user-{offset}", [("text", t) for t in texts], texts, is_meta=True)
            return Item(
                "user",
                item_id or f"user-{offset}",
                [("text", t) for t in texts],
                texts,
                ending="prompt",
                prompt=joined,
            )
        if role == "assistant":
            blocks: list[Block] = [("text", t) for t in texts]
            return Item("assistant", item_id or f"assistant-{offset}", blocks, texts, ending="reply")
        return None  # developer / system instructions: not conversation
    if kind == "reasoning":
        parts = [*(payload.get("summary") or []), *(payload.get("content") or [])]
        texts = [
            str(p.get("text", ""))
            for p in parts
            if isinstance(p, dict) and p.get("type") in ("summary_text", "reasoning_text", "text")
        ]
        texts = [t for t in texts if t]
        if not texts:
            return None  # encrypted only: nothing a person could read
        text = "\n\n".join(texts)
        return Item("assistant", item_id or f"reasoning-{offset}", [("thinking", text)], [text])
    if kind in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
        call_id = str(payload.get("call_id") or item_id or f"call-{offset}")
        if kind == "function_call":
            name, raw = str(payload.get("name", "")), payload.get("arguments")
        elif kind == "custom_tool_call":
            name, raw = str(payload.get("name", "")), payload.get("input")
        elif kind == "local_shell_call":
            name, raw = "local_shell", payload.get("action")
        else:
            name, raw = "web_search", payload.get("action")
        tool_input = _tool_input(raw)
        search = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
        ending = "waiting" if name in ASKING_TOOLS else "tool"
        return Item("assistant", item_id or call_id, [("tool_use", call_id, name, tool_input)], [search], ending=ending)
    if kind in OUTPUT_ITEMS:
        call_id = str(payload.get("call_id") or "")
        text, failed = _output_text(payload.get("output"))
        result: Block = ("tool_result", call_id, text, failed)
        return Item("tool", item_id or f"{call_id}-output", [result], [text], ending="tool")
    return None


class MessageFold:
    """Counts Messages as records arrive, the same way for a summary and for a page."""

    def __init__(self, count: int = 0, last_side: str | None = None) -> None:
        self.count = count
        self.last_side = last_side

    def place(self, item: Item) -> tuple[int, bool]:
        """``(index, created)`` of the Message ``item`` lands in."""
        if item.side in ("assistant", "tool") and item.side == self.last_side:
            return self.count - 1, False
        self.last_side = item.side
        self.count += 1
        return self.count - 1, True


def _usage_numbers(raw: Any) -> tuple[int, int, int, int]:
    """(input without cache, output, cache write, cache read) of a Codex usage object."""
    if not isinstance(raw, dict):
        return 0, 0, 0, 0

    def number(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else 0

    cached = number("cached_input_tokens")
    return max(0, number("input_tokens") - cached), number("output_tokens"), number("cache_write_input_tokens"), cached


class CodexSummarizer:
    """Implements the ``Summarizer`` protocol over one rollout's records, in file order.

    Usage: Codex writes cumulative totals (``token_count.info.total_token_usage``) after
    each model response; a turn's share is the difference to the previous total. The
    first count of a file has no previous one in it (a fork's totals include its parent's),
    so its ``last_token_usage`` is taken instead.
    """

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.summary = Summary()
        self.offsets: list[int] = []
        self._fold = MessageFold()
        self._touched: int | None = None
        self._search: list[str] = []
        self._total: tuple[int, int, int, int] | None = None
        if state:
            fields = {f.name for f in dataclasses.fields(Summary)}
            self.summary = Summary(**{k: v for k, v in state.get("summary", {}).items() if k in fields})
            self.offsets = list(state.get("offsets", []))
            self._fold = MessageFold(len(self.offsets), state.get("last_side"))
            total = state.get("total")
            self._total = tuple(total) if isinstance(total, list) and len(total) == 4 else None

    def add(self, record: dict[str, Any], offset: int) -> None:
        normalized = normalize(record)
        if normalized is None:
            return
        kind, payload = normalized
        summary = self.summary
        timestamp = record.get("timestamp")
        if isinstance(timestamp, str):
            if summary.created_at is None:
                summary.created_at = timestamp
            summary.updated_at = timestamp
        if kind == "session_meta":
            self._session_meta(payload)
            return
        if kind == "turn_context":
            model = payload.get("model")
            if isinstance(model, str) and model:
                summary.model = model
            if summary.cwd is None and isinstance(payload.get("cwd"), str):
                summary.cwd = payload["cwd"]
            return
        if kind == "event_msg":
            event = payload.get("type")
            if event == "token_count":
                self._token_count(payload.get("info"))
                return
            if event == "thread_name_updated":
                name = payload.get("thread_name") or payload.get("name")
                if isinstance(name, str) and name.strip():
                    summary.custom_title = one_line(name)
                return
        item = item_of(kind, payload, offset)
        if item is None:
            return
        if item.ending is not None and not item.is_meta:
            summary.ending = item.ending
            summary.ending_error = item.ending_error
        if item.prompt is not None and summary.first_prompt is None and item.prompt.strip():
            summary.first_prompt = one_line(item.prompt)
        if item.side == "marker":
            return
        index, created = self._fold.place(item)
        if created:
            self.offsets.append(offset)
        summary.message_count = self._fold.count
        if self._touched is None or index < self._touched:
            self._touched = index
        self._search.extend(t for t in item.search if t)

    def _session_meta(self, payload: dict[str, Any]) -> None:
        summary = self.summary
        if summary.session_id is not None:
            return  # a later header (an old resume) never renames the session
        session_id = payload.get("id") or payload.get("session_id")
        if isinstance(session_id, str):
            summary.session_id = session_id
        if isinstance(payload.get("cwd"), str):
            summary.cwd = payload["cwd"]
        if isinstance(payload.get("timestamp"), str):
            summary.created_at = payload["timestamp"]
        git = payload.get("git")
        if isinstance(git, dict) and isinstance(git.get("branch"), str):
            summary.git_branch = git["branch"]
        parent = payload.get("forked_from_id")
        if isinstance(parent, str):
            summary.parent_session_id = parent

    def _token_count(self, info: Any) -> None:
        if not isinstance(info, dict):
            return
        total = info.get("total_token_usage")
        if not isinstance(total, dict):
            return
        now = _usage_numbers(total)
        if self._total is None:
            delta = _usage_numbers(info.get("last_token_usage"))
        else:
            delta = tuple(max(0, a - b) for a, b in zip(now, self._total, strict=True))  # type: ignore[assignment]
        self._total = now
        summary = self.summary
        summary.input_tokens += delta[0]
        summary.output_tokens += delta[1]
        summary.cache_creation_tokens += delta[2]
        summary.cache_read_tokens += delta[3]

    def take_touched(self) -> int | None:
        touched, self._touched = self._touched, None
        return touched

    def take_search_text(self) -> list[str]:
        texts, self._search = self._search, []
        return texts

    def state(self) -> dict[str, Any]:
        return {
            "summary": dataclasses.asdict(self.summary),
            "offsets": list(self.offsets),
            "last_side": self._fold.last_side,
            "total": list(self._total) if self._total is not None else None,
        }


# --------------------------------------------------------------------------- Messages
def _block(block: Block) -> ContentBlock:
    kind = block[0]
    if kind == "text":
        return TextBlock(text=block[1])
    if kind == "thinking":
        return ThinkingBlock(text=block[1])
    if kind == "tool_use":
        return ToolUseBlock(id=block[1], name=block[2], input=block[3])
    return ToolResultBlock(tool_use_id=block[1], text=block[2], is_error=block[3])


_ROLES = {"user": "user", "tool": "user", "assistant": "assistant", "system": "system"}


def read_messages(path: Path, offsets: Sequence[int], end: int, start: int, limit: int) -> list[Message]:
    """Messages ``start .. start+limit-1`` of a rollout parsed up to byte ``end``.

    Reads only the byte range from the first wanted Message to ``end`` (or to the start
    of the first Message past the page): rollouts are append-only. Codex records the model
    per turn (``turn_context``), not per item, so a Message carries none (a page would
    depend on where it starts); the Summary has the session's model.
    """
    if start < 0 or limit <= 0 or start >= len(offsets):
        return []
    stop = offsets[start + limit] if start + limit < len(offsets) else end
    begin = offsets[start]
    if stop <= begin:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(begin)
            data = fh.read(stop - begin)
    except OSError:
        return []
    fold = MessageFold(count=start)
    messages: list[Message] = []
    position = begin
    for line in data.split(b"\n"):
        offset, position = position, position + len(line) + 1
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        normalized = normalize(record)
        if normalized is None:
            continue
        kind, payload = normalized
        item = item_of(kind, payload, offset)
        if item is None or item.side == "marker":
            continue
        index, created = fold.place(item)
        if index >= start + limit:
            break
        blocks = [_block(b) for b in item.blocks]
        if not created and messages:
            messages[-1].content.extend(blocks)
            continue
        timestamp = record.get("timestamp")
        messages.append(
            Message(
                id=item.id,
                role=_ROLES[item.side],  # type: ignore[arg-type]
                timestamp=timestamp if isinstance(timestamp, str) else None,
                content=blocks,
                is_meta=item.is_meta,
            )
        )
    return messages


def summarize_file(path: Path) -> tuple[CodexSummarizer, int]:
    """Fold a whole rollout (complete lines only); returns the summarizer and bytes read."""
    summarizer = CodexSummarizer()
    try:
        data = path.read_bytes()
    except OSError:
        return summarizer, 0
    cut = data.rfind(b"\n") + 1
    position = 0
    for line in data[:cut].split(b"\n"):
        offset, position = position, position + len(line) + 1
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            summarizer.add(record, offset)
    return summarizer, cut


__all__ = ["CodexSummarizer", "MessageFold", "item_of", "normalize", "read_messages", "summarize_file"]
