"""The one interface behind which every agent CLI's specifics live.

The core (catalog, read side, write side) asks an adapter where an agent keeps its
sessions, how to fold a transcript's records into a :class:`Summary` (incrementally, from
any stored byte offset), how to build the Messages of a page, which agent processes are
alive, and how to run a turn. Nothing outside ``agents/<agent>/`` knows a flag, a path or
a record type of any agent.

The reading path works on plain dicts and dataclasses: a pydantic object per record would
cost more than parsing the JSON (issue 7's profile). Wire models are built only for the
Messages a client asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from threadline.protocol import Message, Status, Usage

ENDINGS = ("empty", "reply", "tool", "prompt", "api_error", "interrupted", "waiting")
"""How the conversation on disk ends, which decides the status of a session no process holds."""


@dataclass(slots=True)
class Summary:
    """What one transcript file says about its session; the catalog keeps one per file."""

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
    ending_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def title(self) -> str | None:
        return self.custom_title or self.first_prompt

    def usage(self) -> Usage:
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_creation_tokens=self.cache_creation_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cost_usd=self.cost_usd,
        )


class Summarizer(Protocol):
    """Folds one transcript's records, in file order, into a :class:`Summary`."""

    summary: Summary
    offsets: list[int]
    """Byte offsets of the records that start Messages, in order. A summarizer may keep every
    Message's (its state then carries them) or only those it created; the indexer stores
    the ones added since it last looked, at index ``summary.message_count - (new ones)``."""

    def add(self, record: dict[str, Any], offset: int) -> None:
        """One parsed record and the byte offset its line starts at."""

    def take_touched(self) -> int | None:
        """Lowest Message index created, grown or removed since the last call."""

    def take_search_text(self) -> list[str]:
        """Texts added since the last call (prompts, replies, thinking, tool input and output)."""

    def state(self) -> dict[str, Any]:
        """JSON-able state to go on folding at the stored offset, in another process."""


@dataclass(slots=True)
class TurnRequest:
    """What the core asks an agent to do in one turn."""

    session_id: str | None
    """None for a start or fork of an agent that mints its own id (Codex)."""
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

    session_id: str | None
    """The id the agent reported for this turn (Codex: ``thread.started``), if any."""

    streaming_text: str | None
    """The assistant text generated so far that is not in the transcript yet, if the agent
    streams it; None when there is none."""

    def feed(self, line: bytes) -> bool:
        """Take one stdout line; True when it changes what a client should see."""

    def outcome(self, exit_code: int, stderr_tail: str, cancelled: bool) -> TurnOutcome:
        """The outcome once the process has exited."""


@dataclass(slots=True)
class AgentCommand:
    """How to run an agent: argv prefix and extra environment."""

    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


class AgentAdapter(Protocol):
    """Everything the core may ask of one agent CLI."""

    id: str
    display_name: str
    command_setting: str
    """The option that picks the binary (named in AgentUnavailable messages)."""
    mints_session_id: bool
    """True when the server mints the id and passes it (Claude Code); False when the id is
    the first one the agent reports."""
    home: Path
    command: AgentCommand

    # -- disk ---------------------------------------------------------------------------
    def watch_roots(self) -> list[Path]: ...
    def iter_transcripts(self) -> Iterator[Path]: ...
    def project_transcripts(self, cwd: str) -> list[Path]:
        """The transcripts of one project where the agent keeps them together (else [])."""

    def project_folder(self, cwd: str) -> Path | None:
        """That folder (its mtime tells whether a file was added), else None."""

    def is_transcript(self, path: Path) -> bool: ...
    def session_id_from_path(self, path: Path) -> str | None: ...
    def summarizer(self, path: Path, state: dict[str, Any] | None) -> Summarizer: ...
    def read_messages(self, path: Path, offsets: Sequence[int], end: int, start: int, limit: int) -> list[Message]:
        """Messages ``start`` … ``start+limit-1`` of the file as parsed up to byte ``end``.

        ``offsets[i]`` is where Message ``i`` starts (a lazy sequence over the catalog: index
        only what the page needs)."""

    def is_liveness_path(self, path: Path) -> bool: ...
    def live_sessions(self) -> dict[str, int]:
        """Session id → pid of a live agent process that holds it now."""

    def pid_alive(self, pid: int) -> bool: ...

    # -- processes ------------------------------------------------------------------------
    def check_turn(self, turn: TurnRequest) -> None:
        """Refuse (InvalidParams, naming the field) a turn option the agent would reject,
        before anything is written or started."""

    def argv(self, turn: TurnRequest) -> list[str]: ...
    def stdin_bytes(self, turn: TurnRequest) -> bytes: ...
    def env(self) -> dict[str, str]: ...
    def new_monitor(self) -> TurnMonitor: ...
    def transcript_hint(self, cwd: str, session_id: str) -> Path | None:
        """Where the agent will write a session's transcript, when it can be known up front."""


class AdapterDefaults:
    """What an adapter need not write when its agent has nothing special there."""

    supports_fork = True
    hold_output = False
    """True when the agent must hold its own stdout/stderr read ends (``SpawnSpec.hold_output``)."""

    def project_transcripts(self, cwd: str) -> list[Path]:
        """The agent does not keep a project's sessions together: a listing relies on the watcher."""
        return []

    def project_folder(self, cwd: str) -> Path | None:
        """The one folder of a project's transcripts, if the agent keeps them together."""
        return None

    def transcript_hint(self, cwd: str, session_id: str) -> Path | None:
        return None

    def find_transcript(self, session_id: str) -> Path | None:
        return None

    def check_turn(self, turn: TurnRequest) -> None:
        """Every option is checked where argv is built (a ValueError there is -32602)."""
