"""Claude Code transcript records → protocol Messages.

Claude Code writes one record per content block; assistant records of one API message
share ``message.id`` and each repeats the full ``usage``. :class:`MessageBuilder` folds
records, in file order, into one Message per API message, counts usage once per
message, and drops the records that are not conversation (queue operations,
attachments, cost state, API request dumps, …).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from threadline.jsonl import Record
from threadline.protocol import (
    ContentBlock,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from threadline.text import one_line

CONVERSATION_TYPES = frozenset({"user", "assistant", "system"})
VISIBLE_SYSTEM_SUBTYPES = frozenset({"compact_boundary", "api_error"})
INTERRUPTED_TEXT = "[Request interrupted by user"


def usage_from(raw: Any) -> Usage:
    """The protocol Usage of an API ``usage`` object (missing numbers count as 0)."""
    if not isinstance(raw, dict):
        return Usage()

    def number(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else 0

    return Usage(
        input_tokens=number("input_tokens"),
        output_tokens=number("output_tokens"),
        cache_creation_tokens=number("cache_creation_input_tokens"),
        cache_read_tokens=number("cache_read_input_tokens"),
    )


def tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append(str(item.get("text", "")))
            elif isinstance(item, dict) and item.get("type") == "image":
                parts.append("[image]")
        return "\n".join(parts)
    return "" if content is None else json.dumps(content)


def content_blocks(content: Any) -> list[ContentBlock]:
    """Protocol content blocks of a message's ``content`` (a string or a block list)."""
    if isinstance(content, str):
        return [TextBlock(text=content)]
    blocks: list[ContentBlock] = []
    if not isinstance(content, list):
        return blocks
    for item in content:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            blocks.append(TextBlock(text=str(item.get("text", ""))))
        elif kind == "thinking":
            blocks.append(ThinkingBlock(text=str(item.get("thinking", item.get("text", "")))))
        elif kind == "redacted_thinking":
            blocks.append(ThinkingBlock(text="(redacted)"))
        elif kind in ("tool_use", "server_tool_use"):
            blocks.append(
                ToolUseBlock(id=str(item.get("id", "")), name=str(item.get("name", "")), input=item.get("input"))
            )
        elif kind == "tool_result":
            blocks.append(
                ToolResultBlock(
                    tool_use_id=str(item.get("tool_use_id", "")),
                    text=tool_result_text(item.get("content")),
                    is_error=bool(item.get("is_error", False)),
                )
            )
        elif kind == "image":
            source = item.get("source")
            media = source.get("media_type") if isinstance(source, dict) else None
            blocks.append(ImageBlock(media_type=media if isinstance(media, str) else None))
    return blocks


def _system_text(data: dict[str, Any]) -> str | None:
    subtype = data.get("subtype")
    if subtype not in VISIBLE_SYSTEM_SUBTYPES:
        return None
    if subtype == "compact_boundary":
        return str(data.get("content") or "Conversation compacted")
    error = data.get("error")
    status = error.get("status") if isinstance(error, dict) else None
    attempt, most = data.get("retryAttempt"), data.get("maxRetries")
    text = f"API error{f' {status}' if status else ''}"
    if attempt is not None and most is not None:
        text += f" (attempt {attempt} of {most})"
    content = data.get("content")
    return f"{text}: {content}" if isinstance(content, str) and content else text


def message_key(record: dict[str, Any]) -> str | None:
    """The API message id an assistant record belongs to (None for other records)."""
    message = record.get("message")
    if record.get("type") == "assistant" and isinstance(message, dict):
        key = message.get("id")
        return key if isinstance(key, str) else None
    return None


class MessageBuilder:
    """Folds records into Messages; feed records in file order with :meth:`add`."""

    def __init__(self) -> None:
        self.count = 0
        """Messages built so far."""
        self.last: Message | None = None
        """The newest Message (the one a following assistant record may still grow)."""
        self.offsets: list[int] = []
        """Byte offset of the first record of each Message (for paging by range)."""
        self._last_key: str | None = None
        self._counted: set[str] = set()
        self.usage = Usage()
        """Totals over all messages, each API message counted once."""

    def add(self, record: Record) -> int | None:
        """Fold one record in; returns the index of the Message it created or grew."""
        data = record.data
        kind = data.get("type")
        if kind not in CONVERSATION_TYPES:
            return None
        timestamp = data.get("timestamp") if isinstance(data.get("timestamp"), str) else None
        sidechain = bool(data.get("isSidechain", False))
        if kind == "system":
            text = _system_text(data)
            if text is None:
                return None
            return self._append(
                record.offset,
                Message(
                    id=str(data.get("uuid", f"system-{record.offset}")),
                    role="system",
                    timestamp=timestamp,
                    content=[TextBlock(text=text)],
                    is_sidechain=sidechain,
                ),
            )
        message = data.get("message")
        if not isinstance(message, dict):
            return None
        blocks = content_blocks(message.get("content"))
        if kind == "user":
            self._last_key = None
            return self._append(
                record.offset,
                Message(
                    id=str(data.get("uuid", f"user-{record.offset}")),
                    role="user",
                    timestamp=timestamp,
                    content=blocks,
                    is_sidechain=sidechain,
                    is_meta=bool(data.get("isMeta", False)),
                ),
            )
        key = message_key(data) or str(data.get("uuid", f"assistant-{record.offset}"))
        usage = usage_from(message.get("usage"))
        count_key = f"{key}:{data.get('requestId', '')}"
        if count_key not in self._counted:
            self._counted.add(count_key)
            self.usage.add(usage)
        model = message.get("model") if isinstance(message.get("model"), str) else None
        if self._last_key == key and self.last is not None:
            index = self.count - 1
            grown = self.last
            grown.content.extend(blocks)
            grown.usage = usage
            grown.model = model or grown.model
            return index
        self._last_key = key
        return self._append(
            record.offset,
            Message(
                id=key,
                role="assistant",
                timestamp=timestamp,
                content=blocks,
                model=model,
                usage=usage,
                is_sidechain=sidechain,
            ),
        )

    def _append(self, offset: int, message: Message) -> int:
        if message.role != "assistant":
            self._last_key = None
        self.last = message
        self.offsets.append(offset)
        self.count += 1
        return self.count - 1


def build_messages(records: Iterable[Record]) -> list[Message]:
    """All Messages of a sequence of records (a whole file or a byte range of it)."""
    builder = MessageBuilder()
    messages: list[Message] = []
    for record in records:
        index = builder.add(record)
        if index is not None and index == len(messages) and builder.last is not None:
            messages.append(builder.last)
    return messages


def prompt_title(data: dict[str, Any]) -> str | None:
    """A title from a user record that is a real prompt (not meta, tool result or command)."""
    if data.get("type") != "user" or data.get("isMeta") or data.get("isSidechain"):
        return None
    message = data.get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        texts = [str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"]
    for text in texts:
        stripped = text.strip()
        if not stripped or stripped.startswith(
            ("<system-reminder>", "<command-", "<local-command", "Caveat:", INTERRUPTED_TEXT)
        ):
            continue
        return one_line(stripped)
    return None
