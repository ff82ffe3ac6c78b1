"""The store's folders: paths, private creation, locks, scanning, loading one metadata file.

What every part of the store stands on: where things are, the error a failed write becomes,
how a lock is held, which sessions there are (one ``scandir``), and how a metadata file is
read, a corrupt one set aside under the session's lock.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import Timeout
from pydantic import ValidationError

from threadline.errors import StoreError
from threadline.safeio import open_regular
from threadline.store.fs import (
    DIR_MODE,
    LOCK_TIMEOUT,
    atomic_write,
    lock_for,
    rename_aside,
    warn_once,
    wrong_type,
)
from threadline.store.models import WorkflowMetadata, is_id

STORE_DIR = ".threadline"
METADATA_NAME = "metadata.json"
INDEX_NAME = "index.json"
MARKER_PREFIX = ".active-"
GITIGNORE_TEXT = "*\n"

# A write's temp file (see atomic_write) older than this belongs to a writer that died.
STALE_TEMP_SECONDS = 600.0
TEMP_NAME = re.compile(r"\.(?:metadata\.json|index\.json)\.[A-Za-z0-9_]+\.tmp")
SESSION_LOCK_NAME = ".metadata.lock"
INDEX_LOCK_NAME = ".index.lock"
MARKERS_LOCK_NAME = ".markers.lock"

_log = logging.getLogger(__package__)  # log lines name the package, as before the split


class StoreLayout:
    """``<project>/.threadline``: its paths, its locks, its sessions, one metadata file read."""

    def __init__(self, project: Path | str) -> None:
        self.project = Path(project)
        self.root = self.project / STORE_DIR
        self.workflows_dir = self.root / "workflows"
        self.index_path = self.workflows_dir / INDEX_NAME
        self._tightened = False

    def __repr__(self) -> str:
        return f"ProjectStore({str(self.project)!r})"

    # -- errors and locks ----------------------------------------------------------------
    def _error(self, exc: BaseException, verb: str = "write") -> StoreError:
        if isinstance(exc, Timeout):
            reason = f"another Threadline process has held its lock for over {LOCK_TIMEOUT:g} seconds"
        elif isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        else:
            reason = str(exc) or type(exc).__name__
        return StoreError(
            f"Cannot {verb} the Threadline store in {self.root}: {reason.rstrip('.')}.",
            path=str(self.root),
        )

    @contextmanager
    def _locked(self, lock_path: Path) -> Iterator[None]:
        """Hold a cross-process lock; failing to take it is a store error like any other."""
        lock = lock_for(lock_path)
        try:
            lock.acquire()
        except (Timeout, OSError) as exc:
            raise self._error(exc) from exc
        try:
            yield
        finally:
            lock.release()

    def _session_dir(self, session_id: str) -> Path:
        return self.workflows_dir / session_id

    def _metadata_path(self, session_id: str) -> Path:
        return self.workflows_dir / session_id / METADATA_NAME

    # -- layout --------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the store if needed; on failure undo what this call created."""
        created: list[Path] = []
        try:
            self._mkdir(self.root, created)
            gitignore = self.root / ".gitignore"
            if not os.path.lexists(gitignore):  # a user's own .gitignore is left alone
                atomic_write(gitignore, GITIGNORE_TEXT.encode())
                created.append(gitignore)
            self._mkdir(self.workflows_dir, created)
        except OSError as exc:
            for path in reversed(created):
                with suppress(OSError):
                    if path.is_dir():
                        path.rmdir()  # only empty folders we made: never user data
                    else:
                        path.unlink()
            raise self._error(exc) from exc

    def sweep_temp_files(self, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Remove the temp files of writes that never finished (a process killed mid-write).

        Only this store's own temp names (``.<file>.<random>.tmp``) and only old ones: a live
        writer holds its temp file for milliseconds. They never held committed data, so
        removing them loses nothing. Returns what was removed.
        """
        removed: list[Path] = []
        deadline = time.time() - older_than
        folders = [self.workflows_dir]
        with suppress(OSError):
            folders += [Path(e.path) for e in os.scandir(self.workflows_dir) if is_id(e.name) and e.is_dir()]
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if not TEMP_NAME.fullmatch(entry.name):
                    continue
                with suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < deadline:
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
        if removed:
            _log.info("removed %d stale temp file(s) of unfinished writes in %s", len(removed), self.workflows_dir)
        return removed

    @staticmethod
    def _mkdir(path: Path, created: list[Path]) -> None:
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
        else:
            created.append(path)
            os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask

    def _tighten(self) -> None:
        """Once per process, after a successful write: take group and other bits off the store.

        A store made by an older Threadline (0755 / 0644) holds prompts that every local user
        could read. Only what we own is changed, through a descriptor opened without following
        links, so a link planted in the store cannot redirect the chmod elsewhere.
        """
        if self._tightened:
            return
        self._tightened = True
        uid = os.geteuid() if hasattr(os, "geteuid") else None
        pending: list[tuple[str, int]] = [(os.fspath(self.root), 0)]
        while pending:
            path, depth = pending.pop()
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue  # a link, or a file we may not open: left as it is
            try:
                info = os.fstat(fd)
                if (uid is None or info.st_uid == uid) and stat.S_IMODE(info.st_mode) & 0o077:
                    os.fchmod(fd, stat.S_IMODE(info.st_mode) & 0o700)
                if stat.S_ISDIR(info.st_mode) and depth < 3:
                    with os.scandir(fd) as scan:
                        pending.extend((os.path.join(path, entry.name), depth + 1) for entry in scan)
            except OSError as exc:
                warn_once(f"chmod:{path}", "cannot make %s private: %s", path, exc.strerror or exc)
            finally:
                os.close(fd)

    def _scan(self) -> tuple[set[str], int]:
        """Ids of folders holding a metadata.json and the newest mtime among those files.

        One ``scandir`` and one ``stat`` per folder: cheap enough to run on every listing.
        """
        ids: set[str] = set()
        newest = 0
        try:
            with os.scandir(self.workflows_dir) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return ids, newest
        except OSError as exc:
            # Reading never fails a listing: an unreadable store lists as empty (logged once).
            warn_once(f"scan:{self.workflows_dir}", "Threadline store %s cannot be read: %s", self.root, exc)
            return ids, newest
        for entry in entries:
            if not is_id(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                # lstat: a metadata.json that is a link, a loop or a folder is still seen, so
                # _load can set it aside.
                info = os.lstat(os.path.join(entry.path, METADATA_NAME))
            except OSError:
                continue
            ids.add(entry.name)
            newest = max(newest, info.st_mtime_ns)
        return ids, newest

    def session_ids(self) -> set[str]:
        """Ids of the sessions with a metadata file, without parsing any of them."""
        return self._scan()[0]

    # -- metadata ------------------------------------------------------------------------
    def _parse_metadata(self, raw: bytes, session_id: str) -> WorkflowMetadata | None:
        try:
            meta = WorkflowMetadata.model_validate_json(raw)
        except (ValidationError, ValueError):
            return None
        return meta if meta.session_id == session_id else None

    def _load(self, session_id: str) -> tuple[WorkflowMetadata | None, bool]:
        """Read one metadata file; a corrupt one is set aside. Returns (metadata, set_aside)."""
        path = self._metadata_path(session_id)
        raw = self._read_regular(path)
        if raw is None and not wrong_type(path):
            return None, False  # missing, or a regular file we may not read (logged once)
        meta = None if raw is None else self._parse_metadata(raw, session_id)
        if meta is not None:
            return meta, False
        # Only under the session's lock: a writer may be replacing the file right now, and
        # setting aside its fresh copy would lose the session. If it is busy, try next time.
        lock = lock_for(self._session_dir(session_id) / SESSION_LOCK_NAME)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            warn_once(str(path), "Threadline metadata %s is unreadable and cannot be set aside yet.", path)
            return None, False
        try:
            raw = self._read_regular(path)
            if raw is None and not wrong_type(path):
                return None, False
            meta = None if raw is None else self._parse_metadata(raw, session_id)
            if meta is not None:
                return meta, False
            try:
                target = rename_aside(path)
            except OSError as exc:
                warn_once(str(path), "Threadline metadata %s is corrupt and cannot be set aside: %s", path, exc)
                return None, False
            _log.warning("Threadline metadata %s was corrupt; it is kept as %s.", path, target.name)
            return None, True
        finally:
            lock.release()

    @staticmethod
    def _read_regular(path: Path) -> bytes | None:
        """The bytes of a store file, or None if it is missing, unreadable or not a regular
        file (never a link: the store makes none). A FIFO here would block a plain read."""
        fd = open_regular(path, follow_symlinks=False)
        if fd is None:
            return None
        try:
            with os.fdopen(fd, "rb") as handle:
                return handle.read()
        except OSError as exc:
            warn_once(f"read:{path}", "Threadline store file %s cannot be read: %s", path, exc)
            return None
