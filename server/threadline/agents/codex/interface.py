"""The adapter interface's shapes that ``agents/base.py`` does not have yet.

These follow the adapter interface the core is moving to, name for name, so that the
lead can replace this module by imports from ``agents/base.py`` when the two meet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Summary:
    """What one transcript file says about its session; the catalog stores one per file."""

    session_id: str | None = None
    cwd: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    custom_title: str | None = None
    first_prompt: str | None = None
    model: str | None = None
    git_branch: str | None = None
    parent_session_id: str | None = None
    message_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float | None = None
    ending: str = "empty"
    """empty | reply | tool | prompt | api_error | interrupted | waiting"""
    ending_error: str | None = None


@dataclass(slots=True)
class TurnRequest:
    """What the core asks an agent to do in one turn (Codex mints its own ids)."""

    session_id: str | None
    cwd: str
    prompt: str
    skill: str | None = None
    model: str | None = None
    permission_mode: str | None = None
    allowed_tools: list[str] | None = None
    resume: bool = False
    fork_from: str | None = None
