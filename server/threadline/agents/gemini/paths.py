"""Where Gemini CLI keeps its chats.

``<home>/.gemini/tmp/<slug>/chats/session-<UTC YYYY-MM-DDTHH-MM>-<id[:8]>.jsonl``, where
``home`` is ``GEMINI_CLI_HOME`` (the folder that holds ``.gemini/``, default the user's home)
and ``<slug>`` the project folder's basename, slugified, ``-1``/``-2``… on collision. The slug
is lossy and the file name holds only 8 characters of the id, so a chat's session id and
project are read from its records, never from its path. ``tmp/<slug>/.project_root`` holds the
project's absolute path (Gemini's own marker), a fallback when the records lack it. A
subagent's chat is ``chats/<parent id>/<id>.jsonl``: part of its parent's turn, not a session.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_SLUG_RUN = re.compile(r"[^a-z0-9]+")
CHAT_RE = re.compile(r"^session-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-[A-Za-z0-9_-]{1,8}\.jsonl$")


def slugify(project_root: str) -> str:
    """The slug Gemini gives a project folder (before collision suffixes)."""
    slug = _SLUG_RUN.sub("-", os.path.basename(project_root.rstrip("/")).lower()).strip("-")
    return slug or "project"


def project_hash(project_root: str) -> str:
    """``projectHash`` as Gemini writes it in a chat: sha256 of the absolute project root."""
    return hashlib.sha256(project_root.encode("utf-8")).hexdigest()


def default_home() -> Path:
    """``$GEMINI_CLI_HOME``, else the user's home (the folder that holds ``.gemini/``)."""
    env = os.environ.get("GEMINI_CLI_HOME")
    return Path(env) if env else Path.home()


class GeminiPaths:
    """The layout under one Gemini home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.gemini_dir = home / ".gemini"
        self.tmp = self.gemini_dir / "tmp"

    def is_chat(self, path: Path) -> bool:
        """``<home>/.gemini/tmp/<slug>/chats/session-….jsonl``."""
        return (
            path.parent.name == "chats"
            and path.parent.parent.parent == self.tmp
            and CHAT_RE.match(path.name) is not None
        )

    def iter_chats(self) -> list[Path]:
        """Every chat file of every project, in no particular order."""
        found: list[Path] = []
        try:
            projects = [entry.path for entry in os.scandir(self.tmp) if entry.is_dir()]
        except OSError:
            return found
        for project in projects:
            try:
                entries = list(os.scandir(os.path.join(project, "chats")))
            except OSError:
                continue
            found.extend(Path(e.path) for e in entries if CHAT_RE.match(e.name) and e.is_file())
        return found

    def chats_of(self, session_id: str) -> list[Path]:
        """Chat files whose name fits ``session_id`` (the name holds its first 8 characters)."""
        suffix = f"-{session_id[:8]}.jsonl"
        return [path for path in self.iter_chats() if path.name.endswith(suffix)]


def project_root_of(chat: Path) -> str | None:
    """The project root Gemini recorded beside a chat (``tmp/<slug>/.project_root``)."""
    try:
        text = (chat.parent.parent / ".project_root").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text.startswith("/") else None
