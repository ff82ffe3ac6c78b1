#!/usr/bin/env python3
"""A fake ``codex`` (OpenAI Codex CLI) for the fast tier: stdlib only, no network.

It behaves like ``codex exec`` of 0.171.0 (``FAKE_CODEX_VERSION=0.169.0`` for that one) on
what a session manager touches, checked against the real CLI in
``tests/real_agent/test_codex_conformance.py``:

* **Commands and flags**: ``exec [OPTIONS] [PROMPT]``, ``exec resume [OPTIONS] [ID] [PROMPT]``,
  ``exec fork [OPTIONS] ID [PROMPT]`` with ``--json``, ``--skip-git-repo-check``,
  ``-m/--model``, ``-c/--config k=v``, ``--enable/--disable``, ``-s/--sandbox`` (exec only),
  ``--dangerously-bypass-approvals-and-sandbox``, ``-o/--output-last-message``,
  ``--ephemeral``, ``-C/--cd``; ``--version``; options may follow the subcommand.
* **Errors**, worded as the real ones: an unknown flag (clap, exit 2), outside a git repo
  without ``--skip-git-repo-check``, no prompt on stdin, an unknown id for resume / fork,
  a second writer of a live thread (exit 1). A resume "id" that is not a UUID is a thread
  name; none is found, and a new thread starts (exit 0), as the real one does. Input over
  1,048,576 characters: ``thread.started``, then ``turn/start`` fails (exit 1) with nothing
  written (a new thread gets no rollout, a fork only its first two records).
* **Prompt**: ``-`` or no PROMPT: the whole of stdin, verbatim. PROMPT and a piped stdin:
  ``PROMPT\\n\\n<stdin>\\n…\\n</stdin>``.
* **Files** under ``CODEX_HOME`` (default ``~/.codex``):
  ``sessions/YYYY/MM/DD/rollout-<local time>-<UUIDv7>.jsonl`` (paginated lines with
  ``ordinal``; a resume appends, a fork starts a new file at its parent's end ordinal with
  ``forked_from_id`` / ``history_base``) and ``thread-writer-locks/<id>.lock``, flocked while
  the thread is open, removed on a clean exit, left unlocked by SIGTERM / SIGKILL.
* **stdout** (``--json``): ``thread.started`` first, ``turn.started``, ``item.started`` /
  ``item.completed``, ``turn.completed`` (usage: the thread's running total) or ``error`` +
  ``turn.failed`` (exit 1).
* **Sandbox**: ``read-only`` unless ``-s``, ``-c sandbox_mode=…`` or the bypass flag say
  otherwise; a command that writes then fails inside the tool ("Read-only file system"):
  ``codex exec`` never asks for approval (its approval policy is forced to ``never``).
* **Signals**: SIGINT before ``thread.started`` kills it (no output); between
  ``thread.started`` and the running turn it is ignored (the turn completes); mid-turn it
  writes the abort records (a ``function_call_output`` "aborted by user" mid-tool, a
  ``<turn_aborted>`` user message, ``turn_aborted``) and exits 1 with no terminal event.
  SIGTERM and SIGKILL end it where it is.

Scenario markers in the prompt are those of ``responses_stub.py``: ``[[tool:bash:CMD]]``,
``[[slow:N]]``, ``[[http500]]``, ``[[thinking]]``. ``FAKE_CODEX_DELAY_MS`` (default 20) is the
"model" latency per response, ``FAKE_CODEX_START_MS`` (default 25) the time from
``thread.started`` to the running turn.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

DEFAULT_VERSION = "0.171.0"
VERSION = os.environ.get("FAKE_CODEX_VERSION") or DEFAULT_VERSION
MARKER_RE = re.compile(r"\[\[([a-z0-9]+)(?::([^\]]*))?\]\]")
DEFAULT_BASH = "echo stub-tool-ok"
PROMPT_ECHO = 200
HIGH_DEMAND = "We\u2019re currently experiencing high demand, which may cause temporary errors."
BACKTRACE = "\nStack backtrace:\n" + "".join(f"  {n:2d}: <unknown>\n" for n in range(10))
USAGE_LINES = "Usage: codex exec [OPTIONS] [PROMPT]\n       codex exec [OPTIONS] <COMMAND> [ARGS]\n"
ENV_CONTEXT = "<environment_context>\n  <cwd>{cwd}</cwd>\n  <shell>bash</shell>\n</environment_context>"
TURN_ABORTED = (
    "<turn_aborted>\nThe user interrupted the previous turn on purpose. Any running unified exec "
    "processes may still be running in the background.\n</turn_aborted>"
)
VALUE_FLAGS = {
    "-c": "config",
    "--config": "config",
    "--enable": "enable",
    "--disable": "disable",
    "-m": "model",
    "--model": "model",
    "-o": "output_last_message",
    "--output-last-message": "output_last_message",
    "-C": "cd",
    "--cd": "cd",
    "--color": "color",
    "-p": "profile",
    "--profile": "profile",
    "--output-schema": "output_schema",
    "--thread-source": "thread_source",
}
BOOL_FLAGS = {
    "--json": "json",
    "--skip-git-repo-check": "skip_git",
    "--dangerously-bypass-approvals-and-sandbox": "bypass",
    "--ephemeral": "ephemeral",
    "--full-auto": "full_auto",
    "--ignore-user-config": "ignore_user_config",
    "--strict-config": "strict_config",
}
EXEC_ONLY = {"-s": "sandbox", "--sandbox": "sandbox"}
RESUME_ONLY = {"--last": "last", "--all": "all"}
MAX_INPUT_CHARS = 1_048_576
"""The most characters (not bytes) of input a turn takes; one more and ``turn/start`` fails."""


class Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Interrupted(Exception):
    pass


# --------------------------------------------------------------------------- arguments
def parse(argv: list[str]) -> dict[str, Any]:
    """The options, command (exec / resume / fork) and positionals, clap-style."""
    opts: dict[str, Any] = {"config": [], "positionals": [], "command": "exec"}
    i = 0
    after_dashdash = False
    while i < len(argv):
        arg = argv[i]
        i += 1
        if after_dashdash or arg == "-" or not arg.startswith("-"):
            if (
                opts["command"] == "exec"
                and not opts["positionals"]
                and arg in ("resume", "fork")
                and not after_dashdash
            ):
                opts["command"] = arg
                continue
            opts["positionals"].append(arg)
            continue
        if arg == "--":
            after_dashdash = True
            continue
        name, eq, inline = arg.partition("=")
        if name in ("-h", "--help"):
            raise Exit(0, "Run Codex non-interactively\n\n" + USAGE_LINES)
        if name in VALUE_FLAGS or (name in EXEC_ONLY and opts["command"] == "exec"):
            key = VALUE_FLAGS.get(name) or EXEC_ONLY[name]
            if eq:
                value = inline
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise Exit(2, f"error: a value is required for '{name} <VALUE>' but none was supplied\n")
            if key == "config":
                opts["config"].append(value)
            else:
                opts[key] = value
            continue
        if name in BOOL_FLAGS and not eq:
            opts[BOOL_FLAGS[name]] = True
            continue
        if name in RESUME_ONLY and opts["command"] == "resume":
            opts[RESUME_ONLY[name]] = True
            continue
        usage = USAGE_LINES if opts["command"] == "exec" else f"Usage: codex exec {opts['command']} [OPTIONS]\n"
        raise Exit(
            2,
            f"error: unexpected argument '{arg}' found\n\n  tip: to pass '{arg}' as a value, use '-- {arg}'\n\n"
            f"{usage}\nFor more information, try '--help'.\n",
        )
    return opts


def config_value(opts: dict[str, Any], home: Path, key: str) -> str | None:
    """``-c key=value`` (last wins), else ``key`` from ``config.toml``."""
    for item in reversed(opts["config"]):
        name, _, value = item.partition("=")
        if name.strip() == key:
            return value.strip().strip('"')
    try:
        import tomllib

        with open(home / "config.toml", "rb") as fh:
            value = tomllib.load(fh).get(key)
        return value if isinstance(value, str) else None
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- ids, paths
def uuid7() -> str:
    millis = int(time.time() * 1000)
    raw = bytearray(millis.to_bytes(6, "big") + random.getrandbits(80).to_bytes(10, "big"))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def find_rollout(home: Path, thread_id: str) -> Path | None:
    suffix = f"-{thread_id}.jsonl"
    for path in sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"), reverse=True):
        if path.name.endswith(suffix):
            return path
    return None


def in_git_repo(cwd: Path) -> bool:
    return any((folder / ".git").exists() for folder in (cwd, *cwd.parents))


# --------------------------------------------------------------------------- the thread
class Thread:
    """One open thread: its rollout (appended line by line) and its writer lock."""

    def __init__(self, home: Path, thread_id: str, path: Path, ordinal: int, json_out: bool) -> None:
        self.home = home
        self.id = thread_id
        self.path = path
        self.ordinal = ordinal
        self.json_out = json_out
        self.items = 0
        self.lock_path = home / "thread-writer-locks" / f"{thread_id}.lock"
        self.lock_fd: int | None = None
        self.total = [0, 0, 0, 0, 0]  # input, cached, cache write, output, reasoning
        self.responses = 0
        self.last = [0, 0, 0, 0, 0]
        self.fresh = False
        self.last_text = ""
        """A new thread: its first turn writes the base instructions and the context first."""
        self.settings: dict[str, Any] = {}

    def settings_applied(self) -> None:
        self.event("thread_settings_applied", {"thread_id": self.id, "thread_settings": self.settings})

    def lock(self, verb: str) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        (self.lock_path.parent / ".coordination.lock").touch()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise Exit(
                1,
                f"Error: thread/{verb}: thread/{verb} failed: thread {self.id} already has an active writer "
                "(code -32600)\n" + BACKTRACE,
            ) from None
        self.lock_fd = fd

    def unlock(self) -> None:
        if self.lock_fd is not None:
            self.lock_path.unlink(missing_ok=True)
            os.close(self.lock_fd)
            self.lock_fd = None

    def write(self, kind: str, payload: dict[str, Any]) -> None:
        record: dict[str, Any] = {"timestamp": now_iso(), "ordinal": self.ordinal, "type": kind, "payload": payload}
        if kind == "response_item":
            record["metadata"] = {"model_search_state": None} if VERSION >= "0.171" else {}
        self.ordinal += 1
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def event(self, kind: str, payload: dict[str, Any]) -> None:
        self.write("event_msg", {"type": kind, **payload})

    def out(self, obj: dict[str, Any]) -> None:
        if self.json_out:
            sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
            sys.stdout.flush()

    def item_id(self) -> str:
        self.items += 1
        return f"item_{self.items - 1}"

    def usage(self, input_tokens: int, output_tokens: int, count: bool = True) -> None:
        """One model response's ``token_usage_record``, then (now, or after a tool's output
        with :meth:`count`) the running total in ``token_count``."""
        self.responses += 1
        self.last = [input_tokens, 0, 0, output_tokens, 0]
        self.total = [a + b for a, b in zip(self.total, self.last, strict=True)]
        self.write(
            "token_usage_record",
            {"thread_id": self.id, "session_id": self.id, "response_id": f"resp_fake_{self.responses}"},
        )
        if count:
            self.count()

    def count(self) -> None:
        info = {"total_token_usage": _usage(self.total), "last_token_usage": _usage(self.last)}
        self.event("token_count", {"info": info})

    def stdout_usage(self) -> dict[str, int]:
        u = _usage(self.total)
        del u["total_tokens"]
        return u


def _usage(n: list[int]) -> dict[str, int]:
    return {
        "input_tokens": n[0],
        "cached_input_tokens": n[1],
        "cache_write_input_tokens": n[2],
        "output_tokens": n[3],
        "reasoning_output_tokens": n[4],
        "total_tokens": n[0] + n[3],
    }


def last_ordinal_and_totals(path: Path) -> tuple[int, list[int]]:
    ordinal, total = 0, [0, 0, 0, 0, 0]
    with open(path, "rb") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record.get("ordinal"), int):
                ordinal = record["ordinal"] + 1
            payload = record.get("payload") or {}
            if payload.get("type") == "token_count":
                t = (payload.get("info") or {}).get("total_token_usage") or {}
                total = [
                    t.get("input_tokens", 0),
                    t.get("cached_input_tokens", 0),
                    t.get("cache_write_input_tokens", 0),
                    t.get("output_tokens", 0),
                    t.get("reasoning_output_tokens", 0),
                ]
    return ordinal, total


# --------------------------------------------------------------------------- the turn
def delay(seconds: float) -> None:
    time.sleep(seconds)


WRITES_RE = re.compile(r"(^|[;&|]\s*)(touch|mkdir|rm|mv|cp|tee)\s+(\S+)|>\s*(\S+)")


def sandboxed(command: str, sandbox: str) -> subprocess.CompletedProcess[str] | None:
    """What a read-only sandbox makes of a command that writes (None: let it run).

    ``codex exec`` never asks for approval (its policy is forced to ``never``): a write the
    sandbox forbids simply fails inside the tool, as the real bubblewrap sandbox does.
    """
    if sandbox != "read-only":
        return None
    match = WRITES_RE.search(command)
    if match is None:
        return None
    if match.group(2):
        verb, target = match.group(2), match.group(3)
        message = f"{verb}: cannot touch '{target}': Read-only file system\n"
    else:
        message = f"bash: line 1: {match.group(4)}: Read-only file system\n"
    return subprocess.CompletedProcess(["bash", "-c", command], 1, "", message)


def run_turn(thread: Thread, prompt: str, cwd: Path, model: str, sandbox: str = "read-only") -> int:
    """One turn; returns the exit code (SIGINT raises :class:`Interrupted` mid-way)."""
    latency = int(os.environ.get("FAKE_CODEX_DELAY_MS", "20")) / 1000
    turn_id = uuid7()
    started = int(time.time())
    thread.event("task_started", {"turn_id": turn_id, "started_at": started, "model_context_window": 258400})
    if thread.fresh:
        developer = "<permissions instructions>fake</permissions instructions>"
        for role, text in (("developer", developer), ("user", ENV_CONTEXT.format(cwd=cwd))):
            thread.write(
                "response_item",
                {
                    "type": "message",
                    "id": f"msg_{uuid7()}",
                    "role": role,
                    "content": [{"type": "input_text", "text": text}],
                },
            )
        thread.write("world_state", {"full": True, "state": {}})
    thread.write("turn_context", {"turn_id": turn_id, "cwd": str(cwd), "approval_policy": "never", "model": model})
    if thread.fresh:
        thread.settings_applied()
    state: dict[str, Any] = {"tool": None, "armed": False, "pending": False}

    def abort(_signum: int, _frame: Any) -> None:
        if state["armed"]:
            raise Interrupted
        state["pending"] = True  # the prompt is being recorded: abort right after

    signal.signal(signal.SIGINT, abort)
    thread.out({"type": "turn.started"})
    thread.write(
        "response_item",
        {
            "type": "message",
            "id": f"msg_{uuid7()}",
            "role": "user",
            "content": [{"type": "input_text", "text": prompt}],
        },
    )
    thread.event(
        "item_completed",
        {
            "thread_id": thread.id,
            "turn_id": turn_id,
            "item": {
                "type": "UserMessage",
                "id": uuid7(),
                "content": [{"type": "text", "text": prompt, "text_elements": []}],
            },
        },
    )
    try:
        state["armed"] = True
        if state["pending"]:
            raise Interrupted
        markers = {m.group(1): m.group(2) for m in MARKER_RE.finditer(prompt)}
        state["streaming"] = True  # a model request is in flight
        delay(latency)
        if "http500" in markers:
            thread.out({"type": "error", "message": HIGH_DEMAND})
            thread.event(
                "task_complete",
                {
                    "turn_id": turn_id,
                    "last_agent_message": None,
                    "error": {"message": HIGH_DEMAND, "codex_error_info": "internal_server_error"},
                },
            )
            thread.out({"type": "turn.failed", "error": {"message": HIGH_DEMAND}})
            return 1
        if "thinking" in markers:
            text = "stub thinking about: " + prompt[:PROMPT_ECHO]
            rid = f"rs_fake_{uuid.uuid4().hex[:20]}"
            thread.event(
                "item_completed",
                {
                    "thread_id": thread.id,
                    "turn_id": turn_id,
                    "item": {"type": "Reasoning", "id": rid, "summary_text": [text], "raw_content": []},
                },
            )
            thread.write(
                "response_item",
                {
                    "type": "reasoning",
                    "id": rid,
                    "summary": [{"type": "summary_text", "text": text}],
                    "content": None,
                    "encrypted_content": None,
                },
            )
            thread.out({"type": "item.completed", "item": {"id": thread.item_id(), "type": "reasoning", "text": text}})
        reply_input = len(prompt) // 4 + 6900
        if "tool" in markers:
            command = (markers["tool"] or "bash").partition(":")[2] or DEFAULT_BASH
            call_id = f"call_fake_{uuid.uuid4().hex[:20]}"
            thread.write(
                "response_item",
                {
                    "type": "function_call",
                    "status": "completed",
                    "id": f"fc_{call_id}",
                    "name": "exec_command",
                    "arguments": json.dumps({"cmd": command}),
                    "call_id": call_id,
                },
            )
            thread.usage(reply_input, 1, count=False)
            shown = f"/bin/bash -lc {_quote(command)}"
            item = {
                "id": thread.item_id(),
                "type": "command_execution",
                "command": shown,
                "aggregated_output": "",
                "exit_code": None,
                "status": "in_progress",
            }
            began = time.monotonic()
            state["tool"] = (call_id, began, item, command)
            thread.out({"type": "item.started", "item": item})
            done = sandboxed(command, sandbox) or subprocess.run(
                ["bash", "-c", command],
                cwd=cwd,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
                start_new_session=True,  # a Ctrl-C of Codex's group reaches Codex, which ends the tool
            )
            state["tool"] = None
            output = done.stdout + done.stderr
            wall = time.monotonic() - began
            thread.event(
                "item_completed",
                {
                    "thread_id": thread.id,
                    "turn_id": turn_id,
                    "item": {
                        "type": "CommandExecution",
                        "id": call_id,
                        "command": ["/bin/bash", "-lc", command],
                        "cwd": f"file://{cwd}",
                        "aggregated_output": output,
                        "exit_code": done.returncode,
                    },
                },
            )
            result = (
                f"Chunk ID: {uuid.uuid4().hex[:6]}\nWall time: {wall:.4f} seconds\nProcess exited with code "
                f"{done.returncode}\nOriginal token count: {max(1, len(output) // 4)}\nOutput:\n{output}"
            )
            thread.write(
                "response_item",
                {"type": "function_call_output", "id": f"fco_{uuid7()}", "call_id": call_id, "output": result},
            )
            thread.count()
            thread.out(
                {
                    "type": "item.completed",
                    "item": {
                        **item,
                        "aggregated_output": output,
                        "exit_code": done.returncode,
                        "status": "completed" if done.returncode == 0 else "failed",
                    },
                }
            )
            delay(latency)
            text = "stub saw tool result: " + " ".join(result.split())[:PROMPT_ECHO]
        else:
            text = f"stub reply #{thread.responses + 1} to: {prompt[:PROMPT_ECHO]}"
            if "slow" in markers:
                try:
                    seconds = float(markers["slow"]) if markers["slow"] else 20.0
                except ValueError:
                    seconds = 20.0
                delay(max(0.0, seconds))
                count = max(1, round(max(0.0, seconds) / 0.25))
                text = "".join(f"w{i} " for i in range(count)) + text
        thread.last_text = text
        message_id = f"msg_fake_{uuid.uuid4().hex[:20]}"
        thread.event(
            "item_completed",
            {
                "thread_id": thread.id,
                "turn_id": turn_id,
                "item": {"type": "AgentMessage", "id": message_id, "content": [{"type": "Text", "text": text}]},
            },
        )
        thread.write(
            "response_item",
            {
                "type": "message",
                "status": "completed",
                "id": message_id,
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            },
        )
        thread.out({"type": "item.completed", "item": {"id": thread.item_id(), "type": "agent_message", "text": text}})
        thread.usage(reply_input + 50, max(1, len(text) // 4))
        thread.event(
            "task_complete",
            {"turn_id": turn_id, "last_agent_message": text, "started_at": started, "completed_at": int(time.time())},
        )
        thread.out({"type": "turn.completed", "usage": thread.stdout_usage()})
        return 0
    except Interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        tool = state["tool"]
        if tool is None and state.get("streaming"):
            # A cut stream leaves a count without usage (only the rate limits), as the real one.
            thread.event("token_count", {"info": None, "rate_limits": {"limit_id": "codex", "primary": None}})
        if tool is not None:
            call_id, began, _item, _command = tool
            thread.write(
                "response_item",
                {
                    "type": "function_call_output",
                    "id": f"fco_{uuid7()}",
                    "call_id": call_id,
                    "output": f"Wall time: {time.monotonic() - began:.1f} seconds\naborted by user",
                },
            )
            thread.count()
        thread.write(
            "response_item",
            {
                "type": "message",
                "id": f"msg_{uuid7()}",
                "role": "user",
                "content": [{"type": "input_text", "text": TURN_ABORTED}],
            },
        )
        thread.event("turn_aborted", {"turn_id": turn_id, "reason": "interrupted", "started_at": started})
        if tool is not None:
            item = {
                "type": "CommandExecution",
                "id": tool[0],
                "command": ["/bin/bash", "-lc", tool[3]],
                "exit_code": None,
            }
            thread.event("item_completed", {"thread_id": thread.id, "turn_id": turn_id, "item": item})
        return 1


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------- main
def refuse_if_too_large(thread: Thread, prompt: str) -> None:
    """As the real one: the thread opened (``thread.started`` printed), the turn refused, exit 1."""
    if len(prompt) <= MAX_INPUT_CHARS:
        return
    thread.unlock()
    raise Exit(
        1,
        f"Error: turn/start: turn/start failed: Input exceeds the maximum length of {MAX_INPUT_CHARS} characters. "
        f'(code -32602), data: {{"input_error_code":"input_too_large","max_chars":{MAX_INPUT_CHARS},'
        f'"actual_chars":{len(prompt)}}}\n' + BACKTRACE,
    )


def read_prompt(positional: str | None) -> str:
    if positional is not None and positional != "-":
        if sys.stdin is None or sys.stdin.isatty():
            return positional
        sys.stderr.write("Reading additional input from stdin...\n")
        extra = sys.stdin.buffer.read().decode("utf-8", "replace")
        return f"{positional}\n\n<stdin>\n{extra}\n</stdin>" if extra else positional
    if positional is None:
        sys.stderr.write("Reading prompt from stdin...\n")
    data = b"" if sys.stdin is None else sys.stdin.buffer.read()
    text = data.decode("utf-8", "replace")
    if not text.strip():
        raise Exit(1, "No prompt provided via stdin.\n")
    return text


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # before the thread opens, a Ctrl-C just kills it
    if argv[:1] in (["--version"], ["-V"]):
        sys.stdout.write(f"codex-cli {VERSION}\n")
        return 0
    if not argv or argv[0] not in ("exec", "e"):
        raise Exit(2, "error: the fake codex only implements `codex exec`\n")
    opts = parse(argv[1:])
    home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
    cwd = Path(opts["cd"]).resolve() if opts.get("cd") else Path.cwd()
    if not opts.get("skip_git") and not in_git_repo(cwd):
        raise Exit(1, "Not inside a trusted directory and --skip-git-repo-check was not specified.\n")
    positionals: list[str] = opts["positionals"]
    command = opts["command"]
    target: str | None = None
    if command in ("resume", "fork"):
        if command == "fork" and not positionals:
            raise Exit(2, "error: the following required arguments were not provided:\n  <SESSION_ID>\n")
        target = positionals.pop(0) if positionals else None
    prompt = read_prompt(positionals[0] if positionals else None)
    model = opts.get("model") or config_value(opts, home, "model") or "gpt-5.5"
    provider = config_value(opts, home, "model_provider") or "openai"
    json_out = bool(opts.get("json"))
    parent: Path | None = None
    if target is not None:
        try:
            uuid.UUID(target)
            is_uuid = True
        except ValueError:
            is_uuid = False
        parent = find_rollout(home, target.lower()) if is_uuid else None
        if parent is None and (is_uuid or command == "fork"):
            raise Exit(
                1,
                f"Error: thread/{command}: thread/{command} failed: no rollout found for thread id {target} "
                "(code -32600)\n" + BACKTRACE,
            )
    if command == "resume" and parent is not None:
        ordinal, total = last_ordinal_and_totals(parent)
        thread = Thread(home, str(target).lower(), parent, ordinal, json_out)
        thread.settings = {"model": model, "model_provider_id": provider, "cwd": str(cwd)}
        thread.total = total
        thread.lock("resume")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the turn runs, as the real one
        thread.out({"type": "thread.started", "thread_id": thread.id})
        refuse_if_too_large(thread, prompt)  # before anything is written
        thread.settings_applied()
    else:
        thread_id = uuid7()
        local = time.localtime()
        folder = home / "sessions" / time.strftime("%Y/%m/%d", local)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"rollout-{time.strftime('%Y-%m-%dT%H-%M-%S', local)}-{thread_id}.jsonl"
        meta: dict[str, Any] = {"session_id": thread_id, "id": thread_id}
        ordinal = 0
        totals = [0, 0, 0, 0, 0]
        if command == "fork" and parent is not None:
            ordinal, totals = last_ordinal_and_totals(parent)
            meta.update(
                {
                    "forked_from_id": target,
                    "forked_from_ordinal_exclusive": ordinal,
                    "history_base": {
                        "thread_id": target,
                        "end_ordinal_exclusive": ordinal,
                        "end_byte_offset": parent.stat().st_size,
                    },
                }
            )
        thread = Thread(home, thread_id, path, ordinal, json_out)
        thread.settings = {"model": model, "model_provider_id": provider, "cwd": str(cwd)}
        thread.total = totals
        thread.lock("start")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the turn runs, as the real one
        thread.out({"type": "thread.started", "thread_id": thread_id})
        if command != "fork":
            refuse_if_too_large(thread, prompt)  # a new thread: no rollout at all
        if opts.get("ephemeral"):
            thread.path = Path(os.devnull)
        meta.update(
            {
                "timestamp": now_iso(),
                "cwd": str(cwd),
                "originator": "codex_exec",
                "cli_version": VERSION,
                "source": "exec",
                "thread_source": "user",
                "model_provider": provider,
                "base_instructions": {"text": "You are Codex (fake)."},
                "history_mode": "paginated",
            }
        )
        thread.write("session_meta", meta)
        if command == "fork":
            thread.settings_applied()
            refuse_if_too_large(thread, prompt)  # a fork keeps its first two records
            thread.settings_applied()
        else:
            thread.fresh = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if opts.get("bypass"):
        sandbox = "danger-full-access"
    else:
        sandbox = opts.get("sandbox") or config_value(opts, home, "sandbox_mode") or "read-only"
    # The real one starts the turn 20-50 ms after thread.started; a SIGINT meanwhile is ignored.
    time.sleep(int(os.environ.get("FAKE_CODEX_START_MS", "25")) / 1000)
    code = run_turn(thread, prompt, cwd, model, sandbox)
    thread.unlock()
    if opts.get("output_last_message") and code == 0:
        Path(opts["output_last_message"]).write_text(thread.last_text, encoding="utf-8")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exit as exc:
        (sys.stdout if exc.code == 0 else sys.stderr).write(exc.message)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        sys.exit(130)
