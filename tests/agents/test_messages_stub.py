"""The Messages-API stub on its own: SSE framing, scenarios, request log, CLI entry point."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agents.messages_stub import MessagesStub, newest_user_content


@pytest.fixture
def stub() -> Iterator[MessagesStub]:
    with MessagesStub() as started:
        yield started


def body(text: str | list[dict[str, Any]], stream: bool = True) -> dict[str, Any]:
    return {
        "model": "claude-opus-4-8",
        "stream": stream,
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"}]},
            {"role": "system", "content": "agents listing"},
            {"role": "user", "content": text},
        ],
    }


def post(conn: http.client.HTTPConnection, payload: dict[str, Any]) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(
        "POST",
        "/v1/messages?beta=true",
        json.dumps(payload),
        {"content-type": "application/json", "x-claude-code-session-id": "s-1"},
    )
    response = conn.getresponse()
    return response, response.read()


def streamed_text(raw: bytes) -> str:
    return "".join(e["delta"].get("text", "") for e in sse_events(raw) if e["type"] == "content_block_delta")


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for chunk in raw.decode().split("\n\n"):
        data = [line[6:] for line in chunk.splitlines() if line.startswith("data: ")]
        if data:
            events.append(json.loads(data[0]))
    return events


def test_streams_a_reply_quoting_the_prompt_on_keep_alive(stub: MessagesStub) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    first, raw = post(conn, body("hello there"))
    assert first.status == 200 and first.getheader("transfer-encoding") == "chunked"
    assert first.getheader("request-id", "").startswith("req_")
    events = sse_events(raw)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "ping"] and kinds[-2:] == ["message_delta", "message_stop"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "stub reply #1 to: hello there"
    second, raw = post(conn, body("again"))  # same connection
    assert second.status == 200 and streamed_text(raw) == "stub reply #2 to: again"
    conn.close()
    assert stub.user_texts() == ["hello there", "again"]
    assert stub.message_requests("s-1")[0]["headers"]["x-claude-code-session-id"] == "s-1"


def test_tool_use_then_tool_result(stub: MessagesStub) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    _, raw = post(conn, body("run [[tool:bash:echo hi]]"))
    events = sse_events(raw)
    start = next(e for e in events if e["type"] == "content_block_start" and e["index"] == 1)
    assert start["content_block"]["name"] == "Bash"
    partial = "".join(
        e["delta"]["partial_json"] for e in events if e.get("delta", {}).get("type") == "input_json_delta"
    )
    assert json.loads(partial) == {"command": "echo hi", "description": "Stub-requested command"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    result = [{"type": "tool_result", "tool_use_id": start["content_block"]["id"], "content": "hi"}]
    _, raw = post(conn, body(result))
    assert streamed_text(raw) == "stub saw tool result: hi"
    assert stub.user_texts() == ["run [[tool:bash:echo hi]]"]


def test_thinking_block_has_a_signature(stub: MessagesStub) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    _, raw = post(conn, body("think [[thinking]]"))
    deltas = [e["delta"]["type"] for e in sse_events(raw) if e["type"] == "content_block_delta"]
    assert deltas[:2] == ["thinking_delta", "signature_delta"] and "text_delta" in deltas


@pytest.mark.parametrize(
    ("marker", "status", "kind"), [("http500", 500, "api_error"), ("http529", 529, "overloaded_error")]
)
def test_http_errors(stub: MessagesStub, marker: str, status: int, kind: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    response, raw = post(conn, body(f"fail [[{marker}]]"))
    assert response.status == status
    assert json.loads(raw) == {"type": "error", "error": {"type": kind, "message": f"stub forced {status}"}}


def test_markers_only_count_in_the_newest_user_text() -> None:
    messages = [
        {"role": "user", "content": "old [[http500]]"},
        {"role": "assistant", "content": [{"type": "text", "text": "x"}]},
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>"}, {"type": "text", "text": "new"}]},
        {"role": "system", "content": "env"},
    ]
    assert newest_user_content(messages) == ("new", [])


def test_non_streaming_and_other_endpoints(stub: MessagesStub) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    _, raw = post(conn, body("plain", stream=False))
    message = json.loads(raw)
    assert message["content"] == [{"type": "text", "text": "stub reply #1 to: plain"}]
    conn.request("HEAD", "/")
    head = conn.getresponse()
    head.read()
    assert head.status == 200
    conn.request("POST", "/v1/messages/count_tokens", json.dumps(body("x")))
    counted = conn.getresponse()
    assert counted.status == 200 and json.loads(counted.read())["input_tokens"] > 0
    conn.request("GET", "/v1/models")
    models = conn.getresponse()
    assert models.status == 200 and json.loads(models.read())["data"]
    conn.request("GET", "/nowhere")
    missing = conn.getresponse()
    missing.read()
    assert missing.status == 404
    assert [e["path"] for e in stub.not_found()] == ["/nowhere"]


def test_runs_as_a_program() -> None:
    from tests.agents import messages_stub

    process = subprocess.Popen(
        [sys.executable, messages_stub.__file__, "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LISTENING ")
        conn = http.client.HTTPConnection("127.0.0.1", int(line.split()[1]), timeout=10)
        response, raw = post(conn, body("hi"))
        assert response.status == 200 and streamed_text(raw) == "stub reply #1 to: hi"
    finally:
        process.terminate()
        process.wait(timeout=10)
