"""The Codex CLI adapter: paths, argv, environment and readers for ``codex``.

The id is Codex's own (a UUIDv7 minted by the CLI): a start or a fork learns it from
``thread.started`` on stdout line 1 (about 0.2 s after spawn); nothing can choose it.
The prompt goes to stdin (``-`` as the prompt argument): one argv element is capped at
128 KiB on Linux, and a prompt in argv could be read as a flag.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from threadline.agents.base import AdapterDefaults, AgentCommand
from threadline.agents.codex.events import CodexTurnMonitor
from threadline.agents.codex.interface import TurnRequest
from threadline.agents.codex.paths import CodexPaths, default_home
from threadline.agents.codex.rollout import CodexSummarizer, read_messages
from threadline.protocol import Message

SANDBOX_OF_MODE = {
    "default": None,
    "plan": "read-only",
    "acceptEdits": "workspace-write",
}
"""Claude-style ``permissionMode`` → Codex ``sandbox_mode`` (set with ``-c``, which
``exec``, ``exec resume`` and ``exec fork`` all take; ``--sandbox`` only ``exec`` does)."""
BYPASS_MODE = "bypassPermissions"


class CodexAdapter(AdapterDefaults):
    """Everything Threadline knows about Codex CLI, in one place."""

    id = "codex"
    display_name = "Codex CLI"
    command_setting = "agents.codex.command"
    mints_session_id = False

    def __init__(self, home: Path | None = None, command: AgentCommand | None = None) -> None:
        self.home = home if home is not None else default_home()
        self.paths = CodexPaths(self.home)
        self.command = command if command is not None else AgentCommand(argv=["codex"])

    # -- disk ---------------------------------------------------------------------------
    def watch_roots(self) -> list[Path]:
        """Rollouts and the writer locks (a lock file appears when a thread opens)."""
        return [self.paths.sessions, self.paths.locks]

    def iter_transcripts(self) -> Iterator[Path]:
        return self.paths.iter_transcripts()

    def is_transcript(self, path: Path) -> bool:
        return self.paths.is_transcript(path)

    def session_id_from_path(self, path: Path) -> str | None:
        return self.paths.session_id_from_path(path)

    def find_transcript(self, session_id: str) -> Path | None:
        return self.paths.find_transcript(session_id)

    def summarizer(self, path: Path, state: dict[str, Any] | None) -> CodexSummarizer:
        return CodexSummarizer(state)

    def read_messages(self, path: Path, offsets: Sequence[int], end: int, start: int, limit: int) -> list[Message]:
        return read_messages(path, offsets, end, start, limit)

    def is_liveness_path(self, path: Path) -> bool:
        return self.paths.is_liveness_path(path)

    def live_sessions(self) -> dict[str, int]:
        return self.paths.live_sessions()

    # -- processes ------------------------------------------------------------------------
    def argv(self, turn: TurnRequest) -> list[str]:
        """``codex exec [resume|fork] --json --skip-git-repo-check [options] [<id>] -``.

        The prompt is never in it: ``-`` makes Codex read the whole of stdin as the prompt
        (write it, then close stdin). Run it with the project folder as the working directory,
        in its own process group, and drain stdout to the end (Codex dies of SIGPIPE).
        ``allowed_tools`` has no ``codex exec`` equivalent and is not passed; ``codex exec``
        never asks for approval, so ``permission_mode`` picks the sandbox instead.
        """
        argv = [*self.command.argv, "exec"]
        target: list[str] = []
        if turn.fork_from is not None:
            argv.append("fork")
            target = [_thread_id(turn.fork_from)]
        elif turn.resume:
            argv.append("resume")
            target = [_thread_id(turn.session_id)]
        argv += ["--json", "--skip-git-repo-check"]
        if turn.model:
            argv += ["-m", turn.model]
        if turn.permission_mode == BYPASS_MODE:
            argv.append("--dangerously-bypass-approvals-and-sandbox")
        elif SANDBOX_OF_MODE.get(turn.permission_mode or "default"):
            argv += ["-c", f'sandbox_mode="{SANDBOX_OF_MODE[turn.permission_mode or "default"]}"']
        # The id is a UUID and "-" comes last: neither can be read as a flag.
        return [*argv, *target, "-"]

    def stdin_bytes(self, turn: TurnRequest) -> bytes:
        """The prompt, verbatim; a skill is named the way Codex mentions skills (``$name``)."""
        text = f"${turn.skill} {turn.prompt}" if turn.skill else turn.prompt
        return text.encode("utf-8")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # A caller's own Codex thread must not leak into the child's tool environment.
        for key in ("CODEX_THREAD_ID", "CODEX_SESSION_ID", "CODEX_TOOL_CALL_ID"):
            env.pop(key, None)
        env.update(self.command.env)
        env["CODEX_HOME"] = str(self.home)
        return env

    def new_monitor(self) -> CodexTurnMonitor:
        return CodexTurnMonitor()


def _thread_id(value: str | None) -> str:
    """``value`` if it is a UUID. Codex reads anything else as a thread *name* and, finding
    none, silently starts a new thread (exit 0): a bad id must never reach it."""
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        raise ValueError(f"{value!r} is not a Codex session id (a UUID).") from None
