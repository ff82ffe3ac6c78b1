#!/usr/bin/env python3
"""A stub of the Anthropic Messages API for running the real Claude Code CLI offline.

Stdlib only. Serves on 127.0.0.1 (a free port by default):

* ``POST /v1/messages`` (with or without ``?beta=true``): a Server-Sent-Events stream
  (``message_start`` with usage, ``ping``, ``content_block_start/delta/stop`` for
  ``text``, ``thinking`` and ``tool_use`` blocks, ``message_delta``, ``message_stop``),
  chunked, on HTTP/1.1 keep-alive, with a ``request-id`` header. With ``"stream": false``
  the whole message is one JSON body.
* ``POST /v1/messages/count_tokens`` and ``GET /v1/models``: minimal answers.
* ``HEAD /`` (the connection warm-up of 2.1.197): 200.
* anything else: 404, logged.

The reply is chosen by markers found only in the newest user text (the last text block
of the last ``user`` message), so an older prompt merged into the history never fires
again:

``[[tool:bash]]`` / ``[[tool:bash:CMD]]``
    a ``Bash`` tool_use (``echo stub-tool-ok`` by default); once the tool_result comes
    back the reply is ``stub saw tool result: <content>``.
``[[tool:write:/abs]]`` / ``[[tool:read:/abs]]``
    a ``Write`` (content ``written by the stub\\n``) or ``Read`` tool_use.
``[[slow]]`` / ``[[slow:N]]``
    words ``w0 w1 ...`` streamed over N seconds (20 by default), then the plain reply.
``[[http500]]`` / ``[[http529]]``
    that HTTP status with an Anthropic-style error body.
``[[thinking]]``
    a thinking block (with signature) before the text.

Otherwise the reply is ``stub reply #N to: <prompt>`` where N counts the
``/v1/messages`` requests this stub has served.

Usable as a library (:class:`MessagesStub`) and as a program::

    python messages_stub.py --port 0      # prints "LISTENING <port>"
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

try:
    from tests.agents.http_stub import StubHandler, StubServer, serve_main, split3, stub_id
    from tests.agents.replies import TOOL_TEXT, thinking_block, tool_use_block
except ImportError:  # run as a script: this file's folder is first on sys.path
    from http_stub import StubHandler, StubServer, serve_main, split3, stub_id  # type: ignore[no-redef]
    from replies import TOOL_TEXT, thinking_block, tool_use_block  # type: ignore[no-redef]

STUB_MODEL = "claude-opus-4-8"
DEFAULT_SLOW_SECONDS = 20.0
SLOW_WORD_INTERVAL = 0.25

MARKER_RE = re.compile(r"\[\[([a-z0-9]+)(?::([^\]]*))?\]\]")


def find_markers(text: str) -> dict[str, str | None]:
    """Return the ``[[name]]`` / ``[[name:arg]]`` markers of ``text`` as ``{name: arg}``.

    ``[[tool:bash:CMD]]`` becomes ``{"tool": "bash:CMD"}``.
    """
    found: dict[str, str | None] = {}
    for m in MARKER_RE.finditer(text):
        found.setdefault(m.group(1), m.group(2))
    return found


def slow_words(arg: str | None) -> tuple[float, list[str]]:
    """The seconds of a ``[[slow:N]]`` marker (20 by default) and the words streamed over them."""
    try:
        seconds = float(arg) if arg else DEFAULT_SLOW_SECONDS
    except ValueError:
        seconds = DEFAULT_SLOW_SECONDS
    seconds = max(0.0, seconds)
    return seconds, [f"w{i} " for i in range(max(1, round(seconds / SLOW_WORD_INTERVAL)))]


def newest_user_content(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """Return ``(newest user text, tool_result blocks)`` of the last ``user`` message.

    Messages may contain roles other than user/assistant (the CLI sends ``system``
    entries); they are skipped. The newest user text is the last text block of the last
    user message (earlier blocks are ``<system-reminder>`` texts).
    """
    for msg in reversed(messages):
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content, []
        text = None
        results = []
        for block in content or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                text = block.get("text", "")
            elif block.get("type") == "tool_result":
                results.append(block)
        return text, results
    return None, []


def tool_result_text(block: dict[str, Any]) -> str:
    """Return the text of a ``tool_result`` block (string or list-of-blocks content)."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    parts = []
    for item in content or []:
        if isinstance(item, dict) and item.get("type") == "text":
            parts.append(item.get("text", ""))
    return "".join(parts)


class Reply:
    """The planned answer to one ``/v1/messages`` request."""

    def __init__(self) -> None:
        self.status = 200
        self.error: dict[str, Any] | None = None
        self.blocks: list[dict[str, Any]] = []
        self.stop_reason = "end_turn"
        self.slow_seconds = 0.0
        self.slow_words: list[str] = []


def plan_reply(body: dict[str, Any], number: int) -> Reply:
    """Decide the reply to request number ``number`` (1-based) from its JSON body."""
    reply = Reply()
    text, results = newest_user_content(body.get("messages") or [])
    if results:
        seen = tool_result_text(results[-1])
        reply.blocks.append({"type": "text", "text": f"stub saw tool result: {seen}"})
        return reply
    prompt = text or ""
    markers = find_markers(prompt)
    for code in ("500", "529"):
        if "http" + code in markers:
            reply.status = int(code)
            kind = "api_error" if code == "500" else "overloaded_error"
            reply.error = {"type": "error", "error": {"type": kind, "message": f"stub forced {code}"}}
            return reply
    if "thinking" in markers:
        reply.blocks.append(thinking_block(prompt))
    if "tool" in markers:
        block = tool_use_block(markers["tool"], stub_id("toolu_stub_"))
        reply.blocks.append({"type": "text", "text": TOOL_TEXT})
        reply.blocks.append(block)
        reply.stop_reason = "tool_use"
        return reply
    final = f"stub reply #{number} to: {prompt}"
    if "slow" in markers:
        reply.slow_seconds, reply.slow_words = slow_words(markers["slow"])
        final = "".join(reply.slow_words) + final
    reply.blocks.append({"type": "text", "text": final})
    return reply


