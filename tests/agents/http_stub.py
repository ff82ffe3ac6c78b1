"""What the loopback model-API stubs share: serving on 127.0.0.1, the request log, SSE, shutdown.

Each stub (:mod:`messages_stub`, :mod:`responses_stub`, :mod:`gemini_stub`) only decides its
API's replies; the HTTP plumbing around them is the same and lives here, so a fix to how a
body is read or a stream is ended reaches all three. Stdlib only, like the stubs: each is
also run as a script.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class Stopping(Exception):
    """The stub is shutting down: a slow stream ends at once instead of running on."""


class StubHandler(BaseHTTPRequestHandler):
    """One request of a stub: body reading, JSON answers, chunked SSE, logging to the owner."""

    owner: StubServer
    protocol_version = "HTTP/1.1"
    gunzip_bodies: ClassVar[bool] = False
    """Whether a ``Content-Encoding: gzip`` body is decompressed (Codex may send one)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            raw = bytes(data)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        if self.gunzip_bodies and self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return raw

    def _record(self, body: Any, status: int, **fields: Any) -> None:
        """Log this request to the owner; ``fields`` are a stub's own keys (model, raw length…)."""
        self.owner._record(
            {
                "method": self.command,
                "path": self.path,
                **fields,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "status": status,
                "time": time.time(),
            }
        )

    def _log_raw(self, raw: bytes, status: int) -> None:
        """Log a request by its raw body (parsed when it is JSON) and its length."""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        self._record(body, status, raw_length=len(raw))

    def _send_json(
        self, status: int, obj: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    @contextlib.contextmanager
    def _sse(self, content_type: str, headers: dict[str, str] | None = None) -> Iterator[None]:
        """Answer 200 with a chunked event stream; the body ends with the last chunk when the
        block ends, or the connection is closed when the client went away or the stub stops."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            yield
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, Stopping):
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _pause(self, seconds: float) -> None:
        """Wait between slow words; raise :class:`Stopping` as soon as the stub stops."""
        if self.owner._stopping.wait(seconds):
            raise Stopping


class StubServer:
    """A stub server. ``start()`` binds 127.0.0.1 and serves from a thread.

    ``requests`` is the log, one dict per request (see each stub for its keys); with
    ``log_path`` each is also appended to that file as a JSON line.
    """

    handler: ClassVar[type[StubHandler]]
    thread_name: ClassVar[str] = "stub"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", log_path: str | None = None) -> None:
        self.host = host
        self._want_port = port
        self.log_path = log_path
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"owner": self})
        server = ThreadingHTTPServer((self.host, self._want_port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "stub not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")

    def not_found(self) -> list[dict[str, Any]]:
        """Logged requests answered with 404."""
        with self._lock:
            return [e for e in self.requests if e["status"] == 404]


def stub_id(prefix: str) -> str:
    """A random id in the API's own style (``msg_stub_…``, ``req_stub_…``)."""
    return prefix + uuid.uuid4().hex[:20]


def split3(text: str) -> list[str]:
    """A reply in up to three pieces, as a real stream sends it (none for an empty one)."""
    if len(text) < 3:
        return [text] if text else []
    a, b = len(text) // 3, 2 * len(text) // 3
    return [text[:a], text[a:b], text[b:]]


def serve_main(stub_class: type[StubServer], description: str, argv: list[str] | None, log_option: bool = True) -> int:
    """Run a stub as a program: print ``LISTENING <port>``, serve until interrupted."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    if log_option:
        parser.add_argument("--log", help="append one JSON line per request to this file")
    args = parser.parse_args(argv)
    stub = stub_class(port=args.port, log_path=getattr(args, "log", None)).start()
    sys.stdout.write(f"LISTENING {stub.port}\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()
    return 0
