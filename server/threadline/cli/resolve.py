"""What a command line names, resolved: the project of a folder, the session of an id prefix."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from threadline.errors import SessionNotFound, ThreadlineError
from threadline.protocol import SessionInfo, SessionListParams, is_session_id

if TYPE_CHECKING:
    from threadline.sessions import SessionManager

_PREFIX = re.compile(r"[0-9a-fA-F][0-9a-fA-F-]{0,35}")
SHORT = 8
"""Characters of an id shown in tables (a git-style short id)."""


class UsageError(ThreadlineError):
    """Bad input on the command line (exit 2)."""


def project_root(start: str) -> str:
    """The project a folder belongs to.

    The nearest folder, from ``start`` up, that holds ``.threadline/``; else the git root; else
    ``start``. Inside a git repository the search stops at its root, and the home folder and
    ``/`` count only when they are ``start`` itself, so a stray store there never captures
    every folder below it.
    """
    here = Path(os.path.realpath(start))
    chain = [here, *here.parents]
    git_root = next((c for c in chain if (c / ".git").exists()), None)
    if git_root is not None:
        chain = chain[: chain.index(git_root) + 1]
    home = Path(os.path.realpath(Path.home()))
    for candidate in chain:
        if candidate != here and candidate in (home, Path("/")):
            continue
        if (candidate / ".threadline").is_dir():
            return str(candidate)
    return str(git_root or here)


def all_sessions(core: SessionManager, cwd: str | None) -> list[SessionInfo]:
    """Every session of a project (or of all projects), through every page."""
    found: list[SessionInfo] = []
    cursor: str | None = None
    while True:
        page = core.list_sessions(SessionListParams(cwd=cwd, limit=1000, cursor=cursor))
        found.extend(page.sessions)
        cursor = page.next_cursor
        if cursor is None:
            return found


def resolve_id(core: SessionManager, value: str, project: str) -> str:
    """A full session id from an id or any unique start of one.

    The current project is searched first, then every project; a start that matches several
    sessions is refused with the candidates named.
    """
    core.watch_project(project)
    if is_session_id(value):
        return _with_its_project(core, value)
    if not _PREFIX.fullmatch(value):
        raise UsageError(f"'{value}' is not a session id or the start of one (hexadecimal digits and '-').")
    prefix = value.lower()
    for cwd in (os.path.realpath(project), None):
        unique = {sid: core.info(sid) for sid in core.sessions_with_prefix(prefix, cwd)}
        if len(unique) == 1:
            return _with_its_project(core, next(iter(unique)))
        if len(unique) > 1:
            shown = sorted(unique.values(), key=lambda s: s.session_id)
            names = ", ".join(f"{s.session_id[: len(prefix) + 4]} ({_short_title(s.title)})" for s in shown[:5])
            more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
            raise UsageError(f"'{value}' matches {len(shown)} sessions: {names}{more}; give more characters of the id.")
    raise SessionNotFound(f"No session id starts with '{value}'.", sessionId=value)


def _with_its_project(core: SessionManager, session_id: str) -> str:
    """Watch the project of a session, so its store entry (status, turns, cost) is read.

    Without it a workflow of another project would look external, and a resume would start
    it a new store entry instead of adding a turn to its own.
    """
    cwd = core.info(session_id).cwd
    if cwd and os.path.isdir(cwd):
        core.watch_project(cwd)
    return session_id


def _short_title(title: str, width: int = 30) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"
