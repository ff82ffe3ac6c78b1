"""The Claude Code adapter: paths, argv, environment and readers for the ``claude`` CLI."""

from __future__ import annotations

import os
from pathlib import Path

from threadline.agents.base import AgentCommand, TurnRequest
from threadline.agents.claude.events import ClaudeTurnMonitor
from threadline.agents.claude.paths import ClaudePaths, pid_alive
from threadline.agents.claude.transcript import ClaudeTranscript
from threadline.errors import InvalidParams

PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "manual", "plan")
"""What ``claude --permission-mode`` takes: 2.1.197 lists ``default``, 2.1.3xx lists ``manual``
in its place (and still takes ``default``). ``manual`` is passed as ``default``, which both take."""


class ClaudeAdapter:
    """Everything Threadline knows about Claude Code, in one place."""

    id = "claude"
    display_name = "Claude Code"
    command_setting = "agents.claude.command"
    """The initialization option (and VS Code setting ``threadline.claude.command``) that picks the binary."""

    def __init__(self, config_dir: Path, command: AgentCommand) -> None:
        self.paths = ClaudePaths(config_dir)
        self.command = command

    # -- disk ---------------------------------------------------------------------------
    def watch_roots(self) -> list[Path]:
        """Folders whose changes matter: transcripts and the live-process registry."""
        return [self.paths.projects, self.paths.sessions]

    def project_dir(self, cwd: str) -> Path:
        return self.paths.project_dir(cwd)

    def transcript_path(self, cwd: str, session_id: str) -> Path:
        return self.paths.transcript(cwd, session_id)

    def find_transcript(self, session_id: str) -> Path | None:
        return self.paths.find_transcript(session_id)

    def iter_transcripts(self, cwd: str | None) -> list[Path]:
        dirs = None if cwd is None else [self.project_dir(cwd)]
        return self.paths.iter_transcripts(dirs)

    def is_transcript(self, path: Path) -> bool:
        """A top-level session file: ``projects/<project>/<uuid>.jsonl``."""
        return path.suffix == ".jsonl" and path.parent.parent == self.paths.projects

    def is_registry(self, path: Path) -> bool:
        return path.parent == self.paths.sessions and path.suffix == ".json"

    def open_transcript(self, path: Path) -> ClaudeTranscript:
        return ClaudeTranscript(path)

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
        argv = [*self.command.argv, "-p"]
        if turn.fork_from is not None:
            argv += ["--resume", turn.fork_from, "--fork-session", "--session-id", turn.session_id]
        elif turn.resume:
            argv += ["--resume", turn.session_id]
        else:
            argv += ["--session-id", turn.session_id]
        argv += ["--output-format", "stream-json", "--verbose"]
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
