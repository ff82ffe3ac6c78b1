"""The JSON-RPC transport: framing, envelope checks and TCP, in front of pygls' dispatch.

pygls reads frames and parses JSON itself, and on any failure logs a traceback and shows the
exception text with ``window/showMessage`` without answering. Threadline reads the frames
here instead: every request gets an answer (-32700 for a frame that is not JSON, -32600 for a
bad envelope, -32601 for a method Threadline does not serve), the reader re-synchronises on
the next ``Content-Length`` header after a broken frame, and no traceback reaches a client.
pygls still does what it does well: the LSP lifecycle, typed params, futures and responses.

Over TCP (protocol §1) every connection is its own client, with its own server object and
core; it must authenticate in ``initialize``; its agent settings come only from the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any, BinaryIO, cast

from cattrs.errors import ClassValidationError
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, lsp_method
from pygls.protocol.language_server import LanguageServerProtocol

from threadline import protocol as wire

logger = logging.getLogger(__name__)

MAX_HEADER_LINE = 8 * 1024
"""A header line longer than this is junk: it is skipped in pieces while re-synchronising."""
MAX_BODY = 64 * 1024 * 1024
"""The largest frame body accepted (a 1 MB prompt fits many times over)."""
MAX_UNAUTHENTICATED_BODY = 1024 * 1024
"""Over TCP, the largest frame before ``initialize`` succeeded (an ``initialize`` is a few KB)."""
AUTH_SECONDS = float(os.environ.get("THREADLINE_TCP_AUTH_SECONDS", "10"))
"""Over TCP, a connection that has not authenticated by then is closed."""
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects in a message; Threadline's own params need 5."""
READ_CHUNK = 64 * 1024

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CLIENT_ERRORS = frozenset({INVALID_PARAMS, -32001, -32002})
"""Errors that are the client's doing: logged as one line, never with a traceback."""

LIFECYCLE_REQUESTS = frozenset({lsp.INITIALIZE, lsp.SHUTDOWN})
LIFECYCLE_NOTIFICATIONS = frozenset(
    {lsp.INITIALIZED, lsp.EXIT, lsp.CANCEL_REQUEST, lsp.SET_TRACE, lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL}
)
SERVED_REQUESTS = LIFECYCLE_REQUESTS | frozenset(wire.REQUEST_METHODS)
"""Every request Threadline answers with a result; any other method gets -32601."""

TCP_CLIENT_OPTIONS = frozenset({"watch"})
"""The only ``initializationOptions`` a TCP client may set; everything else is the server's."""
AUTH_REQUIRED = "authentication required"

_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,20})", re.IGNORECASE)
_HEADER = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*[ \t]*:")
_HEADER_NAME = b"content-length"


# -- framing ------------------------------------------------------------------------------------


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


# -- message checks -------------------------------------------------------------------------------


