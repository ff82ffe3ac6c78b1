#!/usr/bin/env python3
"""A stub of the Gemini API for running the real Gemini CLI offline.

Stdlib only. Serves on 127.0.0.1 (a free port by default); point the CLI at it with
``GOOGLE_GEMINI_BASE_URL=<base_url>`` and ``GEMINI_API_KEY=dummy`` plus the settings of
:func:`offline_settings`:

* ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse``: the turn, as Server-Sent
  Events (``data: {candidates…}``; the last chunk has ``finishReason: STOP`` and
  ``usageMetadata``), chunked on HTTP/1.1 keep-alive.
* ``POST /v1beta/models/<model>:generateContent``: one JSON answer. A request that asks for
  JSON (``responseJsonSchema`` / ``responseSchema``: the ``auto`` model's router classifier,
  the next-speaker check) gets an object that fits the schema (the classifier: score 1, so
  the router picks flash); a session-summary request gets ``stub summary``; anything else
  the same reply as the stream.
* ``POST …:countTokens``: ``{"totalTokens": n}``; ``GET /v1beta/models``: one model.
* anything else: 404, logged (``stub.not_found()``).

Replies are chosen by the markers of :mod:`tests.agents.gemini_replies` in the newest prompt.

Usable as a library (:class:`GeminiStub`) and as a program::

    python gemini_stub.py --port 0      # prints "LISTENING <port>"
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

try:
    from tests.agents import gemini_replies as R
    from tests.agents.http_stub import StubHandler, StubServer, serve_main, split3
except ImportError:  # run as a script: this file's folder is first on sys.path
    import gemini_replies as R  # type: ignore[no-redef]
    from http_stub import StubHandler, StubServer, serve_main, split3  # type: ignore[no-redef]


def offline_settings() -> dict[str, Any]:
    """``<GEMINI_CLI_HOME>/.gemini/settings.json`` that keeps the real CLI on 127.0.0.1 only
    (no telemetry, no update check, no IDE) and fails fast (one attempt per model call)."""
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False, "maxAttempts": 1},
        "ide": {"enabled": False},
    }


def user_prompts(contents: list[dict[str, Any]]) -> list[str]:
    """The user's prompts in a request's ``contents``, in order (session context and tool
    results left out)."""
    prompts = []
    for content in contents:
        if not isinstance(content, dict) or content.get("role") != "user":
            continue
        texts = [
            str(p["text"])
            for p in content.get("parts") or []
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p["text"].startswith(R.SESSION_CONTEXT)
        ]
        prompts.extend(texts)  # a dangling prompt and the next one may share one content
    return prompts


def newest_function_response(contents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``functionResponse`` of the last content when it is a tool result, else None."""
    if not contents or not isinstance(contents[-1], dict) or contents[-1].get("role") != "user":
        return None
    for part in contents[-1].get("parts") or []:
        if isinstance(part, dict) and isinstance(part.get("functionResponse"), dict):
            return dict(part["functionResponse"])
    return None


class Reply:
    """The planned answer to one model request."""

    def __init__(self) -> None:
        self.status = 200
        self.parts: list[dict[str, Any]] = []
        self.finish = True
        self.slow_seconds = 0.0
        self.slow_words: list[str] = []


def plan_reply(body: dict[str, Any]) -> Reply:
    """Decide the answer to a ``generateContent`` / ``streamGenerateContent`` body."""
    reply = Reply()
    contents = body.get("contents") or []
    result = newest_function_response(contents)
    if result is not None:
        text = R.tool_reply(str(result.get("name", "")), R.response_text(result.get("response")))
        reply.parts.append({"text": text})
        return reply
    prompts = user_prompts(contents)
    prompt = prompts[-1] if prompts else ""
    markers = R.find_markers(prompt)
    if "http500" in markers:
        reply.status = 500
        return reply
    if "tool" in markers:
        name, args = R.tool_call(markers["tool"])
        reply.parts.append({"functionCall": {"name": name, "args": args}})
        return reply
    if "thinking" in markers:
        reply.parts.append({"text": R.thought_text(prompt), "thought": True})
    final = R.plain_reply(prompt, len(prompts))
    if "slow" in markers:
        reply.slow_seconds, reply.slow_words = R.slow_words(markers["slow"])
    reply.finish = "nofinish" not in markers
    reply.parts.append({"text": final})
    return reply


