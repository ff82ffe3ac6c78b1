"""Gemini CLI chat files → a Summary (incrementally) and protocol Messages (on demand).

A chat is JSONL whose lines are applied in order (Gemini's ``loadConversationRecord``):

* metadata ``{"sessionId", "projectHash", "startTime", "lastUpdated", "kind", …}``: merged,
  later wins. A resume writes a second one into the same file.
* a message, any object with a string ``id``: **upsert by id** (a tool turn writes its
  ``gemini`` message twice, the second time with ``toolCalls``).
* ``{"$set": {…}}``: a metadata patch; ``$set.messages`` replaces the whole list (a resume
  rewrites the history this way, with ``gemini`` content as a list of parts and no tokens; a
  failed turn rewrites it without its prompt).
* ``{"$rewindTo": "<id>"}``: drops that message and everything after it.

The first ``user`` message, ``<session_context>…``, is Gemini's own preamble: not a Message,
but its "Workspace Directories" line is where the session's project folder is recorded.
Messages: ``user`` prompts (``System: …`` notes of the CLI as meta), ``user`` tool results
(``functionResponse`` parts → ``tool_result`` blocks), ``gemini`` replies (thoughts →
``thinking``, text, ``toolCalls`` → ``tool_use``), ``info`` / ``warning`` / ``error`` →
``system``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from threadline.agents.base import Summary
from threadline.agents.gemini.paths import project_hash, project_root_of
from threadline.protocol import (
    ContentBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)

SESSION_CONTEXT = "<session_context>"
_WORKSPACE_RE = re.compile(r"\*\*Workspace Directories:\*\*\n\s*- ([^\n]+)")
SYSTEM_TYPES = frozenset({"info", "warning", "error"})
FAILED_TURN = "The turn failed: Gemini CLI dropped its prompt from the conversation."
# Tools that Gemini runs only with approval: in a headless run without it they are not
# registered, so a call to one is a refused permission (what `waiting_for_input` means).
APPROVAL_TOOLS = frozenset({"run_shell_command", "write_file", "replace", "edit", "web_fetch"})


def is_stray(summary: Summary) -> bool:
    """A chat file with no conversation ever: the header-only file a resume leaves when the
    minute changed (same ``sessionId`` as the real chat), or a start that never got its
    prompt written. The catalog must not list it as a session; when two files carry one
    session id, the one that is not stray is the session's transcript."""
    return summary.message_count == 0 and summary.first_prompt is None and summary.custom_title is None


def one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -------------------------------------------------------------------------- records
def _parts(content: Any) -> list[dict[str, Any]]:
    """A message's ``content`` as a Part list (a string is one text part)."""
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    return []


