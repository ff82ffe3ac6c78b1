"""Property-based fuzzing of the transport (issue 9 §5): every request is answered within 5 s.

Hypothesis sends batches of messages over every method (Threadline's, the LSP lifecycle,
every LSP method pygls knows, and made-up names) with mutated envelopes and params, and
batches of raw frames (wrong lengths, junk, missing headers, bodies that are not JSON).
After each batch: every request that had a usable id got exactly one answer, every message
without one got a ``null``-id error, no message carries traceback text, and ``session/list``
still works. The server's log must not hold a traceback either. ``shutdown`` and ``exit``
end the session, so they are checked once at the end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from tests.transport.rawclient import ANSWER_SECONDS, StdioServer, initialize_params
from tests.transport.strategies import json_values
from threadline import protocol as wire

pytestmark = pytest.mark.timeout(300)

MESSAGE_BATCHES = int(os.environ.get("THREADLINE_FUZZ_MESSAGES", "700"))
FRAME_BATCHES = int(os.environ.get("THREADLINE_FUZZ_FRAMES", "300"))
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

LIFECYCLE = ["initialize", "initialized", "$/cancelRequest", "$/setTrace", "window/workDoneProgress/cancel"]
METHODS = sorted(set(wire.REQUEST_METHODS) | set(LIFECYCLE) | set(lsp.METHOD_TO_TYPES) - {"shutdown", "exit"})

Stats = dict[str, int]


@pytest.fixture(scope="module")
def stats() -> Iterator[Stats]:
    figures: Stats = {"cases": 0, "requests": 0, "unanswered": 0, "tracebacks": 0, "batches": 0}
    yield figures
    print(
        f"\ntransport fuzz: {figures['cases']} cases in {figures['batches']} batches, "
        f"{figures['requests']} requests, {figures['unanswered']} unanswered, {figures['tracebacks']} tracebacks"
    )


@pytest.fixture
def server(tmp_path: Path, project: Path, claude_home: Path, fake_claude: list[str]) -> Iterator[StdioServer]:
    running = StdioServer(tmp_path / "server.log")
    answer = running.client.request("initialize", initialize_params(project, claude_home, fake_claude))
    assert "result" in answer
    running.client.notify("initialized", {})
    yield running
    assert "result" in running.client.request("shutdown")
    refused = running.client.request("session/list", {})
    assert refused["error"]["code"] == -32600
    running.client.notify("exit")
    assert running.process.wait(10) == 0
    running.stop()
    log = running.stderr()
    assert "Traceback" not in log, log[-3000:]


# -- strategies ---------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def params_for(project: Path) -> st.SearchStrategy[Any]:
    """Params that look like Threadline's, with every field sometimes wrong."""
    known = ["00000000-0000-4000-8000-000000000000", "../../etc", "", "x" * 300]
    session_ids = st.sampled_from(known) | st.uuids().map(str)
    cwds = st.sampled_from([str(project), "relative/path", "/does/not/exist", "", "\x00"]) | st.text(max_size=20)
    fields = {
        "sessionId": session_ids | json_values,
        "cwd": cwds | json_values,
        "prompt": st.text(max_size=50) | json_values,
        "agent": st.sampled_from(["claude", "codex", "gemini", "nobody"]) | json_values,
        "limit": st.integers(-5, 5000) | json_values,
        "offset": st.integers(-5, 5000) | json_values,
        "cursor": st.text(max_size=20) | json_values,
        "query": st.text(max_size=20) | json_values,
        "status": st.lists(st.sampled_from(["running", "completed", "bogus"]), max_size=3) | json_values,
        "follow": st.booleans() | json_values,
        "fromEnd": st.booleans() | json_values,
        "fork": st.booleans() | json_values,
        "capabilities": st.just({}) | json_values,
        "textDocument": st.just({"uri": "file:///x"}) | json_values,
    }
    shaped = st.fixed_dictionaries({}, optional=fields)
    return shaped | json_values | st.sampled_from([nested(65), nested(300), {"x": nested(900)}])


def envelopes(project: Path) -> st.SearchStrategy[Any]:
    methods = st.sampled_from(METHODS) | st.text(max_size=30) | st.sampled_from(wire.REQUEST_METHODS)
    ids = st.integers(-(2**31), 2**31) | st.text(max_size=12).map(lambda s: f"s-{s}")
    bad_ids = st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.lists(st.integers())
    message = st.fixed_dictionaries(
        {"jsonrpc": st.just("2.0") | st.sampled_from(["1.0", "2", None])},
        optional={
            "id": ids | ids | ids | bad_ids,
            "method": methods | methods | methods | json_values,
            "params": params_for(project),
            "result": json_values,
        },
    )
    return message | st.lists(message, max_size=2) | json_values


def expected_answer(message: Any) -> str | None:
    """``"id"``: an answer with the message's id; ``"null"``: an error with id null; None: no answer."""
    if not isinstance(message, dict):
        return "null"
    has_id = "id" in message
    raw_id = message.get("id")
    valid = has_id and not isinstance(raw_id, bool) and isinstance(raw_id, int | str)
    with_id = "id" if valid else "null"
    if too_deep(message):
        return with_id
    if has_id and not valid:
        return "null"
    if message.get("jsonrpc") != "2.0":
        return with_id
    if "method" not in message:
        return None if has_id and "result" in message else with_id
    if not isinstance(message["method"], str):
        return with_id
    params = message.get("params")
    if params is not None and not isinstance(params, dict | list):
        return "id" if has_id else None
    return "id" if has_id else None


