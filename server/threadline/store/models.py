"""What the store holds, as pydantic models: a session's metadata, its turns, an index line.

camelCase on disk like the wire, unknown keys ignored (a newer Threadline's), and every
session id checked before a path is built from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from threadline.protocol import DEFAULT_AGENT, Status, is_session_id

STORE_VERSION = 1


def utc_now() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. ``2026-11-21T10:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_id(value: str) -> bool:
    """``is_session_id`` plus a length check: its ``$`` would let a trailing newline by."""
    return len(value) == 36 and is_session_id(value)


def check_id(session_id: object) -> str:
    """Refuse anything but a canonical id, so no path is ever built from an unchecked one."""
    if not isinstance(session_id, str) or not is_id(session_id):
        raise ValueError(f"Not a well-formed session id: {session_id!r}.")
    return session_id


# -- models -----------------------------------------------------------------------------
class _StoreModel(BaseModel):
    """camelCase on disk, like the wire; unknown keys (a newer Threadline's) are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TurnRecord(_StoreModel):
    """One prompt sent to the agent and how that turn ended."""

    prompt: str
    started_at: str = Field(default_factory=utc_now)
    ended_at: str | None = None
    exit_code: int | None = None
    status: Status = "running"
    cost_usd: float | None = None


class WorkflowMetadata(_StoreModel):
    """Everything Threadline knows about a session it started (``<id>/metadata.json``)."""

    version: int = STORE_VERSION
    session_id: str
    agent: str = DEFAULT_AGENT
    cwd: str
    skill: str | None = None
    title: str = "(untitled)"
    status: Status
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    transcript_path: str | None = None
    pid: int | None = None
    last_error: str | None = None
    parent_session_id: str | None = None
    turns: list[TurnRecord] = Field(default_factory=list)

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str) -> str:
        return check_id(value)

    @field_validator("parent_session_id")
    @classmethod
    def _parent_id(cls, value: str | None) -> str | None:
        return None if value is None else check_id(value)


class IndexEntry(_StoreModel):
    """One line of ``index.json``: enough to list a session without opening its metadata."""

    session_id: str
    agent: str
    skill: str | None = None
    status: Status
    title: str
    created_at: str
    updated_at: str

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str) -> str:
        return check_id(value)

    @classmethod
    def from_metadata(cls, meta: WorkflowMetadata) -> IndexEntry:
        return cls(
            session_id=meta.session_id,
            agent=meta.agent,
            skill=meta.skill,
            status=meta.status,
            title=meta.title,
            created_at=meta.created_at,
            updated_at=meta.updated_at,
        )


class IndexFile(_StoreModel):
    version: int = STORE_VERSION
    sessions: list[IndexEntry]


def newest_first(entry: IndexEntry | WorkflowMetadata) -> tuple[str, str]:
    return (entry.updated_at, entry.session_id)
