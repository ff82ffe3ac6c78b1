"""The one interface behind which every agent CLI's specifics live.

The core asks an adapter where transcripts are, how to read one, how to build the argv
of a start, resume or fork, and how to read the agent's stdout events into a turn
outcome. Nothing outside ``agents/`` knows a flag or a record type of any agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from threadline.protocol import Message, Status, Usage


@dataclass(slots=True)
class TurnRequest:
    """What the core asks an agent to do in one turn."""

    session_id: str
    cwd: str
    prompt: str
    skill: str | None = None
    model: str | None = None
    permission_mode: str | None = None
    allowed_tools: list[str] | None = None
    """Tool rules granted for this turn only (``Bash(touch:*)``), on top of the agent's own settings."""
    resume: bool = False
    fork_from: str | None = None
    """With a fork: the id of the session the new one (``session_id``) continues."""


@dataclass(slots=True)
class TurnOutcome:
    """How a turn ended, read from the agent's stdout and exit code."""

    status: Status
    last_error: str | None = None
    cost_usd: float | None = None
    usage: Usage | None = None


class TurnMonitor(Protocol):
    """Reads one running turn's stdout, line by line."""

    def feed(self, line: bytes) -> bool:
        """Take one stdout line; True when it changes what a client should see."""

    def outcome(self, exit_code: int, stderr_tail: str, cancelled: bool) -> TurnOutcome:
        """The outcome once the process has exited."""


class Transcript(Protocol):
    """An incrementally read transcript (see ``agents/claude/transcript.py``)."""

    path: Path
    session_id: str

    @property
    def exists(self) -> bool: ...
    @property
    def message_count(self) -> int: ...
    def read_messages(self, offset: int, limit: int) -> list[Message]: ...


@dataclass(slots=True)
class AgentCommand:
    """How to run an agent: argv prefix and extra environment."""

    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
