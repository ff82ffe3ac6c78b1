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

import argparse
import gzip
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:
    from tests.agents.messages_stub import DEFAULT_SLOW_SECONDS, SLOW_WORD_INTERVAL, find_markers
    from tests.agents.replies import DEFAULT_BASH
except ImportError:  # run as a script: this file's folder is first on sys.path
    from messages_stub import DEFAULT_SLOW_SECONDS, SLOW_WORD_INTERVAL, find_markers  # type: ignore[no-redef]
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


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:20]


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
        reply.items.append({"type": "reasoning", "id": _id("rs_stub_"), "summary": summary})
    if "tool" in markers:
        _kind, _, command = (markers["tool"] or "bash").partition(":")
        arguments = json.dumps({"cmd": command or DEFAULT_BASH})
        reply.items.append(
            {
                "type": "function_call",
                "id": _id("fc_stub_"),
                "status": "completed",
                "name": "exec_command",
                "arguments": arguments,
                "call_id": _id("call_stub_"),
            }
        )
        return reply
    final = f"stub reply #{number} to: {prompt[:PROMPT_ECHO]}"
    if "slow" in markers:
        arg = markers["slow"]
        try:
            seconds = float(arg) if arg else DEFAULT_SLOW_SECONDS
        except ValueError:
            seconds = DEFAULT_SLOW_SECONDS
        count = max(1, round(max(0.0, seconds) / SLOW_WORD_INTERVAL))
        reply.slow_words = [f"w{i} " for i in range(count)]
        final = "".join(reply.slow_words) + final
    reply.items.append(_message(final))
    return reply


def _message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": _id("msg_stub_"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


class ResponsesStub:
    """The stub server. ``start()`` binds 127.0.0.1 and serves from a thread.

    ``requests`` is the log: one dict per request with ``method``, ``path``, ``headers``
    (lower-case keys), ``body`` (parsed JSON or ``None``), ``raw_length``, ``status``, ``time``.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self._want_port = port
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> ResponsesStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        server = ThreadingHTTPServer((self.host, self._want_port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="responses-stub", daemon=True)
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

    def __enter__(self) -> ResponsesStub:
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

    def not_found(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.requests if e["status"] == 404]


class _Handler(BaseHTTPRequestHandler):
    owner: ResponsesStub
    protocol_version = "HTTP/1.1"
    server_version = "threadline-responses-stub/1"

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
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return raw

    def _log(self, raw: bytes, status: int) -> None:
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        self.owner._record(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "raw_length": len(raw),
                "status": status,
                "time": time.time(),
            }
        )

    def _send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", _id("req_stub_"))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/models":
            self._log(b"", 200)
            self._send_json(200, {"object": "list", "data": [], "models": []})
            return
        self._log(b"", 404)
        self._send_json(404, {"error": {"type": "not_found", "message": f"no route {path}"}})

    def do_POST(self) -> None:
        raw = self._read_body()
        path = self.path.split("?")[0]
        if path != "/v1/responses":
            self._log(raw, 404)
            self._send_json(404, {"error": {"type": "not_found", "message": f"no route {path}"}})
            return
        number = self.owner._next_number()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._log(raw, 400)
            self._send_json(400, {"error": {"type": "invalid_request_error", "message": "bad JSON"}})
            return
        reply = plan_reply(body, number)
        self._log(raw, reply.status)
        if reply.error is not None:
            self._send_json(reply.status, reply.error)
            return
        self._stream(reply, str(body.get("model") or "gpt-5.5"), len(raw))

    # -- SSE -------------------------------------------------------------------------
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj: dict[str, Any]) -> None:
        self._chunk(f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode())

    def _stream(self, reply: Reply, model: str, body_len: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", _id("req_stub_"))
        self.end_headers()
        response_id = _id("resp_stub_")
        response = {"id": response_id, "object": "response", "created_at": int(time.time()), "model": model}
        try:
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
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, _Stopping):
            self.close_connection = True

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
                if self.owner._stopping.wait(SLOW_WORD_INTERVAL):
                    raise _Stopping
            text = text[len("".join(reply.slow_words)) :]
        third = max(1, len(text) // 3)
        pieces = [text[i : i + third] for i in range(0, len(text), third)]
        for piece in pieces:
            self._event({"type": "response.output_text.delta", **where, "delta": piece})
        full = item["content"][0]["text"]
        self._event({"type": "response.output_text.done", **where, "text": full})
        self._event({"type": "response.content_part.done", **where, "part": {**part, "text": full}})
        self._event({"type": "response.output_item.done", "output_index": index, "item": item})


class _Stopping(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    stub = ResponsesStub(port=args.port).start()
    sys.stdout.write(f"LISTENING {stub.port}\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
