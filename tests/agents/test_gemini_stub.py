"""The Gemini-API stub on its own: SSE framing, the router's JSON, scenarios, the log, the CLI."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agents.gemini_stub import GeminiStub, fill_schema

CONTEXT = {"text": "<session_context>\nctx\n</session_context>"}


@pytest.fixture
def stub() -> Iterator[GeminiStub]:
    with GeminiStub() as started:
        yield started


def body(*prompts: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    contents: list[dict[str, Any]] = []
    for n, prompt in enumerate(prompts):
        parts = [CONTEXT, {"text": prompt}] if n == 0 else [{"text": prompt}]
        contents.append({"role": "user", "parts": parts})
        if n < len(prompts) - 1:
            contents.append({"role": "model", "parts": [{"text": "earlier reply"}]})
    return {"contents": contents + (extra or []), "generationConfig": {}}


def post(stub: GeminiStub, path: str, payload: dict[str, Any]) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=30)
    conn.request("POST", path, json.dumps(payload), {"content-type": "application/json", "x-goog-api-key": "dummy"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, response.getheader("content-type") or ""


def sse(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(chunk[6:]) for chunk in data.decode().split("\r\n\r\n") if chunk.startswith("data: ")]


STREAM = "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"


def test_a_turn_streams_the_reply_with_a_finish_reason_and_usage_last(stub: GeminiStub) -> None:
    status, data, kind = post(stub, STREAM, body("hello", "second turn"))
    assert status == 200 and kind == "text/event-stream"
    chunks = sse(data)
    text = "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"])
    assert text == "stub reply #2 to: second turn"
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, "STOP"]
    assert "usageMetadata" in chunks[-1] and "usageMetadata" not in chunks[0]
    assert stub.prompts() == ["second turn"]


def test_a_tool_marker_asks_for_a_call_and_the_result_is_quoted(stub: GeminiStub) -> None:
    chunks = sse(post(stub, STREAM, body("[[tool:shell:ls -la]]"))[1])
    assert chunks[-1]["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "run_shell_command", "args": {"command": "ls -la"}}}
    ]
    result = {
        "role": "user",
        "parts": [{"functionResponse": {"name": "list_directory", "response": {"output": "a b"}}}],
    }
    chunks = sse(post(stub, STREAM, body("[[tool]]", extra=[result]))[1])
    assert chunks[-1]["candidates"][0]["content"]["parts"][0]["text"].endswith("result: a b")
    assert stub.prompts() == ["[[tool:shell:ls -la]]"]  # the tool-result request carries no prompt


def test_http_500_and_unknown_routes(stub: GeminiStub) -> None:
    status, data, _ = post(stub, STREAM, body("[[http500]]"))
    assert status == 500 and json.loads(data)["error"]["code"] == 500
    assert post(stub, "/v1beta/models/x:embedContent", {})[0] == 404
    assert len(stub.not_found()) == 1


def test_slow_replies_stream_over_time(stub: GeminiStub) -> None:
    started = time.monotonic()
    chunks = sse(post(stub, STREAM, body("[[slow:1]]"))[1])
    assert time.monotonic() - started >= 0.9
    assert chunks[0]["candidates"][0]["content"]["parts"][0]["text"] == "w0 "
    assert stub.turn_started.is_set()


def test_the_router_and_other_json_requests_get_an_object_that_fits(stub: GeminiStub) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {"complexity_reasoning": {"type": "STRING"}, "complexity_score": {"type": "INTEGER"}},
    }
    request = body("hello")
    request["generationConfig"] = {"responseMimeType": "application/json", "responseJsonSchema": schema}
    status, data, _ = post(stub, "/v1beta/models/gemini-3.5-flash-lite:generateContent", request)
    answer = json.loads(json.loads(data)["candidates"][0]["content"]["parts"][0]["text"])
    assert status == 200 and answer == {"complexity_reasoning": "stub", "complexity_score": 1}
    assert fill_schema({"type": "object", "properties": {"next_speaker": {"enum": ["model", "user"]}}}) == {
        "next_speaker": "user"
    }
    summary = {"contents": [{"role": "user", "parts": [{"text": "…\nSummary (max 80 chars):"}]}]}
    data = post(stub, "/v1beta/models/gemini-3.5-flash-lite:generateContent", summary)[1]
    assert json.loads(data)["candidates"][0]["content"]["parts"][0]["text"] == "stub summary"
    assert json.loads(post(stub, "/v1beta/models/m:countTokens", request)[1])["totalTokens"] >= 1


def test_runs_as_a_program() -> None:
    process = subprocess.Popen(
        [sys.executable, "tests/agents/gemini_stub.py", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LISTENING ")
        conn = http.client.HTTPConnection("127.0.0.1", int(line.split()[1]), timeout=10)
        conn.request("GET", "/v1beta/models")
        assert conn.getresponse().status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
