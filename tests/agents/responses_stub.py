#!/usr/bin/env python3
"""A stub of the OpenAI Responses API for running the real Codex CLI offline.

Stdlib only. Serves on 127.0.0.1 (a free port by default):

* ``POST /v1/responses``: a Server-Sent-Events stream (``response.created``,
  ``response.in_progress``, per output item ``response.output_item.added`` / text deltas /
  ``response.output_item.done``, then ``response.completed`` with ``usage``), uncompressed
  and chunked on HTTP/1.1 keep-alive, whatever ``accept-encoding`` asks for.
* ``GET /v1/models``: an empty list.
* anything else: 404, logged.

The reply is chosen by the markers of :mod:`tests.agents.messages_stub`, found only in the
newest user text (the last ``input_text`` of the last ``user`` message of ``input``):

``[[tool:bash]]`` / ``[[tool:bash:CMD]]``
    an ``exec_command`` function call (``echo stub-tool-ok`` by default); when the request
    ends with its ``function_call_output`` the reply is ``stub saw tool result: <output>``.
``[[slow]]`` / ``[[slow:N]]``
    words ``w0 w1 ...`` streamed as text deltas over N seconds (20 by default), then the
    plain reply.
``[[http500]]``
    HTTP 500 with an OpenAI-style error body.
``[[thinking]]``
    a ``reasoning`` item with a readable summary before the text.

Otherwise the reply is ``stub reply #N to: <prompt, first 200 chars>`` where N counts the
``/v1/responses`` requests this stub has served.

Codex (0.169, 0.171) needs: a provider with ``wire_api = "responses"``, its ``base_url``
pointing here, see :func:`codex_config`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

try:
    from tests.agents.http_stub import StubHandler, StubServer, serve_main, stub_id
    from tests.agents.messages_stub import SLOW_WORD_INTERVAL, find_markers, slow_words
    from tests.agents.replies import DEFAULT_BASH
except ImportError:  # run as a script: this file's folder is first on sys.path
    from http_stub import StubHandler, StubServer, serve_main, stub_id  # type: ignore[no-redef]
    from messages_stub import SLOW_WORD_INTERVAL, find_markers, slow_words  # type: ignore[no-redef]
    from replies import DEFAULT_BASH  # type: ignore[no-redef]

PROMPT_ECHO = 200
"""How much of the prompt a plain reply repeats (a 1 MB prompt gets a short reply)."""


def codex_config(base_url: str, model: str = "gpt-5.5") -> str:
    """``config.toml`` that sends every model request here and turns off everything else.

    Analytics, plugin sync, update checks and endless reconnects each make Codex look up
    a host on the internet; with these settings its only connections go to 127.0.0.1.
    """
    return (
        f'model = "{model}"\n'
        'model_provider = "stub"\n'
        "check_for_update_on_startup = false\n"
        "[analytics]\nenabled = false\n"
        "[features]\nplugins = false\nunbounded_connection_retries = false\n"
        "[model_providers.stub]\n"
        'name = "stub"\n'
        f'base_url = "{base_url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "STUB_API_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [
        str(part.get("text", ""))
        for part in content or []
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text")
    ]


def newest_user_text(items: list[Any]) -> str | None:
    """The last ``input_text`` of the last ``user`` message of a request's ``input``."""
    for item in reversed(items):
        if isinstance(item, dict) and item.get("type", "message") == "message" and item.get("role") == "user":
            texts = _texts(item.get("content"))
            return texts[-1] if texts else ""
    return None


def user_texts_of(body: dict[str, Any]) -> list[str]:
    """Every user text of a request, in order (Codex re-sends the whole history each turn)."""
    out: list[str] = []
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type", "message") == "message" and item.get("role") == "user":
            out.extend(_texts(item.get("content")))
    return out


def _tool_output_text(item: dict[str, Any]) -> str:
    output = item.get("output")
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        return "\n".join(_texts(output.get("content")))
    if isinstance(output, list):
        return "\n".join(_texts(output))
    return ""


class Reply:
    """The planned answer to one ``/v1/responses`` request."""

    def __init__(self) -> None:
        self.status = 200
        self.error: dict[str, Any] | None = None
        self.items: list[dict[str, Any]] = []
        self.slow_words: list[str] = []


def plan_reply(body: dict[str, Any], number: int) -> Reply:
    """Decide the reply to request number ``number`` (1-based) from its JSON body."""
    reply = Reply()
    items = body.get("input") or []
    last = items[-1] if items and isinstance(items[-1], dict) else {}
    if last.get("type") in ("function_call_output", "custom_tool_call_output"):
        seen = " ".join(_tool_output_text(last).split())[:PROMPT_ECHO]
        reply.items.append(_message(f"stub saw tool result: {seen}"))
        return reply
    prompt = newest_user_text(items) or ""
    markers = find_markers(prompt)
    if "http500" in markers:
        reply.status = 500
        reply.error = {"error": {"type": "server_error", "code": "server_error", "message": "stub forced 500"}}
        return reply
    if "thinking" in markers:
        summary = [{"type": "summary_text", "text": "stub thinking about: " + prompt[:PROMPT_ECHO]}]
        reply.items.append({"type": "reasoning", "id": stub_id("rs_stub_"), "summary": summary})
    if "tool" in markers:
        _kind, _, command = (markers["tool"] or "bash").partition(":")
        arguments = json.dumps({"cmd": command or DEFAULT_BASH})
        reply.items.append(
            {
                "type": "function_call",
                "id": stub_id("fc_stub_"),
                "status": "completed",
                "name": "exec_command",
                "arguments": arguments,
                "call_id": stub_id("call_stub_"),
            }
        )
        return reply
    final = f"stub reply #{number} to: {prompt[:PROMPT_ECHO]}"
    if "slow" in markers:
        _seconds, reply.slow_words = slow_words(markers["slow"])
        final = "".join(reply.slow_words) + final
    reply.items.append(_message(final))
    return reply


