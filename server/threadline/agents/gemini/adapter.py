"""The Gemini CLI adapter: where its chats are, how to run a turn, how to read it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from threadline.agents.base import AdapterDefaults, AgentCommand, TurnRequest
from threadline.agents.gemini.chat import ChatSummarizer, read_messages
from threadline.agents.gemini.events import GeminiTurnMonitor
from threadline.agents.gemini.paths import GeminiPaths
from threadline.protocol import Message

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_PROMPT_BYTES = 8 * 1024 * 1024
"""Gemini reads at most 8 MiB of stdin and silently cuts the rest: refuse, never truncate."""
APPROVAL_MODES = {
    "default": "default",
    "acceptEdits": "auto_edit",
    "auto_edit": "auto_edit",
    "bypassPermissions": "yolo",
    "yolo": "yolo",
    "plan": "plan",
}


class GeminiAdapter(AdapterDefaults):
    """Everything Threadline knows about Gemini CLI (``@google/gemini-cli`` 0.61.0)."""

    id = "gemini"
    display_name = "Gemini CLI"
    command_setting = "agents.gemini.command"
    mints_session_id = True
    supports_fork = False
    hold_output = True
    """Gemini exits (0, its turn unfinished) at its first write to a stdout nobody reads: it
    holds its own pipes' read ends, so a turn outlives a restart of the server (``runs.py``)."""

    def __init__(self, home: Path, command: AgentCommand) -> None:
        self.home = home
        self.paths = GeminiPaths(home)
        self.command = command

    # -- disk ---------------------------------------------------------------------------
    def watch_roots(self) -> list[Path]:
        """``<home>/.gemini/tmp`` (recursively: ``<slug>/chats/``). No liveness files."""
        return [self.paths.tmp]

    def iter_transcripts(self) -> Iterator[Path]:
        yield from self.paths.iter_chats()

    def is_transcript(self, path: Path) -> bool:
        return self.paths.is_chat(path)

    def session_id_from_path(self, path: Path) -> str | None:
        """Always None: the file name holds only the id's first 8 characters."""
        return None

    def find_transcript(self, session_id: str) -> Path | None:
        """The chat of ``session_id``: the name holds only 8 characters of the id, so each
        candidate's first record says whose it is; of several (a resume's stray header-only
        file), the biggest. A request needs this when the catalog read the chat before its
        first record was written, and so does not know yet whose it is."""
        found: list[tuple[int, Path]] = []
        for path in self.paths.chats_of(session_id):
            try:
                with open(path, "rb") as handle:
                    first = handle.readline(64 * 1024)
                    size = os.fstat(handle.fileno()).st_size
            except OSError:
                continue
            if f'"sessionId":"{session_id}"'.encode() in first.replace(b" ", b""):
                found.append((size, path))
        return max(found)[1] if found else None

    def summarizer(self, path: Path, state: dict[str, Any] | None) -> ChatSummarizer:
        return ChatSummarizer(path, state)

    def read_messages(self, path: Path, offsets: Sequence[int], end: int, start: int, limit: int) -> list[Message]:
        return read_messages(path, offsets, end, start, limit)

    def is_liveness_path(self, path: Path) -> bool:
        return False

    def live_sessions(self) -> dict[str, int]:
        """Gemini keeps no registry, lock or pid file of its running sessions."""
        return {}

    # -- processes ------------------------------------------------------------------------
    def argv(self, turn: TurnRequest) -> list[str]:
        """The argv of one turn. The prompt is never in it (stdin, which makes Gemini
        headless); every value is joined to its flag with ``=``, so none can be read as one."""
        if turn.fork_from is not None:
            raise ValueError("Gemini CLI cannot fork a session.")
        if not turn.session_id or not SESSION_ID_RE.fullmatch(turn.session_id):
            raise ValueError(f"{turn.session_id!r} is not a Gemini session id.")
        argv = [*self.command.argv, "--output-format=stream-json"]
        argv.append(f"--resume={turn.session_id}" if turn.resume else f"--session-id={turn.session_id}")
        if turn.model:
            argv.append(f"--model={turn.model}")
        if turn.permission_mode:
            mode = APPROVAL_MODES.get(turn.permission_mode)
            if mode is None:
                raise ValueError(f"Gemini CLI has no permission mode {turn.permission_mode!r}.")
            argv.append(f"--approval-mode={mode}")
        for tool in getattr(turn, "allowed_tools", None) or []:
            argv.append(f"--allowed-tools={tool}")
        return argv

    def stdin_bytes(self, turn: TurnRequest) -> bytes:
        text = f"/{turn.skill} {turn.prompt}" if turn.skill else turn.prompt
        data = text.encode("utf-8")
        if len(data) > MAX_PROMPT_BYTES:
            raise ValueError("The prompt is larger than the 8 MiB Gemini CLI reads.")
        return data

    def env(self) -> dict[str, str]:
        """The caller's environment, the configured one, and the home; no self-relaunch, so
        the process the server starts is the one that runs the turn (a cancel reaches it)."""
        env = dict(os.environ)
        env.update(self.command.env)
        env["GEMINI_CLI_HOME"] = str(self.home)
        env["GEMINI_CLI_NO_RELAUNCH"] = "true"
        return env

    def new_monitor(self) -> GeminiTurnMonitor:
        return GeminiTurnMonitor(self.paths)