def too_deep(value: Any, depth: int = 1) -> bool:
    """Nested more than the server's limit of 64 levels."""
    if not isinstance(value, dict | list):
        return False
    if depth > 64:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(too_deep(child, depth + 1) for child in children)


def check_batch(server: StdioServer, project: Path, stats: Stats, expect_ids: list[Any]) -> None:
    """Each id answered once within 5 s, ``session/list`` works, no traceback text anywhere."""
    client = server.client
    stats["batches"] += 1
    for msg_id in expect_ids:
        stats["requests"] += 1
        try:
            client.response(msg_id, ANSWER_SECONDS)
        except TimeoutError:
            stats["unanswered"] += 1
            raise AssertionError(f"request {msg_id!r} got no answer within {ANSWER_SECONDS} s") from None
        assert len(client.responses_to(msg_id)) == 1, client.responses_to(msg_id)
    listing = client.request("session/list", {"cwd": str(project)})
    assert "result" in listing, listing
    found = client.tracebacks()
    stats["tracebacks"] = len(found)
    assert not found, found[:3]
    assert not client.protocol_errors, client.protocol_errors


@settings(FUZZ, max_examples=MESSAGE_BATCHES)
@given(data=st.data())
def test_every_message_is_answered(server: StdioServer, project: Path, stats: Stats, data: st.DataObject) -> None:
    client = server.client
    batch = data.draw(st.lists(envelopes(project), min_size=1, max_size=4), label="batch")
    expect_ids: list[Any] = []
    expect_nulls = 0
    null_before = client.count(lambda m: "method" not in m and m.get("id", 0) is None)
    for message in batch:
        stats["cases"] += 1
        if isinstance(message, dict) and "id" in message and expected_answer(message) == "id":
            message["id"] = f"fuzz-{client.new_id()}-{message['id']}"[:60]  # unique, so answers can be counted
        answer = expected_answer(message)
        if answer == "id":
            expect_ids.append(message["id"])
        elif answer == "null":
            expect_nulls += 1
        client.send(message)
    check_batch(server, project, stats, expect_ids)
    if expect_nulls:
        stats["requests"] += expect_nulls
        is_null = lambda m: "method" not in m and m.get("id", 0) is None  # noqa: E731
        try:
            client.wait_count(is_null, null_before + expect_nulls)
        except TimeoutError:
            stats["unanswered"] += null_before + expect_nulls - client.count(is_null)
            raise
    assert client.count(lambda m: "method" not in m and m.get("id", 0) is None) == null_before + expect_nulls


def raw_frames() -> st.SearchStrategy[bytes]:
    body = st.one_of(
        st.binary(max_size=200),
        st.text(max_size=100).map(lambda s: s.encode("utf-8")),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.just(b'{"jsonrpc": "2.0", "id": "frame", "method": "session/list", "params": {}}'),
        st.just(b'{"jsonrpc": "2.0", "id": 1, "method": "session/list"'),
    )
    header = st.sampled_from(
        [b"Content-Length: %d\r\n\r\n", b"content-length:%d\r\n\r\n", b"Content-Length: %d\r\nContent-Type: x\r\n\r\n"]
    )

    def build(parts: tuple[bytes, bytes, int, bytes, bool]) -> bytes:
        head, payload, delta, junk, with_header = parts
        length = max(0, len(payload) + delta)
        return junk + ((head % length) if with_header else b"") + payload

    return st.tuples(
        header,
        body,
        st.integers(-8, 8) | st.just(0),
        st.sampled_from([b"", b"\r\n", b"junk\r\n", b"x" * 9000, b"Content-Length: abc\r\n\r\n", b"\r\n\r\n"]),
        st.booleans() | st.just(True),
    ).map(build)


@settings(FUZZ, max_examples=FRAME_BATCHES)
@given(frames=st.lists(raw_frames(), min_size=1, max_size=3))
def test_broken_frames_never_stop_the_server(
    server: StdioServer, project: Path, stats: Stats, frames: list[bytes]
) -> None:
    """Whatever bytes arrive, the next well-formed requests are answered within 5 s.

    A Content-Length too long by up to 8 bytes takes its bytes from what follows, so a
    padding of blank lines ends the batch (a reader cannot know a length is wrong until
    the bytes after the frame arrive).
    """
    client = server.client
    for raw in frames:
        stats["cases"] += 1
        client.send_raw(raw)
    client.send_raw(b"\r\n" * 8)
    probes = [f"probe-{client.new_id()}" for _ in range(2)]
    for probe in probes:
        client.send(frame_message(probe))
    stats["requests"] += len(probes)
    for probe in probes:
        try:
            assert "result" in client.response(probe, ANSWER_SECONDS)
        except TimeoutError:
            stats["unanswered"] += 1
            raise AssertionError(f"{probe} got no answer within {ANSWER_SECONDS} s after {frames!r}") from None
    check_batch(server, project, stats, [])


def frame_message(msg_id: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "session/list", "params": {}}