def _usage(body_len: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": max(1, body_len // 3),
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


class _StubHandler(StubHandler):
    owner: MessagesStub
    server_version = "threadline-messages-stub/1"

    def _answer(self, status: int, obj: Any, request_id: str | None = None) -> None:
        self._send_json(status, obj, headers={"request-id": request_id} if request_id else None)

    # -- verbs -----------------------------------------------------------------------
    def do_HEAD(self) -> None:
        status = 200 if self.path.split("?")[0] == "/" else 404
        self._log_raw(b"", status)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/models":
            self._log_raw(b"", 200)
            model = {"type": "model", "id": STUB_MODEL, "display_name": "Stub", "created_at": "2026-01-01T00:00:00Z"}
            self._answer(200, {"data": [model], "has_more": False, "first_id": STUB_MODEL, "last_id": STUB_MODEL})
            return
        self._log_raw(b"", 404)
        self._answer(404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {path}"}})

    def do_POST(self) -> None:
        raw = self._read_body()
        path = self.path.split("?")[0]
        if path == "/v1/messages/count_tokens":
            self._log_raw(raw, 200)
            self._answer(200, {"input_tokens": max(1, len(raw) // 3)})
            return
        if path != "/v1/messages":
            self._log_raw(raw, 404)
            self._answer(404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {path}"}})
            return
        number = self.owner._next_number()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._log_raw(raw, 400)
            self._answer(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad JSON"}})
            return
        reply = plan_reply(body, number)
        request_id = stub_id("req_stub_")
        self._log_raw(raw, reply.status)
        if reply.error is not None:
            self._answer(reply.status, reply.error, request_id)
            return
        model = body.get("model") or STUB_MODEL
        message_id = stub_id("msg_stub_")
        output_tokens = 10 + sum(len(json.dumps(b)) for b in reply.blocks) // 4
        if not body.get("stream"):
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": reply.blocks,
                "stop_reason": reply.stop_reason,
                "stop_sequence": None,
                "usage": _usage(len(raw), output_tokens),
            }
            self._answer(200, message, request_id)
            return
        self._stream(reply, model, message_id, request_id, len(raw), output_tokens)

    # -- SSE -------------------------------------------------------------------------
    def _event(self, name: str, obj: dict[str, Any]) -> None:
        self._chunk(f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode())

    def _stream(
        self, reply: Reply, model: str, message_id: str, request_id: str, body_len: int, out_tokens: int
    ) -> None:
        headers = {"Cache-Control": "no-cache", "request-id": request_id}
        with self._sse("text/event-stream; charset=utf-8", headers):
            start_usage = _usage(body_len, 1)
            self._event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": start_usage,
                    },
                },
            )
            self._event("ping", {"type": "ping"})
            for index, block in enumerate(reply.blocks):
                self._stream_block(index, block, reply)
            final_usage = _usage(body_len, out_tokens)
            del final_usage["service_tier"]
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                    "usage": final_usage,
                },
            )
            self._event("message_stop", {"type": "message_stop"})

    def _stream_block(self, index: int, block: dict[str, Any], reply: Reply) -> None:
        kind = block["type"]
        if kind == "text":
            self._event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            )
            text = block["text"]
            if reply.slow_words:
                for word in reply.slow_words:
                    self._delta(index, {"type": "text_delta", "text": word})
                    self._pause(SLOW_WORD_INTERVAL)
                text = text[len("".join(reply.slow_words)) :]
            for piece in split3(text):
                self._delta(index, {"type": "text_delta", "text": piece})
        elif kind == "thinking":
            self._event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
            self._delta(index, {"type": "thinking_delta", "thinking": block["thinking"]})
            self._delta(index, {"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            self._event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}},
                },
            )
            payload = json.dumps(block["input"])
            half = len(payload) // 2
            for piece in (payload[:half], payload[half:]):
                self._delta(index, {"type": "input_json_delta", "partial_json": piece})
        self._event("content_block_stop", {"type": "content_block_stop", "index": index})

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        self._event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


class MessagesStub(StubServer):
    """The stub server. ``start()`` binds 127.0.0.1 and serves from a thread.

    ``requests`` is the log: one dict per request with ``method``, ``path``,
    ``headers`` (lower-case keys), ``body`` (parsed JSON or ``None``), ``raw_length``,
    ``status`` and ``time``.
    """

    handler = _StubHandler
    thread_name = "messages-stub"

    def message_requests(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """The logged ``POST /v1/messages`` requests, optionally of one CLI session."""
        with self._lock:
            entries = list(self.requests)
        out = []
        for e in entries:
            if e["method"] != "POST" or e["path"].split("?")[0] != "/v1/messages":
                continue
            if session_id is not None and e["headers"].get("x-claude-code-session-id") != session_id:
                continue
            out.append(e)
        return out

    def user_texts(self, session_id: str | None = None) -> list[str]:
        """The newest user text of each ``/v1/messages`` request, in order: what the
        CLI sent as the user's prompt (requests that carry only tool results are left
        out)."""
        texts = []
        for e in self.message_requests(session_id):
            text, results = newest_user_content((e["body"] or {}).get("messages") or [])
            if text is not None and not results:
                texts.append(text)
        return texts


def main(argv: list[str] | None = None) -> int:
    return serve_main(MessagesStub, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