def _texts(parts: list[dict[str, Any]]) -> list[str]:
    return [p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought")]


def _kind(record: dict[str, Any]) -> str:
    """``context``, ``prompt``, ``meta``, ``tool_result``, ``reply`` or ``system``."""
    kind = record.get("type")
    if kind == "gemini":
        return "reply"
    if kind in SYSTEM_TYPES:
        return "system"
    parts = _parts(record.get("content"))
    if any(isinstance(p.get("functionResponse"), dict) for p in parts):
        return "tool_result"
    texts = _texts(parts)
    if texts and all(t.startswith(SESSION_CONTEXT) for t in texts):
        return "context"
    if texts and texts[0].startswith("System: "):
        return "meta"
    return "prompt"


def _response_text(response: Any) -> tuple[str, bool]:
    """The text of a ``functionResponse.response`` and whether it is an error."""
    if isinstance(response, dict):
        if isinstance(response.get("output"), str):
            return response["output"], False
        if isinstance(response.get("error"), str):
            return response["error"], True
    return orjson.dumps(response).decode() if response is not None else "", False


def _tokens(record: dict[str, Any]) -> tuple[int, int, int]:
    """(input without cache, output incl. thoughts, cached) of a ``gemini`` message."""
    tokens = record.get("tokens")
    if not isinstance(tokens, dict):
        return 0, 0, 0

    def number(key: str) -> int:
        value = tokens.get(key)
        return value if isinstance(value, int) else 0

    cached = number("cached")
    return max(0, number("input") - cached), number("output") + number("thoughts"), cached


def _search_texts(record: dict[str, Any], kind: str) -> list[str]:
    out: list[str] = []
    parts = _parts(record.get("content"))
    if kind == "tool_result":
        for part in parts:
            response = part.get("functionResponse")
            if isinstance(response, dict):
                out.append(_response_text(response.get("response"))[0])
        return out
    out.extend(_texts(parts))
    for thought in record.get("thoughts") or []:
        if isinstance(thought, dict):
            out.append(f"{thought.get('subject', '')} {thought.get('description', '')}".strip())
    for call in record.get("toolCalls") or []:
        if isinstance(call, dict):
            out.append(orjson.dumps(call.get("args")).decode())
    return [t for t in out if t]


def _is_response_copy(message_id: str, placed: dict[str, int]) -> bool:
    """A resume's rewrite turns a reply's tool calls into ``functionCall`` parts and follows it
    with ``<reply id>_response``, a copy of the tool results that the original result message
    (kept right after it) already holds: one tool call, one result."""
    return message_id.endswith(_RESPONSE_COPY) and message_id[: -len(_RESPONSE_COPY)] in placed


_RESPONSE_COPY = "_response"


def _tool_calls(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A reply's tool calls: ``toolCalls``, else (a rewritten reply) its ``functionCall`` parts."""
    calls = [c for c in record.get("toolCalls") or [] if isinstance(c, dict)]
    if calls:
        return calls
    parts = _parts(record.get("content"))
    return [dict(p["functionCall"]) for p in parts if isinstance(p.get("functionCall"), dict)]


def _denied(record: dict[str, Any]) -> bool:
    """Whether a reply's tool calls include one Gemini refused for want of approval."""
    for call in record.get("toolCalls") or []:
        if not isinstance(call, dict):
            continue
        status = call.get("status")
        if status in ("awaiting_approval", "cancelled") or (status == "error" and call.get("name") in APPROVAL_TOOLS):
            return True
    return False


# -------------------------------------------------------------------------- fold
class ChatFold:
    """Applies a chat's records in order. Entries are compact (JSON-able) unless ``keep_raw``."""

    def __init__(
        self, keep_raw: bool = False, state: dict[str, Any] | None = None, raw_ids: set[str] | None = None
    ) -> None:
        self.keep_raw = keep_raw
        self.raw_ids = raw_ids
        """With ``keep_raw``: keep the raw records of these messages only (None: of all)."""
        self.entries: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}
        self.meta: dict[str, Any] = {}
        self.context_ids: set[str] = set()
        self.cwd: str | None = None
        self.first_prompt: str | None = None
        self.created_at: str | None = None
        self.updated_at: str | None = None
        self.failed = False
        self.after_header = False
        self.seen: dict[str, dict[str, Any]] = {}
        """Every message id ever applied → its entry: a rewrite (``$set.messages``) leaves
        out tokens, model and thoughts, which are taken from here."""
        self.touched: int | None = None
        self.search: list[str] = []
        if state:
            self.entries = [dict(e) for e in state["entries"]]
            self.index = {e["id"]: i for i, e in enumerate(self.entries)}
            self.meta = dict(state["meta"])
            self.context_ids = set(state["context_ids"])
            self.cwd = state["cwd"]
            self.first_prompt = state["first_prompt"]
            self.created_at = state["created_at"]
            self.updated_at = state["updated_at"]
            self.failed = state["failed"]
            self.after_header = state["after_header"]
            self.seen = {e["id"]: e for e in self.entries}
            self.seen.update((k, dict(v)) for k, v in state["seen"].items())

    def state(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "meta": self.meta,
            "context_ids": sorted(self.context_ids),
            "cwd": self.cwd,
            "first_prompt": self.first_prompt,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "failed": self.failed,
            "after_header": self.after_header,
            "seen": {k: v for k, v in self.seen.items() if k not in self.index},
        }

    def _touch(self, index: int) -> None:
        self.touched = index if self.touched is None else min(self.touched, index)

    def _stamp(self, value: Any) -> None:
        if isinstance(value, str) and (self.updated_at is None or value > self.updated_at):
            self.updated_at = value

    def add(self, record: dict[str, Any], offset: int) -> None:
        if "$set" in record:
            patch = record["$set"]
            if isinstance(patch, dict):
                messages = patch.get("messages")
                if isinstance(messages, list):
                    self._replace(messages, offset)
                self._merge_meta({k: v for k, v in patch.items() if k != "messages"})
            return
        if "$rewindTo" in record:
            self._rewind(record["$rewindTo"])
            return
        if isinstance(record.get("id"), str):
            self._upsert(record, offset)
            return
        if "sessionId" in record or "startTime" in record:
            self._merge_meta(record)
            # A (re)started recording writes its header, then resets the list to the
            # session context: that reset is not a failed turn.
            self.after_header = True

    def _merge_meta(self, patch: dict[str, Any]) -> None:
        if not patch:
            return
        if self.created_at is None and isinstance(patch.get("startTime"), str):
            self.created_at = patch["startTime"]
        self._stamp(patch.get("lastUpdated"))
        self.meta.update(patch)

    def _entry(self, record: dict[str, Any], offset: int, kind: str) -> dict[str, Any]:
        tokens_in, tokens_out, cached = _tokens(record)
        entry: dict[str, Any] = {"id": record["id"], "kind": kind, "offset": offset}
        if kind == "reply":
            entry["tokens"] = [tokens_in, tokens_out, cached] if isinstance(record.get("tokens"), dict) else None
            entry["model"] = record.get("model") if isinstance(record.get("model"), str) else None
            entry["empty"] = not _texts(_parts(record.get("content"))) and not _tool_calls(record)
            entry["tools"] = bool(_tool_calls(record))
            entry["denied"] = _denied(record)
        elif kind == "system":
            entry["error"] = record.get("type") == "error"
            texts = _texts(_parts(record.get("content")))
            entry["text"] = one_line(texts[0], 500) if texts else None
        if self.keep_raw and (self.raw_ids is None or record["id"] in self.raw_ids):
            entry["raw"] = record
        return entry

    def _note_context(self, record: dict[str, Any]) -> None:
        self.context_ids.add(record["id"])
        if self.cwd is None:
            for text in _texts(_parts(record.get("content"))):
                match = _WORKSPACE_RE.search(text)
                if match:
                    self.cwd = match.group(1).strip()
                    return

    def _upsert(self, record: dict[str, Any], offset: int) -> None:
        kind = _kind(record)
        self._stamp(record.get("timestamp"))
        if kind == "context":
            self._note_context(record)
            return
        if kind == "prompt" and self.first_prompt is None:
            texts = [t for t in _texts(_parts(record.get("content"))) if t.strip()]
            if texts:
                self.first_prompt = one_line(texts[0])
        entry = self._entry(record, offset, kind)
        old = self.seen.get(entry["id"])
        if old is not None and entry.get("tokens") is None and old.get("tokens") is not None:
            entry["tokens"], entry["model"] = old["tokens"], entry.get("model") or old.get("model")
        self.seen[entry["id"]] = entry
        position = self.index.get(entry["id"])
        if position is None:
            self.index[entry["id"]] = len(self.entries)
            self.entries.append(entry)
            self._touch(len(self.entries) - 1)
            self.failed = False
        else:
            self.entries[position] = entry
            self._touch(position)
        self.search.extend(_search_texts(record, kind))

    def _replace(self, messages: list[Any], offset: int) -> None:
        """``$set.messages``: the whole list anew; known messages keep their tokens and
        (for the raw reader) their thoughts, which the rewrite leaves out."""
        old_entries = self.entries
        had_prompt_last = bool(old_entries) and old_entries[-1]["kind"] == "prompt"
        self.entries, self.index = [], {}
        for record in messages:
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            if _is_response_copy(record["id"], self.index):
                continue
            kind = _kind(record)
            if kind == "context":
                self._note_context(record)
                continue
            entry = self._entry(record, offset, kind)
            old = self.seen.get(entry["id"])
            if old is not None:
                entry["offset"] = old["offset"]
                if entry.get("tokens") is None and old.get("tokens") is not None:
                    entry["tokens"], entry["model"] = old["tokens"], entry.get("model") or old.get("model")
                for key in ("denied", "tools"):
                    if key in old:
                        entry[key] = old[key] or entry.get(key, False)
                if self.keep_raw and "raw" in old:
                    entry["raw"] = _merge_raw(old["raw"], record)
            else:
                self.search.extend(_search_texts(record, kind))
            self.seen[entry["id"]] = entry
            self.index[entry["id"]] = len(self.entries)
            self.entries.append(entry)
        same = 0
        for new, old in zip(self.entries, old_entries, strict=False):
            if new["id"] != old["id"]:
                break
            same += 1
        if same != len(old_entries) or len(self.entries) != len(old_entries):
            self._touch(same)
        if had_prompt_last and old_entries[-1]["id"] not in self.index and not self.after_header:
            self.failed = True
        self.after_header = False

    def _rewind(self, target: Any) -> None:
        if not isinstance(target, str):
            return
        if target in self.context_ids:
            position = 0
        elif target in self.index:
            position = self.index[target]
        else:
            return
        for entry in self.entries[position:]:
            self.index.pop(entry["id"], None)
        if position < len(self.entries):
            del self.entries[position:]
            self._touch(position)

    # -- what it says ------------------------------------------------------------------
    def ending(self) -> tuple[str, str | None]:
        if self.failed:
            return "api_error", FAILED_TURN
        if not self.entries:
            return "empty", None
        last = self.entries[-1]
        kind = last["kind"]
        if kind == "system":
            if last.get("error"):
                return "api_error", last.get("text") or "Gemini CLI recorded an error."
            return "reply", None
        if kind in ("prompt", "meta"):
            return "prompt", None
        if kind == "tool_result":
            return "tool", None
        if last.get("denied"):
            return "waiting", None
        if last.get("tools") or last.get("empty"):
            return "tool", None
        return "reply", None

    def summary(self) -> Summary:
        summary = Summary(
            session_id=self.meta.get("sessionId") if isinstance(self.meta.get("sessionId"), str) else None,
            cwd=self.cwd or _first_directory(self.meta.get("directories")),
            created_at=self.created_at,
            updated_at=self.updated_at or self.created_at,
            first_prompt=self.first_prompt,
            message_count=len(self.entries),
        )
        title = self.meta.get("summary")
        summary.custom_title = one_line(title) if isinstance(title, str) and title.strip() else None
        for entry in self.entries:
            tokens = entry.get("tokens")
            if tokens:
                summary.input_tokens += tokens[0]
                summary.output_tokens += tokens[1]
                summary.cache_read_tokens += tokens[2]
            if entry.get("model"):
                summary.model = entry["model"]
        summary.ending, summary.ending_error = self.ending()
        return summary


def _first_directory(value: Any) -> str | None:
    """The first of a chat's ``directories`` (written for subagents and extra workspaces)."""
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0].startswith("/"):
        return value[0]
    return None