def fill_schema(schema: Any) -> Any:
    """A value that fits a JSON schema (the router classifier gets score 1: "simple")."""
    if not isinstance(schema, dict):
        return None
    kind = str(schema.get("type", "")).lower()
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "user" if "user" in schema["enum"] else schema["enum"][0]
    if kind == "object" or "properties" in schema:
        return {key: fill_schema(sub) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return False
    return "stub"


def _usage(body_len: int, output_tokens: int) -> dict[str, Any]:
    prompt_tokens = max(1, body_len // 200)
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens,
    }


class _Handler(StubHandler):
    owner: GeminiStub
    server_version = "threadline-gemini-stub/1"

    def _log(self, body: Any, model: str | None, action: str | None, status: int) -> None:
        self._record(body, status, model=model, action=action)

    def _answer(self, status: int, obj: Any) -> None:
        self._send_json(status, obj, "application/json; charset=UTF-8")

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.rstrip("/") == "/v1beta/models":
            self._log(None, None, "listModels", 200)
            self._answer(200, {"models": [{"name": f"models/{R.MAIN_MODEL}", "displayName": "Stub"}]})
            return
        self._log(None, None, None, 404)
        self._answer(404, R.error_body(404))

    def do_POST(self) -> None:
        raw = self._read_body()
        path = self.path.split("?")[0]
        model, action = None, None
        if path.startswith("/v1beta/models/") and ":" in path:
            model, _, action = path[len("/v1beta/models/") :].partition(":")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._log(None, model, action, 400)
            self._answer(400, R.error_body(400))
            return
        if action == "countTokens":
            self._log(body, model, action, 200)
            self._answer(200, {"totalTokens": max(1, len(raw) // 200)})
            return
        if action not in ("generateContent", "streamGenerateContent"):
            self._log(body, model, action, 404)
            self._answer(404, R.error_body(404))
            return
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if action == "generateContent" and schema is not None:
            self._log(body, model, action, 200)
            self._answer(200, self._candidate([{"text": json.dumps(fill_schema(schema))}], len(raw), model))
            return
        if action == "generateContent" and _is_summary_request(body):
            self._log(body, model, action, 200)
            self._answer(200, self._candidate([{"text": "stub summary"}], len(raw), model))
            return
        reply = plan_reply(body)
        self._log(body, model, action, reply.status)
        if reply.status != 200:
            self._answer(reply.status, R.error_body(reply.status))
            return
        if action == "generateContent":
            parts = [{"text": "".join(reply.slow_words)}, *reply.parts] if reply.slow_words else reply.parts
            self._answer(200, self._candidate(parts, len(raw), model))
            return
        self._stream(reply, len(raw), model)

    @staticmethod
    def _candidate(parts: list[dict[str, Any]], body_len: int, model: str | None, finish: bool = True) -> Any:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model or R.MAIN_MODEL}
        if finish:
            candidate["finishReason"] = "STOP"
            out["usageMetadata"] = _usage(body_len, 1 + len(json.dumps(parts)) // 16)
        return out

    def _event(self, obj: Any) -> None:
        self._chunk(b"data: " + json.dumps(obj).encode() + b"\r\n\r\n")

    def _stream(self, reply: Reply, body_len: int, model: str | None) -> None:
        with self._sse("text/event-stream"):
            for word in reply.slow_words:
                self._event(self._candidate([{"text": word}], body_len, model, finish=False))
                self.owner.turn_started.set()
                self._pause(R.SLOW_WORD_INTERVAL)
            pieces: list[list[dict[str, Any]]] = []
            for part in reply.parts:
                if "text" in part and not part.get("thought"):
                    pieces.extend([{"text": t}] for t in split3(part["text"]) or [part["text"]])
                else:
                    pieces.append([part])
            for index, parts in enumerate(pieces):
                last = index == len(pieces) - 1
                self._event(self._candidate(parts, body_len, model, finish=last and reply.finish))
                self.owner.turn_started.set()


def _is_summary_request(body: dict[str, Any]) -> bool:
    for content in body.get("contents") or []:
        for part in (content or {}).get("parts") or []:
            if isinstance(part, dict) and "Summary (max" in str(part.get("text", "")):
                return True
    return False


class GeminiStub(StubServer):
    """The stub server. ``start()`` binds 127.0.0.1 and serves from a thread.

    ``requests`` is the log: one dict per request with ``method``, ``path``, ``model``,
    ``action`` (``streamGenerateContent``, ``generateContent``, …), ``headers`` (lower-case
    keys), ``body`` (parsed JSON or ``None``), ``status`` and ``time``.
    """

    handler = _Handler
    thread_name = "gemini-stub"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", log_path: str | None = None) -> None:
        super().__init__(port, host, log_path)
        self.turn_started = threading.Event()
        """Set when a turn's stream has sent its first chunk (await it instead of sleeping)."""

    def turn_requests(self) -> list[dict[str, Any]]:
        """The logged ``streamGenerateContent`` requests (the turns, not the router)."""
        with self._lock:
            return [e for e in self.requests if e["action"] == "streamGenerateContent"]

    def prompts(self) -> list[str]:
        """The newest prompt of each turn request that carries one (tool results left out)."""
        out = []
        for entry in self.turn_requests():
            contents = (entry["body"] or {}).get("contents") or []
            if newest_function_response(contents) is None:
                prompts = user_prompts(contents)
                if prompts:
                    out.append(prompts[-1])
        return out


def main(argv: list[str] | None = None) -> int:
    return serve_main(GeminiStub, (__doc__ or "").splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
