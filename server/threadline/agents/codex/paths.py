"""Where Codex keeps its sessions, and which of them a live process holds.

Rollouts: ``<home>/sessions/YYYY/MM/DD/rollout-<local time>-<thread id>.jsonl`` (the folder
date is local time, so a lookup by id never guesses the folder). A running thread holds an
exclusive ``flock`` on ``<home>/thread-writer-locks/<thread id>.lock``; the file outlives a
killed process, so only the lock says whether the thread is live.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

ROLLOUT_RE = re.compile(
    r"^rollout-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-"
    r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.jsonl$"
)
LOCK_SUFFIX = ".lock"
PROC_LOCKS = Path("/proc/locks")


def default_home() -> Path:
    """``$CODEX_HOME``, else ``~/.codex`` (as the CLI itself decides)."""
    env = os.environ.get("CODEX_HOME")
    return Path(env) if env else Path.home() / ".codex"


class CodexPaths:
    """The files of one ``CODEX_HOME``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.sessions = home / "sessions"
        self.locks = home / "thread-writer-locks"

    # -- rollouts -------------------------------------------------------------------------
    def is_transcript(self, path: Path) -> bool:
        """A rollout in a ``sessions/YYYY/MM/DD`` folder of this home."""
        return ROLLOUT_RE.match(path.name) is not None and path.parent.parent.parent.parent == self.sessions

    @staticmethod
    def session_id_from_path(path: Path) -> str | None:
        match = ROLLOUT_RE.match(path.name)
        return match.group(1).lower() if match else None

    def iter_transcripts(self) -> Iterator[Path]:
        """Every rollout under ``sessions/``, in folder order (oldest day first)."""
        for year in _sorted_dirs(self.sessions):
            for month in _sorted_dirs(year):
                for day in _sorted_dirs(month):
                    try:
                        names = sorted(os.listdir(day))
                    except OSError:
                        continue
                    for name in names:
                        if ROLLOUT_RE.match(name):
                            yield day / name

    def find_transcript(self, session_id: str) -> Path | None:
        """The rollout of ``session_id`` (newest day first: a live thread is usually recent)."""
        suffix = f"-{session_id.lower()}.jsonl"
        for year in reversed(_sorted_dirs(self.sessions)):
            for month in reversed(_sorted_dirs(year)):
                for day in reversed(_sorted_dirs(month)):
                    try:
                        names = os.listdir(day)
                    except OSError:
                        continue
                    for name in names:
                        if name.lower().endswith(suffix) and ROLLOUT_RE.match(name):
                            return day / name
        return None

    # -- liveness -------------------------------------------------------------------------
    def is_liveness_path(self, path: Path) -> bool:
        """A thread's writer lock (not Codex's own ``.coordination.lock``)."""
        return path.parent == self.locks and path.name.endswith(LOCK_SUFFIX) and not path.name.startswith(".")

    def lock_path(self, session_id: str) -> Path:
        return self.locks / f"{session_id}{LOCK_SUFFIX}"

    def live_sessions(self) -> dict[str, int]:
        """Thread id → pid of the process that holds its writer lock now (0: pid unknown).

        Read from ``/proc/locks`` where there is one: looking never takes the lock, so a
        Codex starting at that moment cannot lose it to us. Elsewhere a non-blocking
        ``flock`` probe on a read-only descriptor decides, without a pid.
        """
        try:
            entries = [e for e in os.scandir(self.locks) if e.name.endswith(LOCK_SUFFIX) and not e.name.startswith(".")]
        except OSError:
            return {}
        if not entries:
            return {}
        holders = _flock_holders()
        live: dict[str, int] = {}
        for entry in entries:
            session_id = entry.name[: -len(LOCK_SUFFIX)]
            if holders is not None:
                try:
                    st = entry.stat()
                except OSError:
                    continue
                pid = holders.get((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
                if pid is not None:
                    live[session_id] = pid
            elif lock_is_held(Path(entry.path)):
                live[session_id] = 0
        return live


def lock_is_held(path: Path) -> bool:
    """Whether another process holds a ``flock`` on ``path`` (a missing file: no)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _flock_holders() -> dict[tuple[int, int, int], int] | None:
    """(major, minor, inode) → pid of every granted ``FLOCK`` on this machine, or None."""
    try:
        text = PROC_LOCKS.read_text()
    except OSError:
        return None
    holders: dict[tuple[int, int, int], int] = {}
    for line in text.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 00:2e:1234 0 EOF"; waiters have "->" after the number.
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            holders[(int(major, 16), int(minor, 16), int(inode))] = int(fields[4])
        except ValueError:
            continue
    return holders


def _sorted_dirs(path: Path) -> list[Path]:
    try:
        return [path / name for name in sorted(os.listdir(path)) if name.isdigit() and (path / name).is_dir()]
    except OSError:
        return []