def _message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": stub_id("msg_stub_"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


class _Handler(StubHandler):
    owner: ResponsesStub
    server_version = "threadline-responses-stub/1"
    gunzip_bodies = True

    def _answer(self, status: int, obj: Any) -> None:
        self._send_json(status, obj, headers={"x-request-id": stub_id("req_stub_")})

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/models":
            self._log_raw(b"", 200)
            self._answer(200, {"object": "list", "data": [], "models": []})
            return
        self._log_raw(b"", 404)
        self._answer(404, {"error": {"type": "not_found", "message": f"no route {path}"}})

    def do_POST(self) -> None:
        raw = self._read_body()
        path = self.path.split("?")[0]
        if path != "/v1/responses":
            self._log_raw(raw, 404)
            self._answer(404, {"error": {"type": "not_found", "message": f"no route {path}"}})
            return
        number = self.owner._next_number()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._log_raw(raw, 400)
            self._answer(400, {"error": {"type": "invalid_request_error", "message": "bad JSON"}})
            return
        reply = plan_reply(body, number)
        self._log_raw(raw, reply.status)
        if reply.error is not None:
            self._answer(reply.status, reply.error)
            return
        self._stream(reply, str(body.get("model") or "gpt-5.5"), len(raw))

    # -- SSE -------------------------------------------------------------------------
    def _event(self, obj: dict[str, Any]) -> None:
        self._chunk(f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode())

    def _stream(self, reply: Reply, model: str, body_len: int) -> None:
        headers = {"Cache-Control": "no-cache", "x-request-id": stub_id("req_stub_")}
        response_id = stub_id("resp_stub_")
        response = {"id": response_id, "object": "response", "created_at": int(time.time()), "model": model}
        with self._sse("text/event-stream; charset=utf-8", headers):
            self._event({"type": "response.created", "response": {**response, "status": "in_progress", "output": []}})
            self._event({"type": "response.in_progress", "response": {**response, "status": "in_progress"}})
            for index, item in enumerate(reply.items):
                self._stream_item(index, item, reply)
            out_tokens = 1 + sum(len(json.dumps(i)) for i in reply.items) // 40
            usage = {
                "input_tokens": max(1, body_len // 4),
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": out_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": max(1, body_len // 4) + out_tokens,
            }
            done = {**response, "status": "completed", "output": reply.items, "usage": usage}
            self._event({"type": "response.completed", "response": done})

    def _stream_item(self, index: int, item: dict[str, Any], reply: Reply) -> None:
        if item["type"] != "message":
            self._event({"type": "response.output_item.added", "output_index": index, "item": item})
            self._event({"type": "response.output_item.done", "output_index": index, "item": item})
            return
        started = {**item, "status": "in_progress", "content": []}
        self._event({"type": "response.output_item.added", "output_index": index, "item": started})
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        self._event({"type": "response.content_part.added", **where, "part": part})
        text = item["content"][0]["text"]
        pieces: list[str] = []
        if reply.slow_words:
            for word in reply.slow_words:
                self._event({"type": "response.output_text.delta", **where, "delta": word})
                self._pause(SLOW_WORD_INTERVAL)
            text = text[len("".join(reply.slow_words)) :]
        third = max(1, len(text) // 3)
        pieces = [text[i : i + third] for i in range(0, len(text), third)]
        for piece in pieces:
            self._event({"type": "response.output_text.delta", **where, "delta": piece})
        full = item["content"][0]["text"]
        self._event({"type": "response.output_text.done", **where, "text": full})
        self._event({"type": "response.content_part.done", **where, "part": {**part, "text": full}})
        self._event({"type": "response.output_item.done", "output_index": index, "item": item})


class ResponsesStub(StubServer):
    """The stub server. ``start()`` binds 127.0.0.1 and serves from a thread.

    ``requests`` is the log: one dict per request with ``method``, ``path``, ``headers``
    (lower-case keys), ``body`` (parsed JSON or ``None``), ``raw_length``, ``status``, ``time``.
    """

    handler = _Handler
    thread_name = "responses-stub"

    def response_requests(self, thread_id: str | None = None) -> list[dict[str, Any]]:
        """The logged ``POST /v1/responses`` requests, optionally of one Codex thread."""
        with self._lock:
            entries = list(self.requests)
        return [
            e
            for e in entries
            if e["method"] == "POST"
            and e["path"].split("?")[0] == "/v1/responses"
            and (thread_id is None or e["headers"].get("thread-id") == thread_id)
        ]


def main(argv: list[str] | None = None) -> int:
    return serve_main(ResponsesStub, (__doc__ or "").splitlines()[0], argv, log_option=False)


if __name__ == "__main__":
    sys.exit(main())
