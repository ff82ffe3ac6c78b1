"""Every request gets a JSON-RPC answer over stdio, and no traceback reaches the client (issue 9 §5).

Each test reproduces one way the landed server stayed silent or leaked a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.transport.rawclient import StdioServer, frame, initialize_params

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[StdioServer]:
    """A server that has not been initialized yet."""
    server = StdioServer(tmp_path / "server.log")
    yield server
    server.stop()
    assert "Traceback" not in server.stderr()


@pytest.fixture
def served(started: StdioServer, project: Path, claude_home: Path, fake_claude: list[str]) -> StdioServer:
    """A server after ``initialize`` and ``initialized``."""
    answer = started.client.request("initialize", initialize_params(project, claude_home, fake_claude))
    assert "result" in answer, answer
    started.client.notify("initialized", {})
    return started


def listing_works(server: StdioServer, project: Path) -> bool:
    answer = server.client.request("session/list", {"cwd": str(project)})
    return "result" in answer and answer["result"]["sessions"] == []


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" in answer, answer
    error: dict[str, Any] = answer["error"]
    assert "traceback" not in json.dumps(error).lower()
    return error


def test_invalid_json_is_answered_with_a_parse_error(served: StdioServer, project: Path) -> None:
    served.client.send_raw(b"Content-Length: 9\r\n\r\n{not json")
    answer = served.client.wait(lambda m: m.get("id", 0) is None)
    assert error_of(answer)["code"] == -32700
    assert served.client.count(lambda m: m.get("method") == "window/showMessage") == 0
    assert listing_works(served, project)


def test_a_frame_five_bytes_short_is_answered_and_the_next_20_requests_too(served: StdioServer, project: Path) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": "short", "method": "session/list", "params": {}}).encode()
    served.client.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) - 5) + body)
    for _ in range(20):
        assert listing_works(served, project)
    assert error_of(served.client.wait(lambda m: m.get("id", 0) is None))["code"] == -32700


def test_a_frame_five_bytes_long_swallows_nothing(served: StdioServer, project: Path) -> None:
    """The body's JSON ends early: the message is answered, the 5 bytes start the next frame."""
    body = json.dumps({"jsonrpc": "2.0", "id": "long", "method": "session/list", "params": {}}).encode()
    following = frame({"jsonrpc": "2.0", "id": "next", "method": "session/list", "params": {}})
    served.client.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) + 5) + body + following)
    assert "result" in served.client.response("long")
    assert "result" in served.client.response("next")


def test_junk_and_frames_without_a_length_are_skipped(served: StdioServer, project: Path) -> None:
    served.client.send_raw(b"garbage that is no header\r\nmore\r\n\r\n")
    served.client.send_raw(b"Content-Type: application/json\r\n\r\n")
    assert listing_works(served, project)
    assert error_of(served.client.wait(lambda m: m.get("id", 0) is None))["code"] == -32700


def test_a_frame_too_large_is_refused_and_reading_goes_on(served: StdioServer, project: Path) -> None:
    served.client.send_raw(b"Content-Length: 99999999999\r\n\r\n")
    assert error_of(served.client.wait(lambda m: m.get("id", 0) is None))["code"] == -32600
    assert listing_works(served, project)


def test_long_junk_without_newlines_never_hides_the_next_header(served: StdioServer, project: Path) -> None:
    """Junk is skipped in 8 KiB pieces; whatever its length, the header after it is found."""
    for size in [*range(8160, 8200), 100_000]:
        following = frame({"jsonrpc": "2.0", "id": f"after-{size}", "method": "session/list", "params": {}})
        served.client.send_raw(b"Content-Length: 99999999999\r\n\r\n" + b"x" * size + following)
    for size in [*range(8160, 8200), 100_000]:
        assert "result" in served.client.response(f"after-{size}")
    assert listing_works(served, project)


@pytest.mark.parametrize(
    "method", ["textDocument/hover", "workspace/executeCommand", "textDocument/didOpen", "no/such"]
)
def test_methods_threadline_does_not_serve_get_method_not_found(served: StdioServer, method: str) -> None:
    answer = served.client.request(method, {"textDocument": {"uri": "file:///x"}, "command": "x"})
    error = error_of(answer)
    assert error["code"] == -32601
    assert method in error["message"]


def test_deep_nesting_is_refused_with_the_request_id(served: StdioServer, project: Path) -> None:
    for depth in (100, 2_000, 100_000):
        params = "[" * depth + "]" * depth
        body = f'{{"jsonrpc": "2.0", "id": "deep{depth}", "method": "session/list", "params": {{"x": {params}}}}}'
        served.client.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body.encode())
        assert error_of(served.client.response(f"deep{depth}"))["code"] == -32600
    assert listing_works(served, project)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"jsonrpc": "2.0", "id": 7, "method": 42}, -32600),
        ({"jsonrpc": "1.0", "id": 7, "method": "session/list"}, -32600),
        ({"jsonrpc": "2.0", "id": 7}, -32600),
        ({"jsonrpc": "2.0", "id": 7, "method": "session/list", "params": "text"}, -32600),
        ({"jsonrpc": "2.0", "id": 7, "method": "session/get", "params": {"sessionId": 5}}, -32602),
        ({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}}, -32600),
        ({"jsonrpc": "2.0", "id": 7, "method": "exit"}, -32601),
    ],
)
def test_bad_envelopes_are_answered_with_their_id(served: StdioServer, message: dict[str, Any], code: int) -> None:
    served.client.send(message)
    assert error_of(served.client.response(7))["code"] == code


@pytest.mark.parametrize(
    "message",
    [[{"jsonrpc": "2.0", "id": 1, "method": "session/list"}], "text", {"jsonrpc": "2.0", "id": 1.5, "method": "x"}],
)
def test_messages_without_a_usable_id_get_a_null_id_error(served: StdioServer, message: Any) -> None:
    served.client.send(message)
    assert error_of(served.client.wait(lambda m: m.get("id", 0) is None))["code"] == -32600


def test_a_failed_initialize_is_answered_without_a_traceback(started: StdioServer) -> None:
    answer = started.client.request("initialize", {"capabilities": "none", "processId": "x"})
    assert error_of(answer)["code"] == -32602
    assert started.client.count(lambda m: m.get("method") == "window/showMessage") == 0


def test_client_errors_are_one_log_line(served: StdioServer) -> None:
    answer = served.client.request("session/get", {"sessionId": "../../etc"})
    assert error_of(answer)["code"] == -32602
    missing = served.client.request("session/get", {"sessionId": "00000000-0000-4000-8000-000000000000"})
    assert error_of(missing)["code"] == -32001
    log = served.stderr()
    assert "Traceback" not in log
    assert " ERROR " not in log
    for error in (answer["error"], missing["error"]):
        lines = [line for line in log.splitlines() if error["message"] in line]
        assert len(lines) == 1, lines
        assert " INFO " in lines[0]


def test_requests_after_shutdown_are_refused_and_exit_ends_the_server(served: StdioServer) -> None:
    assert "result" in served.client.request("shutdown")
    assert error_of(served.client.request("session/list", {}))["code"] == -32600
    served.client.notify("exit")
    assert served.process.wait(10) == 0
