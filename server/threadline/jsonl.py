"""Incremental, tolerant reading of append-only JSONL files (agent transcripts).

A reader remembers the byte offset it has parsed up to and, on each call, parses only
what was appended since. An unterminated last line is held back until its newline
arrives (the agent may be mid-write); a malformed line is counted, logged once and
skipped; a line longer than ``max_line_bytes`` is skipped without ever being held in
memory whole. Nothing here raises for bad content: one bad line never breaks a session.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from threadline.safeio import open_regular

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 8 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


@dataclass(slots=True)
class Record:
    """One parsed JSON object and where its line starts in the file."""

    offset: int
    data: dict[str, Any]


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

    def reset(self) -> None:
        """Forget everything read (the file was truncated or replaced)."""
        self.offset = 0
        self.line_number = 0
        self.malformed = 0
        self.oversized = 0
        self._skipping = False

    def read_new(self) -> tuple[list[Record], bool]:
        """Parse what was appended since the last call.

        Returns the new records and whether the file was reset (truncated or replaced),
        in which case the records are the whole file again.
        """
        fd = open_regular(self.path)  # a FIFO, a loop or a folder in its place: nothing new
        if fd is None:
            return [], False
        with os.fdopen(fd, "rb") as handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            was_reset = False
            if self.identity is not None and (identity != self.identity or stat.st_size < self.offset):
                self.reset()
                was_reset = True
            self.identity = identity
            if stat.st_size == self.offset:
                return [], was_reset
            handle.seek(self.offset)
            return self._consume(handle), was_reset

    def _consume(self, handle: Any) -> list[Record]:
        records: list[Record] = []
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
                    if record is not None:
                        records.append(record)
                self.offset = position + newline + 1
                pending = b""
                pending_start = self.offset
                start = newline + 1
            position += len(chunk)
            if self._skipping:
                # Bytes of an oversized line are consumed as they are seen.
                self.offset = position
        return records

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
        if not line.strip():
            return None
        try:
            data = json.loads(line)
        except ValueError as exc:
            data = exc
        if not isinstance(data, dict):
            self.malformed += 1
            logger.warning(
                "%s:%d: skipped a malformed line (%s)",
                self.path,
                self.line_number,
                data if isinstance(data, ValueError) else "not a JSON object",
            )
            return None
        return Record(offset, data)


def read_range(path: str, start: int, end: int, max_line_bytes: int = MAX_LINE_BYTES) -> list[Record]:
    """Parse the complete lines between two byte offsets (used to page through messages)."""
    records: list[Record] = []
    if end <= start:
        return records
    fd = open_regular(path)
    if fd is None:
        return records
    with os.fdopen(fd, "rb") as handle:
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
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                records.append(Record(line_start, data))
    return records
