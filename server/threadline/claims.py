"""The busy guard: a per-session claim that two processes can never both hold.

A turn claims its session before its agent is spawned and holds the claim until the turn
is recorded as ended. The claim is an OS file lock (``flock``) on ``.turn.lock`` in the
session's store folder, so it is seen by every Threadline process of the project (editor
windows, the CLI) and dies with its process: a kill -9 never leaves a session busy.
``flock`` locks belong to an open file description, so a second claim from the same
process is refused too. The holder writes its pid into the file for the refusal message.
"""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import suppress
from pathlib import Path

from threadline.errors import SessionBusy

CLAIM_NAME = ".turn.lock"


class Claim:
    """A held claim; :meth:`release` ends it (so does the process ending)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @property
    def fd(self) -> int | None:
        return self._fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def note_pid(self, pid: int) -> None:
        """Name the process that does the work (the agent) as the holder from now on."""
        if self._fd is not None:
            with suppress(OSError):
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, str(pid).encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with suppress(OSError):
            os.ftruncate(fd, 0)
        with suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)


def _read_pid(fd: int) -> int | None:
    with suppress(OSError, ValueError):
        data = os.pread(fd, 32, 0).strip()
        return int(data) if data else None
    return None


def try_claim(folder: Path, session_id: str) -> Claim:
    """Claim the session whose store folder is ``folder``; SessionBusy if anyone holds it."""
    path = folder / CLAIM_NAME
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        pid = _read_pid(fd)
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        raise SessionBusy(
            f"Session {session_id} is busy: a turn is running in process {pid or 'unknown'}.",
            sessionId=session_id,
            pid=pid,
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return Claim(fd, path)


def holder(folder: Path) -> int | None:
    """The pid holding the session's claim, or None when nobody does.

    Tested with a shared, non-blocking lock attempt: the file existing means nothing.
    """
    path = folder / CLAIM_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
