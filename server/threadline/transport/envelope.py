"""Decoding a frame body and the checks on a message before any dispatch.

Strict JSON (no ``NaN``), bounded nesting (a deep message is refused with its id where a
shallow scan finds one), and the one-sentence refusals the connection answers with.
"""

from __future__ import annotations

import json
import re
from typing import Any

from threadline.transport.codes import INVALID_REQUEST

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects in a message; Threadline's own params need 5."""


class Refused(Exception):
    """An envelope refused before dispatch: answered with ``code`` (unless a notification)."""

    def __init__(self, code: int, message: str, msg_id: int | str | None, answer: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.msg_id = msg_id
        self.answer = answer


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
TOO_DEEP = f"The message is nested more than {MAX_DEPTH} levels deep."


def decode(body: bytes) -> tuple[Any, bytes]:
    """A frame body's JSON value and any bytes after it (the start of the next frame).

    ValueError when it is not JSON; Refused when it is nested too deeply.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    start = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    try:
        value, end = _DECODER.raw_decode(text, start)
    except RecursionError:
        raise Refused(INVALID_REQUEST, TOO_DEEP, _top_level_id(text)) from None
    rest = text[end:]
    if _depth_exceeds(value, MAX_DEPTH):
        raise Refused(INVALID_REQUEST, TOO_DEEP, valid_id(value.get("id")) if isinstance(value, dict) else None)
    return value, rest.encode("utf-8") if rest.strip() else b""


def _top_level_id(text: str, limit: int = 1 << 20) -> int | str | None:
    """The ``id`` of a message too deep for the JSON parser, found by a shallow scan."""
    depth, index, end = 0, 0, min(len(text), limit)
    while index < end:
        char = text[index]
        if char == '"':
            try:
                key, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
            except ValueError:
                return None
            if depth == 1 and key == "id":
                after = _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]
                if text.startswith(":", after):
                    try:
                        value, _ = _DECODER.raw_decode(text, _WHITESPACE.match(text, after + 1).end())  # type: ignore[union-attr]
                    except (ValueError, RecursionError):
                        return None
                    return valid_id(value)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        index += 1
    return None


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def valid_id(value: Any) -> int | str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def method_name(method: str) -> str:
    """A method name as it may appear in a one-sentence error (bounded, printable)."""
    shown = method if len(method) <= 80 else method[:77] + "..."
    return json.dumps(shown)
