"""LSP base-protocol frames read from a byte stream, re-synchronising after a broken one.

pygls would stop at a bad header; Threadline skips junk up to the next ``Content-Length``,
answers a frame that is too large, and gives back the head of a frame swallowed by a
``Content-Length`` that was too long, so one bad frame never costs the next.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from threadline.transport.codes import INVALID_REQUEST, PARSE_ERROR

logger = logging.getLogger(__package__)  # log lines name the package, as before the split

MAX_HEADER_LINE = 8 * 1024
"""A header line longer than this is junk: it is skipped in pieces while re-synchronising."""
MAX_BODY = 64 * 1024 * 1024
"""The largest frame body accepted (a 1 MB prompt fits many times over)."""
READ_CHUNK = 64 * 1024

_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,20})", re.IGNORECASE)
_HEADER = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*[ \t]*:")
_HEADER_NAME = b"content-length"


@dataclass(slots=True)
class FramingError:
    """A frame that could not be read; answered with ``id: null``, then reading goes on."""

    code: int
    message: str


class FrameReader:
    """LSP base-protocol frames from a byte source, re-synchronising after broken ones.

    Junk before a header (the tail of a frame whose ``Content-Length`` was too short) is
    skipped up to the next ``Content-Length``; a body that is not JSON is searched for the
    next header (the head of a frame swallowed by a ``Content-Length`` that was too long).
    """

    def __init__(self, read: Callable[[int], Awaitable[bytes]], max_body: int = MAX_BODY) -> None:
        self._read = read
        self.max_body = max_body
        self._buffer = bytearray()
        self._eof = False

    def unread(self, data: bytes) -> None:
        self._buffer[:0] = data

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read(READ_CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    async def _line(self) -> bytes | None:
        """The next line (with its newline), a piece of an over-long line, or None at the end."""
        while True:
            end = self._buffer.find(b"\n", 0, MAX_HEADER_LINE)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) >= MAX_HEADER_LINE:
                # Junk without a newline: cut it before a header, never through one.
                at = bytes(self._buffer[:MAX_HEADER_LINE]).lower().find(_HEADER_NAME, 1)
                cut = at if at > 0 else MAX_HEADER_LINE - len(_HEADER_NAME)
                piece = bytes(self._buffer[:cut])
                del self._buffer[:cut]
                return piece
            if not await self._fill():
                if self._buffer:
                    rest = bytes(self._buffer)
                    self._buffer.clear()
                    return rest
                return None

    async def _exactly(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            if not await self._fill():
                return None
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        return body

    async def next(self) -> bytes | FramingError | None:
        """The next frame's body, a framing error to answer, or None when the stream ended."""
        length: int | None = None
        seen_header = skipped = False
        while True:
            line = await self._line()
            if line is None:
                return None
            if not line.strip():
                if length is not None:
                    break
                if seen_header:
                    return FramingError(PARSE_ERROR, "The frame has no valid Content-Length header.")
                continue  # blank lines between frames are harmless
            match = _CONTENT_LENGTH.search(line)
            if match:
                if match.start() > 0:
                    logger.info("skipped %d bytes before a Content-Length header", match.start())
                length = int(match.group(1))
                seen_header = True
            elif _HEADER.match(line):
                seen_header = True  # another header, such as Content-Type
            else:
                if not skipped:
                    logger.info("skipping bytes that are not a frame header until the next Content-Length")
                skipped = True
                length, seen_header = None, False
        assert length is not None
        if length > self.max_body:
            return FramingError(INVALID_REQUEST, f"The frame is larger than {self.max_body // 1024} KiB.")
        body = await self._exactly(length)
        if body is None:
            return None
        return body

    def resync_after(self, body: bytes) -> None:
        """Give back what follows a ``Content-Length`` header found inside a broken body."""
        match = _CONTENT_LENGTH.search(body, 1)
        if match is not None:
            logger.info("re-reading %d bytes of a broken frame from a Content-Length header", len(body) - match.start())
            self.unread(body[match.start() :])
