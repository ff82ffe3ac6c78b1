"""Serving over loopback TCP: the listener, its token, one server object and core per client.

A connection that has not authenticated within ``AUTH_SECONDS`` is closed; a disconnect ends
that client's watcher and core, never a running turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from pygls.lsp.server import LanguageServer

from threadline.transport.connection import Connection, TcpPolicy
from threadline.transport.safe import SafeProtocol

logger = logging.getLogger(__package__)  # log lines name the package, as before the split

AUTH_SECONDS = float(os.environ.get("THREADLINE_TCP_AUTH_SECONDS", "10"))
"""Over TCP, a connection that has not authenticated by then is closed."""


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
