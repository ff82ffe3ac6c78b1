"""Where Claude Code keeps things on disk, and the project-folder name encoding.

Claude Code stores a session at ``<config>/projects/<encode(realpath(cwd))>/<id>.jsonl``.
The encoding replaces every UTF-16 code unit that is not an ASCII letter or digit with
``-`` and, past 200 characters, keeps 200 and appends ``-`` plus a base-36 hash. It is
lossy, so a session's project is read from its records' ``cwd``, never decoded from here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from threadline.procs import pid_alive
from threadline.safeio import entry_is_dir, entry_is_file, list_dir, open_regular

MAX_NAME = 200


def _java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` over UTF-16 code units, as a signed 32-bit int."""
    value = 0
    data = text.encode("utf-16-le", "surrogatepass")
    for index in range(0, len(data), 2):
        unit = data[index] | (data[index + 1] << 8)
        value = (31 * value + unit) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number == 0:
        return "0"
    out = []
    while number:
        number, rest = divmod(number, 36)
        out.append(digits[rest])
    return "".join(reversed(out))


def encode_project_dir(path: str) -> str:
    """The folder name Claude Code uses for a project path (already a realpath)."""
    units = path.encode("utf-16-le", "surrogatepass")
    chars = []
    for index in range(0, len(units), 2):
        unit = units[index] | (units[index + 1] << 8)
        is_alnum = 48 <= unit <= 57 or 65 <= unit <= 90 or 97 <= unit <= 122
        chars.append(chr(unit) if is_alnum else "-")
    encoded = "".join(chars)
    if len(encoded) > MAX_NAME:
        encoded = f"{encoded[:MAX_NAME]}-{_base36(abs(_java_string_hash(path)))}"
    return encoded


class ClaudePaths:
    """The layout of one Claude config folder (``CLAUDE_CONFIG_DIR``)."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.projects = config_dir / "projects"
        self.sessions = config_dir / "sessions"

    def project_dir(self, cwd: str) -> Path:
        """The transcript folder for a project (symlinks resolved, as the CLI does)."""
        return self.projects / encode_project_dir(os.path.realpath(cwd))

    def transcript(self, cwd: str, session_id: str) -> Path:
        return self.project_dir(cwd) / f"{session_id}.jsonl"

    def find_transcript(self, session_id: str) -> Path | None:
        """Look for ``<id>.jsonl`` in every project folder (one stat per project)."""
        name = f"{session_id}.jsonl"
        for folder in list_dir(self.projects):
            candidate = Path(folder.path, name)
            if candidate.is_file():
                return candidate
        return None

    def iter_transcripts(self, project_dirs: list[Path] | None = None) -> list[Path]:
        """Top-level ``*.jsonl`` files of the given project folders (default: all)."""
        if project_dirs is None:
            project_dirs = [Path(entry.path) for entry in list_dir(self.projects) if entry_is_dir(entry)]
        found: list[Path] = []
        for folder in project_dirs:
            # A symlink loop, a FIFO or an unreadable folder is logged once and skipped.
            entries = list_dir(folder)
            found.extend(Path(e.path) for e in entries if e.name.endswith(".jsonl") and entry_is_file(e))
        return found

    def live_sessions(self) -> dict[str, int]:
        """Session id → pid from the CLI's live-process registry, live pids only."""
        live: dict[str, int] = {}
        for entry in list_dir(self.sessions):
            if not entry.name.endswith(".json"):
                continue
            fd = open_regular(entry.path)
            if fd is None:
                continue
            try:
                with open(fd, encoding="utf-8") as handle:
                    data = json.load(handle)
                pid = int(data["pid"])
                session_id = str(data["sessionId"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if pid_alive(pid):
                live[session_id] = pid
        return live
