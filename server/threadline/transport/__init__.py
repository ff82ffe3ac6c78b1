"""The JSON-RPC transport: framing, envelope checks and TCP, in front of pygls' dispatch.

pygls reads frames and parses JSON itself, and on any failure logs a traceback and shows the
exception text with ``window/showMessage`` without answering. Threadline reads the frames
here instead: every request gets an answer (-32700 for a frame that is not JSON, -32600 for a
bad envelope, -32601 for a method Threadline does not serve), the reader re-synchronises on
the next ``Content-Length`` header after a broken frame, and no traceback reaches a client.
pygls still does what it does well: the LSP lifecycle, typed params, futures and responses.

Over TCP (protocol §1) every connection is its own client, with its own server object and
core; it must authenticate in ``initialize``; its agent settings come only from the server.

One module per step of a message's way in: :mod:`.framing` (frames, re-synchronising),
:mod:`.envelope` (decoding and refusing a message), :mod:`.connection` (one client: routing,
authentication), :mod:`.safe` (pygls without tracebacks on the wire) and :mod:`.tcp` (the
loopback listener, its token, one server object and core per client).
"""

from __future__ import annotations

from threadline.transport.codes import (
    CLIENT_ERRORS,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)
from threadline.transport.connection import (
    AUTH_REQUIRED,
    LIFECYCLE_NOTIFICATIONS,
    LIFECYCLE_REQUESTS,
    MAX_UNAUTHENTICATED_BODY,
    SERVED_REQUESTS,
    TCP_CLIENT_OPTIONS,
    Connection,
    TcpPolicy,
)
from threadline.transport.envelope import MAX_DEPTH, TOO_DEEP, decode
from threadline.transport.framing import MAX_BODY, MAX_HEADER_LINE, READ_CHUNK, FrameReader, FramingError
from threadline.transport.safe import SafeProtocol, SafeServer
from threadline.transport.tcp import AUTH_SECONDS, connection_server, serve_tcp, write_token

__all__ = [
    "AUTH_REQUIRED",
    "AUTH_SECONDS",
    "CLIENT_ERRORS",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "LIFECYCLE_NOTIFICATIONS",
    "LIFECYCLE_REQUESTS",
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_HEADER_LINE",
    "MAX_UNAUTHENTICATED_BODY",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "READ_CHUNK",
    "SERVED_REQUESTS",
    "TCP_CLIENT_OPTIONS",
    "TOO_DEEP",
    "Connection",
    "FrameReader",
    "FramingError",
    "SafeProtocol",
    "SafeServer",
    "TcpPolicy",
    "connection_server",
    "decode",
    "serve_tcp",
    "write_token",
]
