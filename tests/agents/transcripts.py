"""Helpers to read Claude Code transcripts and reduce them to what a session manager sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONVERSATION_TYPES = ("user", "assistant", "system")
INTERRUPTED_TEXT = "[Request interrupted by user]"


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """Every line of a transcript, parsed; fails on a line that is not a JSON object."""
    records = []
    with open(path, encoding="utf-8") as fh:
        data = fh.read()
    assert data == "" or data.endswith("\n"), f"{path} does not end with a newline"
    for number, line in enumerate(data.splitlines(), 1):
        record = json.loads(line)
        assert isinstance(record, dict), f"{path}:{number} is not an object"
        records.append(record)
    return records


def record_label(record: dict[str, Any]) -> str:
    """A short label: ``user``, ``user:meta``, ``user:interrupted``, ``assistant:synthetic``,
    ``attachment:skill_listing``, ``queue-operation:enqueue``, ``system:api_error`` ..."""
    kind = record.get("type", "?")
    if kind == "user":
        content = record.get("message", {}).get("content")
        if record.get("isMeta"):
            return "user:meta"
        if isinstance(content, list) and any(b.get("text") == INTERRUPTED_TEXT for b in content):
            return "user:interrupted"
        return "user"
    if kind == "assistant":
        label = "assistant"
        if record.get("message", {}).get("model") == "<synthetic>":
            label += ":synthetic"
        if record.get("isApiErrorMessage"):
            label += ":api-error"
        if record.get("isAbortedMidStream"):
            label += ":aborted"
        return label
    if kind == "attachment":
        return "attachment:" + str(record.get("attachment", {}).get("type"))
    if kind == "queue-operation":
        return "queue-operation:" + str(record.get("operation"))
    if kind == "system":
        return "system:" + str(record.get("subtype"))
    return str(kind)


def content_kinds(record: dict[str, Any]) -> tuple[str, ...]:
    content = record.get("message", {}).get("content")
    if isinstance(content, str):
        return ("text",)
    return tuple(str(b.get("type")) for b in content or [])


def conversation_shape(records: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """The conversation records (user/assistant/system) in file order, as
    ``(label, content block types)``."""
    return [(record_label(r), content_kinds(r)) for r in records if r.get("type") in CONVERSATION_TYPES]


def type_sequence(records: list[dict[str, Any]]) -> list[str]:
    """Every record's label, in file order."""
    return [record_label(r) for r in records]


def check_chain(records: list[dict[str, Any]]) -> None:
    """Every ``parentUuid`` names an earlier record of the file (or is null)."""
    seen: set[str] = set()
    for number, record in enumerate(records, 1):
        parent = record.get("parentUuid")
        if "parentUuid" in record and parent is not None:
            assert parent in seen, f"record {number} ({record_label(record)}) hangs from unknown {parent}"
        if isinstance(record.get("uuid"), str):
            seen.add(record["uuid"])


def user_prompts(records: list[dict[str, Any]]) -> list[str]:
    """The texts of the real (non-meta, non-tool-result) user prompts."""
    out = []
    for r in records:
        if r.get("type") != "user" or r.get("isMeta"):
            continue
        content = r.get("message", {}).get("content")
        if isinstance(content, str):
            out.append(content)
    return out
