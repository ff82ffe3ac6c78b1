"""Per-session claims that hold across processes: the busy guard's lock (issue 9, item 1).

A claim is an exclusive ``flock`` on ``<folder>/<sessionId>.lock``, taken without waiting and
held by the claiming process for the whole turn. The kernel ties the lock to the open file,
so it dies with the process: a ``kill -9`` never leaves a session stuck busy. ``flock`` locks
belong to an open file description, not to a process, so two claims of one session inside
one process (two requests on one server) conflict exactly like two servers do.

The holder writes its pid into the lock file, so a refused claimer can name it. Lock files
are never deleted: unlinking a lock file that another process has just opened would let two
processes each hold a lock on a different file of the same name.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import time
from pathlib import Path

from threadline.errors import SessionBusy
from threadline.procs import pid_alive

__all__ = ["Claim", "Claims"]

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Any agent's session id that is safe as a file name (UUIDs, Codex/Gemini ids)."""

SETTLE_SECONDS = 0.2
"""How long a refused claimer waits for the holder's pid to appear in the file.

A new holder writes its pid microseconds after taking the lock, and ``holder()`` probes hold
a shared lock for microseconds; either can refuse a claim before a pid is readable.
"""


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0)
    except OSError:
        return None
    text = raw.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class Claim:
    """A held claim; keep a reference and call :meth:`release` when the turn ends."""

    def __init__(self, session_id: str, path: Path, fd: int) -> None:
        self.session_id = session_id
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def fd(self) -> int | None:
        """The lock's descriptor: the agent inherits it, so the session stays claimed for as
        long as the agent runs, even if this process is killed first."""
        return self._fd

    def note_pid(self, pid: int) -> None:
        """Name the process that does the work (the agent) as the holder from now on."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{pid}\n".encode("ascii"), 0)
        except OSError:
            pass

    def release(self) -> None:
        """Give the session back (idempotent). The pid is cleared first, so no later refusal
        names a process that no longer holds it."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the only descriptor of the open file releases the flock

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Claim({self.session_id!r}, held={self.held})"


class Claims:
    """The claims of one folder (for example ``<cacheDir>/claims``), shared by every process."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _path(self, session_id: str) -> Path:
        if not isinstance(session_id, str) or not _SAFE_ID.fullmatch(session_id):
            raise ValueError(f"Not a session id that can name a claim: {session_id!r}.")
        return self.folder / f"{session_id}.lock"

    def _ensure_folder(self) -> None:
        """Create the folder and any missing parent private (0700): ``mkdir(parents=True)``
        would make the parents with the umask's modes, and a parent may be the store."""
        missing: list[Path] = []
        folder = self.folder
        while not folder.is_dir() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                pass

    def try_claim(self, session_id: str) -> Claim:
        """Claim the session now or raise :class:`SessionBusy` naming the holder's pid.

        Never waits for the holder: a refusal is immediate (at most ``SETTLE_SECONDS`` to read
        a pid that is being written, so call it from a worker thread, not on the event loop).
        Raises OSError if the folder cannot be written.
        """
        path = self._path(session_id)
        self._ensure_folder()
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        try:
            deadline = time.monotonic() + SETTLE_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                pid = _read_pid(fd)
                if (pid is not None and pid_alive(pid)) or time.monotonic() >= deadline:
                    raise SessionBusy(
                        f"Session {session_id} is busy: a turn is already running"
                        + (f" in process {pid}." if pid else "."),
                        sessionId=session_id,
                        pid=pid,
                    )
                time.sleep(0.002)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        return Claim(session_id, path, fd)

    def holder(self, session_id: str) -> int | None:
        """The pid of the live process holding the session, or None.

        Tested with a non-blocking shared lock, never by the file's existence (a lock file
        outlives its holder). Returns 0 if it is held but the pid cannot be read.
        """
        path = self._path(session_id)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            # Shared probes never conflict with each other: an exclusive holder exists.
            deadline = time.monotonic() + SETTLE_SECONDS
            while True:
                pid = _read_pid(fd)
                if (pid is not None and pid_alive(pid)) or time.monotonic() >= deadline:
                    return pid or 0
                time.sleep(0.002)
        finally:
            os.close(fd)
