"""One client: its frames, its envelopes checked, its requests routed, its authentication.

Every request gets an answer here (-32700 for a frame that is not JSON, -32600 for a bad
envelope, -32601 for a method Threadline does not serve) before pygls sees the message; over
TCP a client must authenticate in ``initialize`` and may set only its own options.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from threadline import protocol as wire
from threadline.transport.codes import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from threadline.transport.envelope import Refused, decode, method_name, valid_id
from threadline.transport.framing import MAX_BODY, FrameReader, FramingError

if TYPE_CHECKING:
    from threadline.transport.safe import SafeProtocol


logger = logging.getLogger(__package__)  # log lines name the package, as before the split

MAX_UNAUTHENTICATED_BODY = 1024 * 1024
"""Over TCP, the largest frame before ``initialize`` succeeded (an ``initialize`` is a few KB)."""
LIFECYCLE_REQUESTS = frozenset({lsp.INITIALIZE, lsp.SHUTDOWN})
LIFECYCLE_NOTIFICATIONS = frozenset(
    {lsp.INITIALIZED, lsp.EXIT, lsp.CANCEL_REQUEST, lsp.SET_TRACE, lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL}
)
SERVED_REQUESTS = LIFECYCLE_REQUESTS | frozenset(wire.REQUEST_METHODS)
"""Every request Threadline answers with a result; any other method gets -32601."""

TCP_CLIENT_OPTIONS = frozenset({"watch"})
"""The only ``initializationOptions`` a TCP client may set; everything else is the server's."""
AUTH_REQUIRED = "authentication required"


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
        except Refused as refused:
            logger.info("refused a message: %s", refused.message)
            self.protocol.send_error(refused.msg_id, refused.code, refused.message)
            self._close_unless_authenticated()
            return
        if rest:
            logger.info("%d bytes after the message in its frame: reading them as the next frame", len(rest))
            self.frames.unread(rest)
        try:
            self.dispatch(data)
        except Refused as refused:
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
            raise Refused(INVALID_REQUEST, "Batches are not supported; send one message per frame.", None)
        if not isinstance(data, dict):
            raise Refused(INVALID_REQUEST, "A message must be a JSON object.", None)
        has_id = "id" in data
        msg_id = valid_id(data.get("id"))
        if has_id and msg_id is None:
            raise Refused(INVALID_REQUEST, "The message id must be an integer or a string.", None)
        if data.get("jsonrpc") != "2.0":
            raise Refused(INVALID_REQUEST, 'The message must have "jsonrpc": "2.0".', msg_id)
        if "method" not in data:
            if has_id and ("result" in data or "error" in data):
                self._response(data)
                return
            raise Refused(INVALID_REQUEST, "The message has no method.", msg_id)
        method = data["method"]
        if not isinstance(method, str):
            raise Refused(INVALID_REQUEST, "The method must be a string.", msg_id)
        if data.get("params") is not None and not isinstance(data["params"], dict | list):
            raise Refused(INVALID_REQUEST, "The params must be an object or an array.", msg_id, answer=has_id)
        if not self.authenticated and method != lsp.INITIALIZE:
            self._refuse_unauthenticated(msg_id if has_id else None, answer=has_id)
        if has_id:
            self._request(msg_id, method, data)  # type: ignore[arg-type]
        else:
            self._notification(method, data)

    def _request(self, msg_id: int | str, method: str, data: dict[str, Any]) -> None:
        if method not in SERVED_REQUESTS:
            raise Refused(METHOD_NOT_FOUND, f"Threadline does not serve the method {method_name(method)}.", msg_id)
        if self.protocol._shutdown:
            raise Refused(INVALID_REQUEST, "The server is shutting down.", msg_id)
        if method == lsp.INITIALIZE:
            if self.initialize_seen:
                raise Refused(INVALID_REQUEST, "The server is already initialized.", msg_id)
            data = self._initialize(msg_id, data)
        self._hand_over(data, msg_id)
        if method == lsp.INITIALIZE:
            self.initialize_seen = True  # only once pygls took it: ill-typed params may be sent again

    def _notification(self, method: str, data: dict[str, Any]) -> None:
        if method not in LIFECYCLE_NOTIFICATIONS:
            logger.info("ignoring the notification %s", method_name(method))
            return
        if method == lsp.INITIALIZED:
            if not self.initialize_seen or self.initialized_seen:
                logger.info("ignoring an 'initialized' that is not the first after 'initialize'")
                return
            self.initialized_seen = True
        if self.protocol._shutdown and method != lsp.EXIT:
            logger.info("ignoring the notification %s after shutdown", method_name(method))
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
            raise Refused(INVALID_PARAMS, exc.message, msg_id) from None
        try:
            self.protocol.handle_message(message)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception:
            logger.exception("could not handle %s", method_name(data["method"]))
            if msg_id is not None:
                raise Refused(
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
        raise Refused(INVALID_REQUEST, AUTH_REQUIRED, msg_id, answer=False)
