"""Incremental, tolerant reading of append-only JSONL files (agent transcripts).

A reader remembers the byte offset it has parsed up to and, on each call, parses only
what was appended since; its position can be saved and restored, so another process goes
on where this one stopped. An unterminated last line is held back until its newline
arrives (the agent may be mid-write); a malformed line is counted, logged once and
skipped; a line longer than ``max_line_bytes`` is skipped without ever being held in
memory whole. Records are yielded one at a time, so a 300 MB file is never held as a list.
Only regular files are opened (never a FIFO, device or socket), without blocking.
Nothing here raises for bad content: one bad line never breaks a session.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from threadline import safeio

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 8 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


@dataclass(slots=True)
class Record:
    """One parsed JSON object and where its line starts in the file."""

    offset: int
    data: dict[str, Any]


def open_regular(path: str) -> tuple[BinaryIO, os.stat_result] | None:
    """A regular file opened for reading with its ``fstat``, or None (see :mod:`threadline.safeio`:
    a FIFO never blocks, a symlink loop or a folder in its place is logged once and skipped)."""
    fd = safeio.open_regular(path)
    if fd is None:
        return None
    try:
        info = os.fstat(fd)
        os.set_blocking(fd, True)
    except OSError:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb"), info


class JsonlTail:
    """Follows one JSONL file by byte offset; see the module docstring for the rules."""

    def __init__(self, path: str, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.offset = 0
        """Bytes consumed: everything before this offset has been parsed or skipped."""
        self.line_number = 0
        """Complete lines consumed so far (for error messages)."""
        self.malformed = 0
        self.oversized = 0
        self._skipping = False
        """Inside an oversized line: discard bytes until its newline."""
        self.identity: tuple[int, int] | None = None
        """(device, inode) of the file read so far: a replaced file starts over."""
        self.size = 0
        self.mtime_ns = 0
        """The file's size and mtime when it was last opened."""

    # -- saved position ---------------------------------------------------------------------
    def position(self) -> dict[str, int | bool]:
        """What :meth:`restore` needs to go on from here (JSON-able)."""
        return {
            "offset": self.offset,
            "line": self.line_number,
            "malformed": self.malformed,
            "oversized": self.oversized,
            "skipping": self._skipping,
        }

    def restore(self, position: dict[str, Any], identity: tuple[int, int] | None) -> None:
        self.offset = int(position.get("offset", 0))
        self.line_number = int(position.get("line", 0))
        self.malformed = int(position.get("malformed", 0))
        self.oversized = int(position.get("oversized", 0))
        self._skipping = bool(position.get("skipping", False))
        self.identity = identity

    def reset(self) -> None:
        """Forget everything read (the file was truncated or replaced)."""
        self.offset = 0
        self.line_number = 0
        self.malformed = 0
        self.oversized = 0
        self._skipping = False

    # -- reading ----------------------------------------------------------------------------
    def read_new(self) -> tuple[list[Record], bool]:
        """Parse what was appended since the last call (a list; see :meth:`open_new`)."""
        opened = self.open_new()
        if opened is None:
            return [], False
        records, reset = opened
        return list(records), reset

    def open_new(self) -> tuple[Iterator[Record], bool] | None:
        """The records appended since the last call, as a lazy iterator, and whether the file
        was reset (truncated or replaced: then the records are the whole file again).

        None when the file cannot be read. ``offset`` advances as the iterator is consumed.
        """
        opened = open_regular(self.path)
        if opened is None:
            return None
        handle, info = opened
        identity = (info.st_dev, info.st_ino)
        was_reset = False
        if self.identity is not None and (identity != self.identity or info.st_size < self.offset):
            self.reset()
            was_reset = True
        self.identity = identity
        self.size, self.mtime_ns = info.st_size, info.st_mtime_ns
        if info.st_size == self.offset:
            handle.close()
            return iter(()), was_reset
        handle.seek(self.offset)
        return self._consume(handle), was_reset

    def _consume(self, handle: BinaryIO) -> Iterator[Record]:
        with handle:
            pending = b""
            pending_start = self.offset
            position = self.offset
            while True:
                chunk = handle.read(CHUNK_BYTES)
                if not chunk:
                    break
                start = 0
                while True:
                    newline = chunk.find(b"\n", start)
                    if self._skipping:
                        if newline < 0:
                            break
                        self._skipping = False
                        self.line_number += 1
                        self.offset = position + newline + 1
                        pending = b""
                        pending_start = self.offset
                        start = newline + 1
                        continue
                    if newline < 0:
                        pending += chunk[start:]
                        if len(pending) > self.max_line_bytes:
                            self._skip_oversized(pending_start)
                            pending = b""
                        break
                    line = pending + chunk[start:newline] if pending else chunk[start:newline]
                    self.line_number += 1
                    record = None
                    if len(line) > self.max_line_bytes:
                        self.oversized += 1
                        logger.warning(
                            "%s:%d: skipped a line of %d bytes (limit %d)",
                            self.path,
                            self.line_number,
                            len(line),
                            self.max_line_bytes,
                        )
                    else:
                        record = self._parse(line, pending_start)
                    self.offset = position + newline + 1
                    pending = b""
                    pending_start = self.offset
                    start = newline + 1
                    if record is not None:
                        yield record
                position += len(chunk)
                if self._skipping:
                    # Bytes of an oversized line are consumed as they are seen.
                    self.offset = position

    def _skip_oversized(self, line_start: int) -> None:
        self._skipping = True
        self.oversized += 1
        logger.warning(
            "%s:%d: skipping a line longer than %d bytes (starts at byte %d)",
            self.path,
            self.line_number + 1,
            self.max_line_bytes,
            line_start,
        )

    def _parse(self, line: bytes, offset: int) -> Record | None:
        data = parse_line(line)
        if data is None:
            if line.strip():
                self.malformed += 1
                logger.warning("%s:%d: skipped a malformed line", self.path, self.line_number)
            return None
        return Record(offset, data)


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One JSON object, or None for a blank, malformed or non-object line."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def read_range(path: str, start: int, end: int, max_line_bytes: int = MAX_LINE_BYTES) -> list[Record]:
    """Parse the complete lines between two byte offsets (used to page through messages)."""
    return list(iter_range(path, start, end, max_line_bytes))


def iter_range(path: str, start: int, end: int, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Record]:
    """The complete lines between two byte offsets, one record at a time."""
    if end <= start:
        return
    opened = open_regular(path)
    if opened is None:
        return
    handle, _ = opened
    with handle:
        handle.seek(start)
        position = start
        while position < end:
            line = handle.readline(max_line_bytes + 1)
            if not line:
                break
            line_start = position
            position += len(line)
            if not line.endswith(b"\n"):
                if len(line) > max_line_bytes:
                    # Oversized: skip to the end of this line without keeping it.
                    while line and not line.endswith(b"\n"):
                        line = handle.readline(CHUNK_BYTES)
                        position += len(line)
                    continue
                break  # the unterminated last line: not complete yet
            data = parse_line(line)
            if data is not None:
                yield Record(line_start, data)
