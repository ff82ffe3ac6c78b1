"""Opening and listing files that someone else may have made hostile (issue 9, item 4).

Transcripts live in folders any process of the user can write, and a store file can be
replaced by anything. A FIFO opened for reading blocks for ever, a symlink loop raises
``ELOOP`` from calls that usually never fail, a directory where a file should be raises
``EISDIR``. Here every such path is skipped: only regular files are opened (non-blocking,
checked with ``fstat``), and every ``OSError`` on a path is logged once and turned into "not
there". One bad path never stops a listing, a refresh or ``initialize``.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading

__all__ = ["entry_is_dir", "entry_is_file", "list_dir", "open_regular"]

logger = logging.getLogger(__name__)

_open = os.open
"""Indirection so tests can inject the errors a non-root user would get (root bypasses modes)."""

_WARNED: set[tuple[str, str]] = set()
_WARNED_GUARD = threading.Lock()


def warn_once(path: str | os.PathLike[str], problem: str) -> None:
    """Log a problem with a path once per process (a broken file is seen on every refresh)."""
    key = (os.fspath(path), problem)
    with _WARNED_GUARD:
        if key in _WARNED:
            return
        _WARNED.add(key)
    logger.warning("skipped %s: %s", key[0], problem)


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link that loops or is not allowed here"
    return exc.strerror or type(exc).__name__


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str], follow_symlinks: bool = True) -> int | None:
    """A read-only descriptor of ``path`` if it is a regular file, else None (logged once).

    Opened with ``O_NONBLOCK`` so a FIFO or a device never blocks the open; checked with
    ``fstat`` on the descriptor, so the file cannot be swapped between the check and the
    read. ``follow_symlinks=False`` refuses a symlink as the last component (``O_NOFOLLOW``):
    right for our own store, where no link is ever made; transcripts may be linked by a user.
    A missing file is None without a warning: files come and go.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = _open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        warn_once(path, _describe(exc))
        return None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        warn_once(path, _describe(exc))
        return None
    if not stat.S_ISREG(mode):
        os.close(fd)
        warn_once(path, _kind(mode))
        return None
    return fd


def is_unusable(path: str | os.PathLike[str], follow_symlinks: bool = True) -> bool:
    """True if ``path`` exists as something other than a readable regular file."""
    fd = open_regular(path, follow_symlinks)
    if fd is not None:
        os.close(fd)
        return False
    return os.path.lexists(path)


def list_dir(path: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    """The entries of a folder, or none if it cannot be listed (logged once unless missing)."""
    try:
        with os.scandir(path) as scan:
            return list(scan)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        warn_once(path, _describe(exc))
        return []


def entry_is_file(entry: os.DirEntry[str]) -> bool:
    """Whether an entry is a regular file (through symlinks); a loop or error is False, logged."""
    try:
        return entry.is_file()
    except OSError as exc:
        warn_once(entry.path, _describe(exc))
        return False


def entry_is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether an entry is a folder (through symlinks); a loop or error is False, logged."""
    try:
        return entry.is_dir()
    except OSError as exc:
        warn_once(entry.path, _describe(exc))
        return False