class _Refused(Exception):
    """An envelope refused before dispatch: answered with ``code`` (unless a notification)."""

    def __init__(self, code: int, message: str, msg_id: int | str | None, answer: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.msg_id = msg_id
        self.answer = answer


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
TOO_DEEP = f"The message is nested more than {MAX_DEPTH} levels deep."


def decode(body: bytes) -> tuple[Any, bytes]:
    """A frame body's JSON value and any bytes after it (the start of the next frame).

    ValueError when it is not JSON; _Refused when it is nested too deeply.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    start = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    try:
        value, end = _DECODER.raw_decode(text, start)
    except RecursionError:
        raise _Refused(INVALID_REQUEST, TOO_DEEP, _top_level_id(text)) from None
    rest = text[end:]
    if _depth_exceeds(value, MAX_DEPTH):
        raise _Refused(INVALID_REQUEST, TOO_DEEP, _valid_id(value.get("id")) if isinstance(value, dict) else None)
    return value, rest.encode("utf-8") if rest.strip() else b""


def _top_level_id(text: str, limit: int = 1 << 20) -> int | str | None:
    """The ``id`` of a message too deep for the JSON parser, found by a shallow scan."""
    depth, index, end = 0, 0, min(len(text), limit)
    while index < end:
        char = text[index]
        if char == '"':
            try:
                key, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
            except ValueError:
                return None
            if depth == 1 and key == "id":
                after = _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]
                if text.startswith(":", after):
                    try:
                        value, _ = _DECODER.raw_decode(text, _WHITESPACE.match(text, after + 1).end())  # type: ignore[union-attr]
                    except (ValueError, RecursionError):
                        return None
                    return _valid_id(value)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        index += 1
    return None


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _valid_id(value: Any) -> int | str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def _name(method: str) -> str:
    """A method name as it may appear in a one-sentence error (bounded, printable)."""
    shown = method if len(method) <= 80 else method[:77] + "..."
    return json.dumps(shown)


# -- pygls, made quiet and safe -----------------------------------------------------------------


class SafeProtocol(LanguageServerProtocol):
    """pygls' LSP protocol without tracebacks on the wire and with one-line client errors."""

    close_connection: Callable[[], None] | None = None
    """Set for a TCP client: ``exit`` then ends this connection, not the process."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Typed params for pygls, or JsonRpcInvalidParams, without logging a traceback."""
        try:
            if "id" in data:
                if "error" in data:
                    return self._converter.structure(data, lsp.ResponseErrorMessage)
                if "method" in data:
                    return self._converter.structure(
                        data, self.get_message_type(data["method"]) or JsonRPCRequestMessage
                    )
                return self._converter.structure(
                    data, self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                )
            return self._converter.structure(data, self.get_message_type(data["method"]) or JsonRPCNotification)
        except (ClassValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.debug("could not read the params of %r: %r", data.get("method"), exc)
            method = _name(str(data.get("method")))
            raise JsonRpcInvalidParams(message=f"The params of {method} are not valid.") from None

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """An error response, ``id: null`` included (lsprotocol would drop a null id)."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        """Answer a finished request: client errors in one log line, a bug logged but never sent."""
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            self.send_error(msg_id, -32800, "The request was cancelled.")
            return
        exc = future.exception()
        if exc is None:
            self._send_response(msg_id, result=future.result())
        elif isinstance(exc, JsonRpcException) and not _carries_traceback(exc):
            # The handler logged the refusal in one line; a client error needs no second one.
            level = logging.DEBUG if exc.code in CLIENT_ERRORS else logging.WARNING
            logger.log(level, "request %r answered with error %d: %s", msg_id, exc.code, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
        else:
            logger.error("request %r failed", msg_id, exc_info=exc)
            self.send_error(msg_id, INTERNAL_ERROR, "Threadline could not complete the request; see its log.")

    def _check_handler_result(self, future: Future[Any]) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            logger.error("a notification handler failed", exc_info=exc)

    @lsp_method(lsp.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Over TCP, ``exit`` ends this client's connection; over stdio, the process."""
        if self.close_connection is None:
            yield from super().lsp_exit(*args)
            return
        if (user_handler := self.fm.features.get(lsp.EXIT)) is not None:
            yield user_handler, args, None
        self.close_connection()


def _carries_traceback(exc: JsonRpcException) -> bool:
    return isinstance(exc.data, dict) and "traceback" in exc.data


class SafeServer(LanguageServer):
    """A language server whose frames are read by :class:`Connection` and whose errors stay in the log."""

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls would show the exception text to the user: log it instead (one line)."""
        logger.warning("%s: %s", getattr(source, "__name__", source), error)

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve one client over stdio until ``exit`` or the end of stdin."""
        self._stop_event = Event()
        source = stdin or sys.stdin.buffer
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

        read_some = getattr(source, "read1", source.read)

        async def read(size: int) -> bytes:
            return await asyncio.get_running_loop().run_in_executor(self.thread_pool, read_some, size)

        try:
            asyncio.run(Connection(self, read).run())
        except BrokenPipeError:
            logger.error("the client closed the connection; stopping")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()


# -- one client ---------------------------------------------------------------------------------


@dataclass(slots=True)
class TcpPolicy:
    """What a TCP client must send and may not set."""

    token: str
    server_options: dict[str, Any] = field(default_factory=dict)


class Connection:
    """One client: reads its frames, checks every envelope, answers what pygls would not."""

    def __init__(
        self, server: LanguageServer, read: Callable[[int], Awaitable[bytes]], tcp: TcpPolicy | None = None
    ) -> None:
        self.server = server
        self.protocol: SafeProtocol = server.protocol  # type: ignore[assignment]
        self.frames = FrameReader(read, MAX_BODY if tcp is None else MAX_UNAUTHENTICATED_BODY)
        self.tcp = tcp
        self.authenticated = tcp is None
        self.initialize_seen = False
        self.initialized_seen = False
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def run(self) -> None:
        while not self.closed:
            frame = await self.frames.next()
            if frame is None:
                return
            if isinstance(frame, FramingError):
                logger.info("framing error: %s", frame.message)
                self.protocol.send_error(None, frame.code, frame.message)
                self._close_unless_authenticated()
                continue
            self.receive(frame)
            await asyncio.sleep(0)  # let the handlers of earlier requests run

    def receive(self, body: bytes) -> None:
        try:
            data, rest = decode(body)
        except ValueError as exc:
            logger.info("a frame that is not JSON (%s)", exc)
            self.protocol.send_error(None, PARSE_ERROR, "The message is not valid JSON.")
            self.frames.resync_after(body)
            self._close_unless_authenticated()
            return
        except _Refused as refused:
            logger.info("refused a message: %s", refused.message)
            self.protocol.send_error(refused.msg_id, refused.code, refused.message)
            self._close_unless_authenticated()
            return
        if rest:
            logger.info("%d bytes after the message in its frame: reading them as the next frame", len(rest))
            self.frames.unread(rest)
        try:
            self.dispatch(data)
        except _Refused as refused:
            logger.info("refused a message: %s", refused.message)
            if refused.answer:
                self.protocol.send_error(refused.msg_id, refused.code, refused.message)
            self._close_unless_authenticated()

    def _close_unless_authenticated(self) -> None:
        """Over TCP, a client that has not authenticated gets no second chance after an error."""
        if not self.authenticated and not self.closed:
            logger.warning("closing a TCP connection that sent a bad message before authenticating")
            self.close()
            if self.protocol.close_connection is not None:
                self.protocol.close_connection()

    def dispatch(self, data: Any) -> None:
        """Check the envelope, route by method, then hand the message to pygls."""
        if isinstance(data, list):
            raise _Refused(INVALID_REQUEST, "Batches are not supported; send one message per frame.", None)
        if not isinstance(data, dict):
            raise _Refused(INVALID_REQUEST, "A message must be a JSON object.", None)
        has_id = "id" in data
        msg_id = _valid_id(data.get("id"))
        if has_id and msg_id is None:
            raise _Refused(INVALID_REQUEST, "The message id must be an integer or a string.", None)
        if data.get("jsonrpc") != "2.0":
            raise _Refused(INVALID_REQUEST, 'The message must have "jsonrpc": "2.0".', msg_id)
        if "method" not in data:
            if has_id and ("result" in data or "error" in data):
                self._response(data)
                return
            raise _Refused(INVALID_REQUEST, "The message has no method.", msg_id)
        method = data["method"]
        if not isinstance(method, str):
            raise _Refused(INVALID_REQUEST, "The method must be a string.", msg_id)
        if data.get("params") is not None and not isinstance(data["params"], dict | list):
            raise _Refused(INVALID_REQUEST, "The params must be an object or an array.", msg_id, answer=has_id)
        if not self.authenticated and method != lsp.INITIALIZE:
            self._refuse_unauthenticated(msg_id if has_id else None, answer=has_id)
        if has_id:
            self._request(msg_id, method, data)  # type: ignore[arg-type]
        else:
            self._notification(method, data)

    def _request(self, msg_id: int | str, method: str, data: dict[str, Any]) -> None:
        if method not in SERVED_REQUESTS:
            raise _Refused(METHOD_NOT_FOUND, f"Threadline does not serve the method {_name(method)}.", msg_id)
        if self.protocol._shutdown:
            raise _Refused(INVALID_REQUEST, "The server is shutting down.", msg_id)
        if method == lsp.INITIALIZE:
            if self.initialize_seen:
                raise _Refused(INVALID_REQUEST, "The server is already initialized.", msg_id)
            data = self._initialize(msg_id, data)
        self._hand_over(data, msg_id)
        if method == lsp.INITIALIZE:
            self.initialize_seen = True  # only once pygls took it: ill-typed params may be sent again

    def _notification(self, method: str, data: dict[str, Any]) -> None:
        if method not in LIFECYCLE_NOTIFICATIONS:
            logger.info("ignoring the notification %s", _name(method))
            return
        if method == lsp.INITIALIZED:
            if not self.initialize_seen or self.initialized_seen:
                logger.info("ignoring an 'initialized' that is not the first after 'initialize'")
                return
            self.initialized_seen = True
        if self.protocol._shutdown and method != lsp.EXIT:
            logger.info("ignoring the notification %s after shutdown", _name(method))
            return
        self._hand_over(data, None)

    def _response(self, data: dict[str, Any]) -> None:
        """A client's answer to one of our requests (``window/workDoneProgress/create``)."""
        try:
            message = self.protocol.structure_message(data)
            self.protocol.handle_message(message)
        except Exception as exc:
            logger.info("ignoring a response that could not be read: %s", exc)

    def _hand_over(self, data: dict[str, Any], msg_id: int | str | None) -> None:
        try:
            message = self.protocol.structure_message(data)
        except JsonRpcException as exc:
            if msg_id is None:
                logger.info("ignoring a notification: %s", exc.message)
                return
            raise _Refused(INVALID_PARAMS, exc.message, msg_id) from None
        try:
            self.protocol.handle_message(message)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception:
            logger.exception("could not handle %s", _name(data["method"]))
            if msg_id is not None:
                raise _Refused(
                    INTERNAL_ERROR, "Threadline could not complete the request; see its log.", msg_id
                ) from None

    def _initialize(self, msg_id: int | str, data: dict[str, Any]) -> dict[str, Any]:
        """Check a TCP client's token; keep only the options a client may set (protocol §1)."""
        params = data.get("params")
        options = params.get("initializationOptions") if isinstance(params, dict) else None
        token = options.get("authToken") if isinstance(options, dict) else None
        if self.tcp is not None:
            if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.tcp.token.encode()):
                self._refuse_unauthenticated(msg_id, answer=True)
            self.authenticated = True
            self.frames.max_body = MAX_BODY
        if not isinstance(options, dict):
            return data
        kept = {key: value for key, value in options.items() if key != "authToken"}
        if self.tcp is not None:
            dropped = sorted(key for key in kept if key not in TCP_CLIENT_OPTIONS)
            if dropped:
                logger.warning("a TCP client may not set %s: using the server's own settings", ", ".join(dropped))
                self.protocol.notify(
                    lsp.WINDOW_SHOW_MESSAGE,
                    lsp.ShowMessageParams(
                        type=lsp.MessageType.Warning,
                        message="Threadline: over TCP the agents' settings come from the server; ignoring "
                        + ", ".join(f"'{key}'" for key in dropped)
                        + ".",
                    ),
                )
            kept = {key: value for key, value in kept.items() if key in TCP_CLIENT_OPTIONS}
            kept.update(self.tcp.server_options)
        return {**data, "params": {**params, "initializationOptions": kept}}  # type: ignore[dict-item]

    def _refuse_unauthenticated(self, msg_id: int | str | None, answer: bool) -> None:
        if answer:
            self.protocol.send_error(msg_id, INVALID_REQUEST, AUTH_REQUIRED)
        logger.warning("closing a TCP connection that did not authenticate")
        self.close()
        if self.protocol.close_connection is not None:
            self.protocol.close_connection()
        raise _Refused(INVALID_REQUEST, AUTH_REQUIRED, msg_id, answer=False)


# -- TCP ----------------------------------------------------------------------------------------


class _NullWriter:
    """Where a disconnected client's late notifications go."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def connection_server(template: LanguageServer) -> LanguageServer:
    """A fresh server of ``template``'s class with the same handlers, for one TCP client."""
    make = cast(Callable[[], LanguageServer], type(template))  # ThreadlineServer() takes no arguments
    fresh = make()
    features = template.protocol.fm.features
    options = template.protocol.fm.feature_options
    for name, wrapped in features.items():
        fresh.feature(name, options.get(name))(wrapped.func)  # the handler pygls bound to the template
    return fresh


async def _end_client(ls: LanguageServer) -> None:
    """What a disconnect ends: this client's watcher, tasks and follows; never running turns."""
    ls.protocol.set_writer(_NullWriter())
    for name in ("stop_watching",):
        stop = getattr(ls, name, None)
        if stop is not None:
            with contextlib.suppress(Exception):
                await stop()
    core = getattr(ls, "core", None)
    if core is not None:
        try:
            await core.shutdown()
        except Exception:
            logger.exception("could not end a client's core")


def write_token(cache_dir: Path, port: int) -> Path:
    """A random token, written atomically with mode 0600 where only this user can read it."""
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = cache_dir / f"serve-{port}.token"
    fd, temp = tempfile.mkstemp(dir=cache_dir, prefix=f".serve-{port}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path


def serve_tcp(
    template: LanguageServer, port: int, cache_dir: Path, server_options: dict[str, Any] | None = None
) -> int:
    """Listen on 127.0.0.1:``port`` until SIGINT or SIGTERM; 1 with one sentence if it cannot."""
    return asyncio.run(_serve_tcp(template, port, cache_dir, server_options or {}))


async def _serve_tcp(template: LanguageServer, port: int, cache_dir: Path, server_options: dict[str, Any]) -> int:
    clients: set[asyncio.Task[None]] = set()
    policy_box: list[TcpPolicy] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            clients.add(task)
        ls = connection_server(template)
        protocol: SafeProtocol = ls.protocol  # type: ignore[assignment]
        protocol.set_writer(writer)
        connection = Connection(ls, reader.read, policy_box[0])

        def close() -> None:
            connection.close()
            writer.close()

        protocol.close_connection = close

        def unless_authenticated() -> None:
            if not connection.authenticated:
                logger.warning("closing a TCP connection that did not authenticate within %g s", AUTH_SECONDS)
                close()

        deadline = asyncio.get_running_loop().call_later(AUTH_SECONDS, unless_authenticated)
        logger.info("a TCP client connected")
        try:
            await connection.run()
        except (ConnectionError, OSError) as exc:
            logger.info("a TCP client's connection failed: %s", exc)
        except asyncio.CancelledError:
            logger.info("the server is stopping: ending a TCP client")
        finally:
            deadline.cancel()
            await _end_client(ls)
            writer.close()
            logger.info("a TCP client disconnected")
            if task is not None:
                clients.discard(task)

    try:
        listener = await asyncio.start_server(on_connect, "127.0.0.1", port)
    except OSError as exc:
        import errno

        if exc.errno == errno.EADDRINUSE:
            sys.stderr.write(f"threadline: port {port} on 127.0.0.1 is already in use; choose another with --port.\n")
        else:
            sys.stderr.write(f"threadline: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}.\n")
        return 1
    bound = listener.sockets[0].getsockname()[1]
    env_token = os.environ.get("THREADLINE_TOKEN")
    token_path: Path | None = None
    if env_token:
        token = env_token
        where = "token from THREADLINE_TOKEN"
    else:
        try:
            token_path = write_token(cache_dir, bound)
        except OSError as exc:
            sys.stderr.write(f"threadline: cannot write the token to {cache_dir}: {exc.strerror or exc}.\n")
            listener.close()
            return 1
        token = token_path.read_text(encoding="utf-8").strip()
        where = f"token in {token_path}"
    policy_box.append(TcpPolicy(token=token, server_options=server_options))
    sys.stderr.write(f"threadline: listening on 127.0.0.1:{bound} ({where})\n")
    sys.stderr.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        listener.close()
        for task in list(clients):
            task.cancel()
        if clients:
            await asyncio.gather(*clients, return_exceptions=True)
        await listener.wait_closed()
        if token_path is not None:
            with contextlib.suppress(OSError):
                token_path.unlink()
    return 0
