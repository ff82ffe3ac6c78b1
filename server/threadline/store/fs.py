"""The store's file-system helpers: atomic writes, setting aside, locks, one warning per problem.

Several processes write one store: every file is replaced whole (readers see the old file or
the new one), a corrupt one is renamed aside (never removed) and read-modify-write cycles
hold a cross-process lock, one lock object per file per process.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import threading
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

# A hung peer must not hang us for ever; a healthy one holds a lock for milliseconds.
LOCK_TIMEOUT = 30.0
# Private like the agents' own files (protocol §5), whatever the umask.
DIR_MODE = 0o700
FILE_MODE = 0o600

_log = logging.getLogger(__package__)  # log lines name the package, as before the split


def file_stamp() -> str:
    """A UTC timestamp safe in a file name on every platform (no ``:``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"


def encode_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
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


def rename_aside(path: Path) -> Path:
    """Rename a corrupt file out of the way, never over an earlier one; return its new name."""
    stamp = file_stamp()
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.rename(path, target)
    return target


def wrong_type(path: Path) -> bool:
    """Something other than a regular file sits at ``path`` (a folder, FIFO, socket, link)."""
    try:
        return not stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def lock_for(path: Path) -> FileLock:
    """One lock object per file, so a thread re-entering a lock it holds does not deadlock."""
    key = os.fspath(path)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = FileLock(key, timeout=LOCK_TIMEOUT, mode=FILE_MODE)
        return lock


_WARNED: set[str] = set()
_WARNED_GUARD = threading.Lock()


def warn_once(key: str, message: str, *args: object) -> None:
    """A problem we cannot fix (read-only store) is worth one log line, not one per read."""
    with _WARNED_GUARD:
        if key in _WARNED:
            return
        _WARNED.add(key)
    _log.warning(message, *args)
