"""The per-project store: ``<project>/.threadline`` (protocol §5).

Threadline keeps its state next to the code it concerns, so it survives editor restarts and
is shared by every editor window open on the project. Several processes may write it at
once, so every file is replaced atomically and read-modify-write cycles run under file
locks. ``index.json`` is derived data: whenever it is missing, corrupt or out of step it is
rebuilt from the ``metadata.json`` files, which are the truth. Nothing the user could want
back is ever deleted: a corrupt file is renamed aside, never removed.

Transport-free on purpose: the JSON-RPC layer turns :class:`StoreError` into a response.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from threadline.errors import StoreError
from threadline.protocol import DEFAULT_AGENT, Status, is_session_id
from threadline.safeio import open_regular

__all__ = [
    "STORE_DIR",
    "IndexEntry",
    "ProjectStore",
    "TurnRecord",
    "WorkflowMetadata",
    "utc_now",
]

_log = logging.getLogger(__name__)

STORE_DIR = ".threadline"
STORE_VERSION = 1
METADATA_NAME = "metadata.json"
INDEX_NAME = "index.json"
MARKER_PREFIX = ".active-"
GITIGNORE_TEXT = "*\n"
# A hung peer must not hang us for ever; a healthy one holds a lock for milliseconds.
LOCK_TIMEOUT = 30.0
# Private like the agents' own files (protocol §5), whatever the umask.
DIR_MODE = 0o700
FILE_MODE = 0o600

# A write's temp file (see _atomic_write) older than this belongs to a writer that died.
STALE_TEMP_SECONDS = 600.0
_TEMP_NAME = re.compile(r"\.(?:metadata\.json|index\.json)\.[A-Za-z0-9_]+\.tmp")
_SESSION_LOCK_NAME = ".metadata.lock"
_INDEX_LOCK_NAME = ".index.lock"
_MARKERS_LOCK_NAME = ".markers.lock"


def utc_now() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. ``2026-11-21T10:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _file_stamp() -> str:
    """A UTC timestamp safe in a file name on every platform (no ``:``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"


def _is_id(value: str) -> bool:
    """``is_session_id`` plus a length check: its ``$`` would let a trailing newline by."""
    return len(value) == 36 and is_session_id(value)


def _check_id(session_id: object) -> str:
    """Refuse anything but a canonical id, so no path is ever built from an unchecked one."""
    if not isinstance(session_id, str) or not _is_id(session_id):
        raise ValueError(f"Not a well-formed session id: {session_id!r}.")
    return session_id


# -- models -----------------------------------------------------------------------------
class _StoreModel(BaseModel):
    """camelCase on disk, like the wire; unknown keys (a newer Threadline's) are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TurnRecord(_StoreModel):
    """One prompt sent to the agent and how that turn ended."""

    prompt: str
    started_at: str = Field(default_factory=utc_now)
    ended_at: str | None = None
    exit_code: int | None = None
    status: Status = "running"
    cost_usd: float | None = None


class WorkflowMetadata(_StoreModel):
    """Everything Threadline knows about a session it started (``<id>/metadata.json``)."""

    version: int = STORE_VERSION
    session_id: str
    agent: str = DEFAULT_AGENT
    cwd: str
    skill: str | None = None
    title: str = "(untitled)"
    status: Status
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    transcript_path: str | None = None
    pid: int | None = None
    last_error: str | None = None
    parent_session_id: str | None = None
    turns: list[TurnRecord] = Field(default_factory=list)

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str) -> str:
        return _check_id(value)

    @field_validator("parent_session_id")
    @classmethod
    def _parent_id(cls, value: str | None) -> str | None:
        return None if value is None else _check_id(value)


class IndexEntry(_StoreModel):
    """One line of ``index.json``: enough to list a session without opening its metadata."""

    session_id: str
    agent: str
    skill: str | None = None
    status: Status
    title: str
    created_at: str
    updated_at: str

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str) -> str:
        return _check_id(value)

    @classmethod
    def from_metadata(cls, meta: WorkflowMetadata) -> IndexEntry:
        return cls(
            session_id=meta.session_id,
            agent=meta.agent,
            skill=meta.skill,
            status=meta.status,
            title=meta.title,
            created_at=meta.created_at,
            updated_at=meta.updated_at,
        )


class _IndexFile(_StoreModel):
    version: int = STORE_VERSION
    sessions: list[IndexEntry]


def _newest_first(entry: IndexEntry | WorkflowMetadata) -> tuple[str, str]:
    return (entry.updated_at, entry.session_id)


# -- small file-system helpers ----------------------------------------------------------
def _encode(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` whole: readers see the old file or the new one, never a mix.

    ``durable`` also flushes the data to disk before the rename, so a crash cannot leave an
    empty file in its place; derived files that heal themselves skip that (and its wait).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                # Prompts are as private as the agent's transcript: owner only.
                os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _set_aside(path: Path) -> Path:
    """Rename a corrupt file out of the way, never over an earlier one; return its new name."""
    stamp = _file_stamp()
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.rename(path, target)
    return target


def _wrong_type(path: Path) -> bool:
    """Something other than a regular file sits at ``path`` (a folder, FIFO, socket, link)."""
    try:
        return not stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> FileLock:
    """One lock object per file, so a thread re-entering a lock it holds does not deadlock."""
    key = os.fspath(path)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = FileLock(key, timeout=LOCK_TIMEOUT, mode=FILE_MODE)
        return lock


_WARNED: set[str] = set()
_WARNED_GUARD = threading.Lock()


def _warn_once(key: str, message: str, *args: object) -> None:
    """A problem we cannot fix (read-only store) is worth one log line, not one per read."""
    with _WARNED_GUARD:
        if key in _WARNED:
            return
        _WARNED.add(key)
    _log.warning(message, *args)


# -- the store --------------------------------------------------------------------------
class ProjectStore:
    """``<project>/.threadline``: session metadata, the derived index and the active marker."""

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
        lock = _lock_for(lock_path)
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
                _atomic_write(gitignore, GITIGNORE_TEXT.encode())
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
            folders += [Path(e.path) for e in os.scandir(self.workflows_dir) if _is_id(e.name) and e.is_dir()]
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if not _TEMP_NAME.fullmatch(entry.name):
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
                _warn_once(f"chmod:{path}", "cannot make %s private: %s", path, exc.strerror or exc)
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
            _warn_once(f"scan:{self.workflows_dir}", "Threadline store %s cannot be read: %s", self.root, exc)
            return ids, newest
        for entry in entries:
            if not _is_id(entry.name) or not entry.is_dir(follow_symlinks=False):
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
        if raw is None and not _wrong_type(path):
            return None, False  # missing, or a regular file we may not read (logged once)
        meta = None if raw is None else self._parse_metadata(raw, session_id)
        if meta is not None:
            return meta, False
        # Only under the session's lock: a writer may be replacing the file right now, and
        # setting aside its fresh copy would lose the session. If it is busy, try next time.
        lock = _lock_for(self._session_dir(session_id) / _SESSION_LOCK_NAME)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            _warn_once(str(path), "Threadline metadata %s is unreadable and cannot be set aside yet.", path)
            return None, False
        try:
            raw = self._read_regular(path)
            if raw is None and not _wrong_type(path):
                return None, False
            meta = None if raw is None else self._parse_metadata(raw, session_id)
            if meta is not None:
                return meta, False
            try:
                target = _set_aside(path)
            except OSError as exc:
                _warn_once(str(path), "Threadline metadata %s is corrupt and cannot be set aside: %s", path, exc)
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
            _warn_once(f"read:{path}", "Threadline store file %s cannot be read: %s", path, exc)
            return None

    def read_metadata(self, session_id: str) -> WorkflowMetadata | None:
        """The session's metadata, or None if there is none (or it was corrupt and set aside)."""
        _check_id(session_id)
        meta, set_aside = self._load(session_id)
        if set_aside:
            self._rebuild_best_effort()
        return meta

    def list_metadata(self) -> list[WorkflowMetadata]:
        """Every readable session's metadata, most recently updated first."""
        found: list[WorkflowMetadata] = []
        any_set_aside = False
        for session_id in self.session_ids():
            meta, set_aside = self._load(session_id)
            any_set_aside |= set_aside
            if meta is not None:
                found.append(meta)
        if any_set_aside:
            self._rebuild_best_effort()
        return sorted(found, key=_newest_first, reverse=True)

    def write_metadata(self, meta: WorkflowMetadata) -> None:
        """Atomically write the session's metadata, then its line of the index."""
        session_id = _check_id(meta.session_id)
        data = self._dump_metadata(meta)
        self.ensure()
        folder = self._session_dir(session_id)
        try:
            folder.mkdir(mode=DIR_MODE)
            created = True
            os.chmod(folder, DIR_MODE)
        except FileExistsError:
            created = False
        except OSError as exc:
            raise self._error(exc) from exc
        try:
            with self._locked(folder / _SESSION_LOCK_NAME):
                self._write_holding_session_lock(meta, data)
        except BaseException:
            if created:  # a new session that could not be written leaves no empty folder
                with suppress(OSError):
                    (folder / _SESSION_LOCK_NAME).unlink()
                with suppress(OSError):
                    folder.rmdir()
            raise

    def update_metadata(
        self, session_id: str, fn: Callable[[WorkflowMetadata], WorkflowMetadata | None], touch: bool = True
    ) -> WorkflowMetadata:
        """Read-modify-write under the session's lock, so concurrent turns are all kept.

        ``fn`` may change the metadata in place (returning None) or return a new one.
        ``updatedAt`` is set to now unless ``fn`` set it or ``touch`` is false (bookkeeping
        a user never sees, such as a pid). Raises KeyError if there is none.
        """
        _check_id(session_id)
        if not self._metadata_path(session_id).is_file():
            raise KeyError(session_id)
        self.ensure()
        set_aside = False
        try:
            with self._locked(self._session_dir(session_id) / _SESSION_LOCK_NAME):
                meta, set_aside = self._load(session_id)
                if meta is None:
                    raise KeyError(session_id)
                before = meta.updated_at
                result = fn(meta)
                new = meta if result is None else result
                if new.session_id != session_id:
                    raise ValueError("update_metadata must not change the session id.")
                if new.updated_at == before and touch:
                    new.updated_at = utc_now()
                self._write_holding_session_lock(new, self._dump_metadata(new))
                return new
        finally:
            if set_aside:
                self._rebuild_best_effort()

    def _dump_metadata(self, meta: WorkflowMetadata) -> bytes:
        # Re-validate: a caller may have assigned a bad value to a field after construction.
        checked = WorkflowMetadata.model_validate(meta.model_dump())
        return _encode(checked.model_dump(mode="json", by_alias=True))

    def _write_holding_session_lock(self, meta: WorkflowMetadata, data: bytes) -> None:
        try:
            _atomic_write(self._metadata_path(meta.session_id), data)
        except OSError as exc:
            raise self._error(exc) from exc
        self._tighten()
        # The metadata is the truth and is safely written; the index is derived and heals
        # itself on the next read (it is then older than this file), so a failure to update
        # it is logged rather than reported as a failed write.
        try:
            self._upsert_index(IndexEntry.from_metadata(meta))
        except StoreError as exc:
            _log.warning("Threadline index not updated for %s: %s", meta.session_id, exc.message)

    # -- index ---------------------------------------------------------------------------
    def _read_index_file(self) -> tuple[list[IndexEntry] | None, int, bool]:
        """(entries, mtime_ns, corrupt); entries is None when missing or corrupt."""
        fd = open_regular(self.index_path, follow_symlinks=False)
        if fd is None:
            # Missing or unreadable: rebuilt (and replaced) like a missing one. A folder, FIFO
            # or link in its place counts as corrupt, so the rebuild sets it aside.
            return None, 0, _wrong_type(self.index_path)
        try:
            with os.fdopen(fd, "rb") as handle:
                mtime = os.fstat(handle.fileno()).st_mtime_ns
                raw = handle.read()
        except OSError:
            return None, 0, False
        try:
            parsed = _IndexFile.model_validate_json(raw)
        except (ValidationError, ValueError):
            return None, mtime, True
        return parsed.sessions, mtime, False

    def _write_index(self, entries: list[IndexEntry]) -> None:
        document = {
            "version": STORE_VERSION,
            "sessions": [entry.model_dump(mode="json", by_alias=True) for entry in entries],
        }
        try:
            # Not fsynced: the index is derived, and a torn or stale one is rebuilt on read.
            _atomic_write(self.index_path, _encode(document), durable=False)
        except OSError as exc:
            raise self._error(exc) from exc

    def _collect_entries(self) -> list[IndexEntry]:
        entries = []
        for session_id in self.session_ids():
            meta, _ = self._load(session_id)
            if meta is not None:
                entries.append(IndexEntry.from_metadata(meta))
        return sorted(entries, key=_newest_first, reverse=True)

    def _rebuild_holding_lock(self) -> list[IndexEntry]:
        _, _, corrupt = self._read_index_file()
        if corrupt:
            try:
                target = _set_aside(self.index_path)
            except OSError as exc:
                raise self._error(exc) from exc
            _log.warning("Threadline index %s was corrupt; it is kept as %s.", self.index_path, target.name)
        entries = self._collect_entries()
        self._write_index(entries)
        return entries

    def _upsert_index(self, entry: IndexEntry) -> None:
        with self._locked(self.workflows_dir / _INDEX_LOCK_NAME):
            current, _, _ = self._read_index_file()
            if current is None:
                self._rebuild_holding_lock()
                return
            entries = [e for e in current if e.session_id != entry.session_id]
            entries.append(entry)
            self._write_index(sorted(entries, key=_newest_first, reverse=True))

    def rebuild_index(self) -> list[IndexEntry]:
        """Rewrite ``index.json`` from the metadata files (a corrupt index is set aside)."""
        self.ensure()
        with self._locked(self.workflows_dir / _INDEX_LOCK_NAME):
            return self._rebuild_holding_lock()

    def _rebuild_best_effort(self) -> list[IndexEntry]:
        """Rebuild, or at least compute, the index: a read-only store can still be listed."""
        try:
            return self.rebuild_index()
        except StoreError as exc:
            _warn_once(f"index:{self.root}", "Threadline index cannot be rebuilt: %s", exc.message)
            return self._collect_entries()

    def read_index(self) -> list[IndexEntry]:
        """The index, rebuilt first if missing, corrupt or out of step with the metadata.

        Out of step means another set of ids than the metadata folders, or a metadata file
        newer than the index (a writer died between the two). Checking costs one scandir.
        """
        if not self.workflows_dir.is_dir():
            return []  # reading never creates the store
        ids, newest = self._scan()
        entries, mtime, _ = self._read_index_file()
        if entries is None:
            return self._rebuild_best_effort()
        indexed = [entry.session_id for entry in entries]
        if len(indexed) != len(set(indexed)) or set(indexed) != ids or newest > mtime:
            return self._rebuild_best_effort()
        return entries

    # -- active marker -------------------------------------------------------------------
    def _markers(self) -> list[tuple[str, str | None, int]]:
        """(file name, id or None if malformed, mtime_ns) of every ``.active-*`` file."""
        found: list[tuple[str, str | None, int]] = []
        try:
            with os.scandir(self.workflows_dir) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return found
        except OSError as exc:
            _warn_once(f"scan:{self.workflows_dir}", "Threadline store %s cannot be read: %s", self.root, exc)
            return found
        for entry in entries:
            if not entry.name.startswith(MARKER_PREFIX) or entry.is_dir(follow_symlinks=False):
                continue
            suffix = entry.name[len(MARKER_PREFIX) :]
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime_ns
            except FileNotFoundError:
                continue  # removed by a concurrent switch
            found.append((entry.name, suffix if _is_id(suffix) else None, mtime))
        return found

    def active_session_id(self) -> str | None:
        """The session of the newest well-formed marker, if any."""
        valid = [(mtime, name, sid) for name, sid, mtime in self._markers() if sid is not None]
        return max(valid)[2] if valid else None

    def set_active(self, session_id: str | None) -> None:
        """Make ``session_id`` the active session (None clears).

        The new marker is created before the old ones go, so a reader in another process
        always sees some marker while switching; its mtime is forced past theirs so that
        "newest wins" picks it even on a coarse clock.
        """
        if session_id is not None:
            _check_id(session_id)
        elif not self._markers():
            return  # nothing to clear: do not create a store for it
        self.ensure()
        with self._locked(self.workflows_dir / _MARKERS_LOCK_NAME):
            try:
                markers = self._markers()
                keep = None
                if session_id is not None:
                    keep = MARKER_PREFIX + session_id
                    marker = self.workflows_dir / keep
                    others = [mtime for name, _, mtime in markers if name != keep]
                    stamp = max([time.time_ns(), *(mtime + 1 for mtime in others)])
                    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))
                    os.utime(marker, ns=(stamp, stamp))
                for name, _, _ in markers:
                    if name != keep:
                        with suppress(FileNotFoundError):
                            os.remove(self.workflows_dir / name)
            except OSError as exc:
                raise self._error(exc) from exc
        self._tighten()

    def heal_markers(self, exists: Callable[[str], bool]) -> str | None:
        """At start-up: drop markers of unknown sessions or malformed names, keep the newest.

        Returns the active session id left, if any. Never raises: healing is housekeeping,
        and a store we cannot write (read-only, locked by a hung peer) must still load; the
        markers are then left as they are.
        """
        if not self._markers():
            return None  # nothing to heal: do not even create a lock file
        try:
            return self._heal_markers(exists)
        except StoreError as exc:
            _warn_once(f"heal:{self.root}", "Threadline active marker of %s not healed: %s", self.root, exc.message)
            return self.active_session_id()

    def _heal_markers(self, exists: Callable[[str], bool]) -> str | None:
        with self._locked(self.workflows_dir / _MARKERS_LOCK_NAME):
            markers = self._markers()
            alive = [(mtime, name, sid) for name, sid, mtime in markers if sid is not None and exists(sid)]
            keep = max(alive) if alive else None
            try:
                for name, _, _ in markers:
                    if keep is None or name != keep[1]:
                        with suppress(FileNotFoundError):
                            os.remove(self.workflows_dir / name)
            except OSError as exc:
                raise self._error(exc) from exc
            return keep[2] if keep else None
