"""The Claude Code adapter: paths, argv, environment and readers for the ``claude`` CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from threadline.agents.base import AdapterDefaults, AgentCommand, TurnRequest
from threadline.agents.claude.events import ClaudeTurnMonitor
from threadline.agents.claude.paths import ClaudePaths, pid_alive
from threadline.agents.claude.records import build_messages
from threadline.agents.claude.summary import ClaudeSummarizer
from threadline.errors import InvalidParams
from threadline.jsonl import iter_range
from threadline.protocol import PERMISSION_MODES, Message, is_session_id

"""What ``claude --permission-mode`` takes: 2.1.197 lists ``default``, 2.1.3xx lists ``manual``
in its place (and still takes ``default``). ``manual`` is passed as ``default``, which both take."""


class ClaudeAdapter(AdapterDefaults):
    """Everything Threadline knows about Claude Code, in one place (see ``agents/base.py``)."""

    id = "claude"
    display_name = "Claude Code"
    command_setting = "agents.claude.command"
    """The initialization option (and VS Code setting ``threadline.claude.command``) that picks the binary."""
    mints_session_id = True

    def __init__(self, config_dir: Path, command: AgentCommand) -> None:
        self.paths = ClaudePaths(config_dir)
        self.home = config_dir
        self.command = command

    # -- disk ---------------------------------------------------------------------------
    def watch_roots(self) -> list[Path]:
        """Folders whose changes matter: transcripts and the live-process registry."""
        return [self.paths.projects, self.paths.sessions]

    def project_dir(self, cwd: str) -> Path:
        return self.paths.project_dir(cwd)

    def transcript_hint(self, cwd: str, session_id: str) -> Path | None:
        return self.paths.transcript(cwd, session_id)

    def find_transcript(self, session_id: str) -> Path | None:
        return self.paths.find_transcript(session_id)

    def iter_transcripts(self) -> Iterator[Path]:
        return (p for p in self.paths.iter_transcripts(None) if is_session_id(p.stem))

    def project_folder(self, cwd: str) -> Path | None:
        return self.project_dir(cwd)

    def project_transcripts(self, cwd: str) -> list[Path]:
        """The transcripts of one project (one folder: a listing sees new ones at once)."""
        return [p for p in self.paths.iter_transcripts([self.project_dir(cwd)]) if is_session_id(p.stem)]

    def is_transcript(self, path: Path) -> bool:
        """A top-level session file: ``projects/<project>/<uuid>.jsonl``."""
        return path.suffix == ".jsonl" and path.parent.parent == self.paths.projects and is_session_id(path.stem)

    def is_project_folder(self, path: Path) -> bool:
        """A folder of transcripts (a new one may hold files written before it was watched)."""
        return path.parent == self.paths.projects

    def session_id_from_path(self, path: Path) -> str | None:
        return path.stem if is_session_id(path.stem) else None

    def summarizer(self, path: Path, state: dict[str, Any] | None) -> ClaudeSummarizer:
        return ClaudeSummarizer(path.stem, state)

    def read_messages(self, path: Path, offsets: Sequence[int], end: int, start: int, limit: int) -> list[Message]:
        """A page re-read from disk by byte range: only that page's bytes are parsed."""
        if start >= len(offsets) or limit <= 0:
            return []
        stop = start + limit
        last = offsets[stop] if stop < len(offsets) else end
        return build_messages(iter_range(str(path), offsets[start], last))[:limit]

    def is_liveness_path(self, path: Path) -> bool:
        return path.parent == self.paths.sessions and path.suffix == ".json"

    def live_sessions(self) -> dict[str, int]:
        return self.paths.live_sessions()

    @staticmethod
    def pid_alive(pid: int) -> bool:
        return pid_alive(pid)

    # -- processes ------------------------------------------------------------------------
    def check_turn(self, turn: TurnRequest) -> None:
        """Refuse (-32602) a turn option ``claude`` would reject, before anything is started.

        Tool rules and model names are checked for shape by the protocol models.
        """
        if turn.permission_mode is not None and turn.permission_mode not in PERMISSION_MODES:
            raise InvalidParams(
                f"Invalid params: 'permissionMode' {turn.permission_mode!r} is not a Claude Code permission mode "
                f"(one of {', '.join(PERMISSION_MODES)}).",
                field="permissionMode",
            )

    def argv(self, turn: TurnRequest) -> list[str]:
        """The argv of one turn. The prompt is never in it: it goes to stdin."""
        session_id = turn.session_id
        if session_id is None:
            raise ValueError("Claude Code runs a turn under an id the server mints.")
        argv = [*self.command.argv, "-p"]
        if turn.fork_from is not None:
            argv += ["--resume", turn.fork_from, "--fork-session", "--session-id", session_id]
        elif turn.resume:
            argv += ["--resume", session_id]
        else:
            argv += ["--session-id", session_id]
        argv += ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]
        if turn.model:
            argv += ["--model", turn.model]
        if turn.permission_mode:
            mode = "default" if turn.permission_mode == "manual" else turn.permission_mode
            argv += ["--permission-mode", mode]
        if turn.allowed_tools:
            # One value per rule: the CLI splits a value on commas and spaces outside
            # parentheses, and a rule never starts with "-" (protocol.TOOL_RULE).
            argv += ["--allowedTools", *turn.allowed_tools]
        return argv

    def stdin_bytes(self, turn: TurnRequest) -> bytes:
        text = f"/{turn.skill} {turn.prompt}" if turn.skill else turn.prompt
        return text.encode("utf-8")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.command.env)
        env["CLAUDE_CONFIG_DIR"] = str(self.paths.config_dir)
        return env

    def new_monitor(self) -> ClaudeTurnMonitor:
        return ClaudeTurnMonitor()
