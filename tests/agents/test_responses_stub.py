"""The Responses-API stub on its own: what a client of it receives."""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agents.responses_stub import ResponsesStub, codex_config, newest_user_text

pytestmark = pytest.mark.codex


@pytest.fixture
def stub() -> Iterator[ResponsesStub]:
    with ResponsesStub() as running:
        yield running


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def post(stub: ResponsesStub, body: dict[str, Any], gzipped: bool = False) -> tuple[int, list[dict[str, Any]]]:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "thread-id": "t-1"}
    if gzipped:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(f"{stub.base_url}/v1/responses", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, [json.loads(exc.read())]
    events = []
    for block in raw.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            event = json.loads(lines["data"])
            assert event["type"] == lines["event"]
            events.append(event)
    return status, events


def test_a_plain_reply_streams_and_completes_with_usage(stub: ResponsesStub) -> None:
    status, events = post(stub, {"model": "gpt-5.5", "stream": True, "input": [user("older"), user("hello")]})
    assert status == 200
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "stub reply #1 to: hello"
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["usage"]["input_tokens"] > 0
    assert stub.response_requests("t-1")[0]["body"]["input"][-1] == user("hello")


def test_a_tool_call_then_its_result(stub: ResponsesStub) -> None:
    _status, events = post(stub, {"input": [user("go [[tool:bash:echo hi]]")]})
    call = events[-1]["response"]["output"][0]
    assert call["type"] == "function_call" and call["name"] == "exec_command"
    assert json.loads(call["arguments"]) == {"cmd": "echo hi"}
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "Output:\nhi\n"}
    _status, events = post(stub, {"input": [user("go [[tool:bash:echo hi]]"), call, output]}, gzipped=True)
    text = events[-1]["response"]["output"][0]["content"][0]["text"]
    assert text == "stub saw tool result: Output: hi"


def test_an_http_500(stub: ResponsesStub) -> None:
    status, body = post(stub, {"input": [user("[[http500]]")]})
    assert status == 500 and body[0]["error"]["message"] == "stub forced 500"


def test_a_slow_reply_streams_words_over_time(stub: ResponsesStub) -> None:
    started = time.monotonic()
    _status, events = post(stub, {"input": [user("[[slow:1]]")]})
    assert time.monotonic() - started >= 0.9
    words = [e["delta"] for e in events if e["type"] == "response.output_text.delta"][:4]
    assert words == ["w0 ", "w1 ", "w2 ", "w3 "]


def test_thinking_and_helpers(stub: ResponsesStub) -> None:
    _status, events = post(stub, {"input": [user("[[thinking]] why")]})
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert newest_user_text([user("a"), {"type": "function_call"}, user("b")]) == "b"
    config = codex_config("http://127.0.0.1:9")
    assert 'base_url = "http://127.0.0.1:9/v1"' in config and 'wire_api = "responses"' in config
    assert stub.not_found() == []
