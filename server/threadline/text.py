"""Small text helpers shared by the core and the adapters."""

from __future__ import annotations


def one_line(text: str, limit: int = 200) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