def _merge_raw(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(new)
    for key in ("thoughts", "tokens", "model", "toolCalls"):
        if key not in merged and key in old:
            merged[key] = old[key]
    return merged


# -------------------------------------------------------------------------- summarizer
class ChatSummarizer:
    """Implements the ``Summarizer`` protocol of ADAPTER.md for one Gemini chat file.

    ``summary`` and ``offsets`` are computed when read (a record may change any message, so
    they are a pass over the messages: read them once per batch of records, not per record).
    """

    def __init__(self, path: Path | None = None, state: dict[str, Any] | None = None) -> None:
        self._fold = ChatFold(state=state.get("fold") if state else None)
        self._hint = state.get("hint") if state else (project_root_of(path) if path is not None else None)
        self._summary: Summary | None = None

    def add(self, record: dict[str, Any], offset: int) -> None:
        self._fold.add(record, offset)
        self._summary = None

    @property
    def summary(self) -> Summary:
        if self._summary is None:
            fold = self._fold
            summary = fold.summary()
            if summary.cwd is None and self._hint is not None:
                wanted = fold.meta.get("projectHash")
                if not isinstance(wanted, str) or wanted == project_hash(self._hint):
                    summary.cwd = self._hint
            self._summary = summary
        return self._summary

    @property
    def offsets(self) -> list[int]:
        return [entry["offset"] for entry in self._fold.entries]

    def take_touched(self) -> int | None:
        touched, self._fold.touched = self._fold.touched, None
        return touched

    def take_search_text(self) -> list[str]:
        texts, self._fold.search = self._fold.search, []
        return texts

    def state(self) -> dict[str, Any]:
        """The fold to go on from, and the summary (the catalog's ``FileRow.summary`` reads it)."""
        return {"fold": self._fold.state(), "hint": self._hint, "summary": self.summary.to_dict()}


# -------------------------------------------------------------------------- messages
def iter_records(data: bytes) -> list[tuple[dict[str, Any], int]]:
    """The parsed records of a chat's bytes with their offsets; a torn or corrupt line
    (a write in progress, a hand edit) is skipped."""
    out: list[tuple[dict[str, Any], int]] = []
    offset = 0
    for line in data.split(b"\n"):
        if line.strip():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            if isinstance(record, dict):
                out.append((record, offset))
        offset += len(line) + 1
    return out


def stream_records(path: Path, end: int | None = None) -> Iterator[tuple[dict[str, Any], int]]:
    """The records of a chat file and their offsets, a line at a time (a chat can be hundreds
    of MB): up to byte ``end`` whole lines only; without ``end``, an unterminated last line
    too if it parses. A torn or corrupt line is skipped."""
    offset = 0
    with open(path, "rb") as handle:
        for line in handle:
            if end is not None and (offset + len(line) > end or not line.endswith(b"\n")):
                return
            if line.strip():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    record = None
                if isinstance(record, dict):
                    yield record, offset
            offset += len(line)


def fold_file(path: Path, end: int | None = None, keep_raw: bool = True, raw_ids: set[str] | None = None) -> ChatFold:
    """The fold of a whole chat file (up to byte ``end``), with the raw records of ``raw_ids``
    (None: of every message) when ``keep_raw``."""
    fold = ChatFold(keep_raw=keep_raw, raw_ids=raw_ids)
    for record, offset in stream_records(path, end):
        fold.add(record, offset)
    return fold


def to_message(entry: dict[str, Any]) -> Message:
    """One fold entry (with its raw record) as a protocol Message."""
    record: dict[str, Any] = entry["raw"]
    kind = entry["kind"]
    timestamp = record.get("timestamp") if isinstance(record.get("timestamp"), str) else None
    parts = _parts(record.get("content"))
    blocks: list[ContentBlock] = []
    if kind == "tool_result":
        for part in parts:
            response = part.get("functionResponse")
            if isinstance(response, dict):
                text, error = _response_text(response.get("response"))
                blocks.append(ToolResultBlock(tool_use_id=str(response.get("id", "")), text=text, is_error=error))
        return Message(id=entry["id"], role="user", timestamp=timestamp, content=blocks)
    if kind in ("prompt", "meta"):
        blocks = [TextBlock(text=t) for t in _texts(parts)]
        return Message(id=entry["id"], role="user", timestamp=timestamp, content=blocks, is_meta=kind == "meta")
    if kind == "system":
        label = {"error": "Error", "warning": "Warning"}.get(str(record.get("type")), "Info")
        text = "\n".join(_texts(parts))
        return Message(id=entry["id"], role="system", timestamp=timestamp, content=[TextBlock(text=f"{label}: {text}")])
    for thought in record.get("thoughts") or []:
        if isinstance(thought, dict):
            subject, description = thought.get("subject"), thought.get("description")
            text = "\n".join(str(t) for t in (subject, description) if t)
            if text:
                blocks.append(ThinkingBlock(text=text))
    blocks.extend(TextBlock(text=t) for t in _texts(parts) if t)
    for call in _tool_calls(record):
        blocks.append(ToolUseBlock(id=str(call.get("id", "")), name=str(call.get("name", "")), input=call.get("args")))
    usage = None
    tokens = entry.get("tokens")
    if tokens:
        usage = Usage(input_tokens=tokens[0], output_tokens=tokens[1], cache_read_tokens=tokens[2])
    return Message(
        id=entry["id"], role="assistant", timestamp=timestamp, content=blocks, model=entry.get("model"), usage=usage
    )


def read_messages(
    path: Path, offsets: Sequence[int] = (), end: int | None = None, start: int = 0, limit: int = 200
) -> list[Message]:
    """Messages ``start..start+limit-1`` of a chat parsed up to byte ``end``. Upserts and
    ``$set``/``$rewindTo`` edit earlier messages, so the file is read from its start."""
    del offsets  # a chat edits earlier messages: byte ranges do not map to Messages
    # Two passes over the file, holding only the page's raw records: a first one (no raw
    # records) to learn which messages the page holds. Keeping every raw record of a 169 MB
    # chat took 734 MB.
    page = fold_file(path, end, keep_raw=False).entries[start : start + limit]
    if not page:
        return []
    fold = fold_file(path, end, raw_ids={entry["id"] for entry in page})
    return [to_message(entry) for entry in fold.entries[start : start + limit]]
