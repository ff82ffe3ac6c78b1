"""A byte-level JSON-RPC client for the transport tests: it sends anything, frames or junk.

pytest-lsp only sends well-formed messages; these tests must send broken ones and see every
byte the server writes back. A reader thread parses the server's frames strictly (a broken
frame from the server fails the test) and keeps every message in order.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

TESTS = Path(__file__).resolve().parent.parent

ANSWER_SECONDS = 5.0
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "', "traceback")


def frame(message: Any) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawClient:
    """Writes bytes to a server and collects what it answers."""

    def __init__(self, write: Callable[[bytes], None], stream: BinaryIO) -> None:
        self._write = write
        self._stream = stream
        self.messages: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self.closed = False
        self._cond = threading.Condition()
        self._next_id = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                length = None
                while True:
                    line = self._stream.readline()
                    if not line:
                        return
                    if line == b"\r\n":
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if length is None:
                    self.protocol_errors.append("a frame without Content-Length")
                    return
                body = self._stream.read(length)
                try:
                    message = json.loads(body)
                except ValueError:
                    self.protocol_errors.append(f"a body that is not JSON: {body[:200]!r}")
                    return
                with self._cond:
                    self.messages.append(message)
                    self._cond.notify_all()
        except (OSError, ValueError) as exc:
            self.protocol_errors.append(f"reading failed: {exc!r}")
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    # -- sending ----------------------------------------------------------------------------
    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    def send(self, message: Any) -> None:
        self._write(frame(message))

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def request(self, method: str, params: Any = None, timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
        msg_id = self.new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.response(msg_id, timeout)

    # -- receiving --------------------------------------------------------------------------
    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        index = 0
        with self._cond:
            while True:
                while index < len(self.messages):
                    message = self.messages[index]
                    index += 1
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"no matching message within {timeout} s (closed={self.closed})")
                self._cond.wait(left)

    def response(self, msg_id: Any, timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
        return self.wait(lambda m: "method" not in m and m.get("id") == msg_id and msg_id is not None, timeout)

    def responses_to(self, msg_id: Any) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if "method" not in m and "id" in m and m["id"] == msg_id]

    def count(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        with self._cond:
            return sum(1 for m in self.messages if predicate(m))

    def wait_count(
        self, predicate: Callable[[dict[str, Any]], bool], count: int, timeout: float = ANSWER_SECONDS
    ) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for m in self.messages if predicate(m)) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"fewer than {count} matching messages within {timeout} s")
                self._cond.wait(left)

    def wait_closed(self, timeout: float = ANSWER_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def tracebacks(self) -> list[dict[str, Any]]:
        """Every message the server sent that carries traceback text."""
        with self._cond:
            return [m for m in self.messages if any(mark in json.dumps(m) for mark in TRACEBACK_MARKERS)]


def initialize_params(project: Path, claude_home: Path, command: list[str], **extra: Any) -> dict[str, Any]:
    options = {"claudeConfigDir": str(claude_home), "agents": {"claude": {"command": command}}, **extra}
    return {
        "processId": None,
        "capabilities": {},
        "workspaceFolders": [{"uri": project.as_uri(), "name": project.name}],
        "initializationOptions": options,
    }


class StdioServer:
    """``threadline -v serve`` over pipes, its stderr kept in a file to read afterwards."""

    def __init__(self, log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_handle = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threadline", "-v", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_handle,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        stdin = self.process.stdin

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        self.client = RawClient(write, self.process.stdout)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int | None:
        if self.process.poll() is None:
            try:
                self.client.request("shutdown", timeout=5)
                self.client.notify("exit")
                self.process.stdin.close()  # type: ignore[union-attr]
                self.process.wait(10)
            except (OSError, TimeoutError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)
        self._log_handle.close()
        return self.process.returncode


def connect(port: int) -> tuple[RawClient, socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(None)
    stream = sock.makefile("rb")
    return RawClient(sock.sendall, stream), sock


FAKE_ON_PATH = TESTS / "agents" / "bin" / "claude"
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+) \((.*)\)")


class TcpServer:
    """``threadline serve --tcp --port 0`` with the fake claude as the server's own agent."""

    def __init__(self, tmp: Path, claude_home: Path, env: dict[str, str] | None = None) -> None:
        self.claude_home = claude_home
        self.cache_dir = tmp / "cache"
        self.log = tmp / "tcp-server.log"
        self._log = open(self.log, "w+b")  # noqa: SIM115 - closed in stop()
        base = {k: v for k, v in os.environ.items() if k != "THREADLINE_TOKEN"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threadline",
                "-v",
                "--claude-config-dir",
                str(claude_home),
                "--claude-command",
                str(FAKE_ON_PATH),
                "serve",
                "--tcp",
                "--port",
                "0",
                "--cache-dir",
                str(self.cache_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**base, "FAKE_CLAUDE_PYTHON": sys.executable, **(env or {})},
        )
        self.port, self.where = self._wait_listening()

    def _wait_listening(self) -> tuple[int, str]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = LISTENING.search(self.stderr())
            if match:
                return int(match.group(1)), match.group(2)
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.stderr()}")
            time.sleep(0.05)  # polling a log file: there is no event to await across processes
        raise AssertionError(f"the server never listened: {self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def token_file(self) -> Path:
        return self.cache_dir / f"serve-{self.port}.token"

    def token(self) -> str:
        return self.token_file.read_text(encoding="utf-8").strip()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self._log.close()
        return self.process.returncode
