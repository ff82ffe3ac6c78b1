"""pygls, made quiet and safe: no traceback on the wire, one log line per client error.

:class:`SafeServer` serves stdio through a :class:`~threadline.transport.connection.Connection`
instead of pygls' own reader, so every request is answered.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Generator
from concurrent.futures import Future
from threading import Event
from typing import Any, BinaryIO

from cattrs.errors import ClassValidationError
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, lsp_method
from pygls.protocol.language_server import LanguageServerProtocol

from threadline.transport.codes import CLIENT_ERRORS, INTERNAL_ERROR
from threadline.transport.connection import Connection
from threadline.transport.envelope import method_name

logger = logging.getLogger(__package__)  # log lines name the package, as before the split


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
            method = method_name(str(data.get("method")))
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
