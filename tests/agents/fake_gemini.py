#!/usr/bin/env python3
"""A fake ``gemini`` (Gemini CLI 0.61.0) for the fast tier: stdlib only, no network.

It behaves like the real CLI run headless against ``gemini_stub.py`` on what a session
manager touches (see tests/agents/README.md): the flags and their errors and exit codes, the
prompt from stdin (plus ``-p``), the chat files under ``$GEMINI_CLI_HOME/.gemini`` (else
``$HOME``) with the records the real one writes (header, session context, upserts, ``$set``),
a resume's rewrite of the history and its stray header file, the ``stream-json`` / ``json`` /
``text`` stdout, HTTP 500 and tool turns, and signals (SIGINT / SIGTERM: exit 0 and no
``result``; SIGKILL: what was written stays). Replies come from :mod:`gemini_replies`, the
same as the stub's, so one prompt drives the fake and the real CLI alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gemini_replies as R  # noqa: E402

VERSION = "0.61.0"
HELP = (HERE / "gemini_help.txt").read_text(encoding="utf-8")
CONTEXT_ID = "d04923d38bb0f6017037e74183378ef4"
MAX_STDIN = 8 * 1024 * 1024
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
STDERR_BANNER = (
    "Warning: 256-color support not detected. Using a terminal with at least 256-color support"
    " is recommended for a better visual experience.\n"
)

ALLOWED_TOOLS_WARNING = (
    "Warning: --allowed-tools cli argument and tools.allowed in settings.json are deprecated and will be removed"
    " in 1.0: Migrate to Policy Engine: https://geminicli.com/docs/core/policy-engine/\n"
)

BOOL_FLAGS = {
    "-d": "debug", "--debug": "debug", "--skip-trust": "skip_trust", "-y": "yolo", "--yolo": "yolo",
    "--list-sessions": "list_sessions", "-v": "version", "--version": "version", "-h": "help",
    "--help": "help", "-s": "sandbox", "--sandbox": "sandbox", "--screen-reader": "screen_reader",
    "--raw-output": "raw_output", "--accept-raw-output-risk": "accept_raw",
}  # fmt: skip
VALUE_FLAGS = {
    "-p": "prompt", "--prompt": "prompt", "-m": "model", "--model": "model", "-o": "output_format",
    "--output-format": "output_format", "-r": "resume", "--resume": "resume", "--session-id": "session_id",
    "--approval-mode": "approval_mode", "--session-file": "session_file", "--delete-session": "delete_session",
    "-i": "prompt_interactive", "--prompt-interactive": "prompt_interactive",
}  # fmt: skip
ARRAY_FLAGS = {
    "--allowed-tools": "allowed_tools", "--include-directories": "include_directories",
    "-e": "extensions", "--extensions": "extensions", "--policy": "policy",
}  # fmt: skip
CHOICES = {"output_format": ("text", "json", "stream-json"), "approval_mode": ("default", "auto_edit", "yolo", "plan")}


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def fail(message: str, code: int = 1, with_help: bool = False) -> NoReturn:
    sys.stderr.write(message + "\n" + (HELP if with_help else ""))
    sys.stderr.flush()
    os._exit(code)


# --------------------------------------------------------------------------- arguments
def parse(argv: list[str]) -> dict[str, Any]:
    """yargs-like: ``--flag value`` and ``--flag=value``; unknown options are errors."""
    args: dict[str, Any] = {"query": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in BOOL_FLAGS:
            args[BOOL_FLAGS[name]] = True
        elif name in VALUE_FLAGS:
            key = VALUE_FLAGS[name]
            if eq:
                value = inline
            elif i + 1 < len(argv) and not (argv[i + 1].startswith("-") and len(argv[i + 1]) > 1):
                i += 1
                value = argv[i]
            else:
                value = ""
            if key in CHOICES and value not in CHOICES[key]:
                choices = ", ".join(f'"{c}"' for c in CHOICES[key])
                fail(f'Invalid values:\n  Argument: {name.lstrip("-")}, Given: "{value}", Choices: {choices}', 1, True)
            args[key] = value
        elif name in ARRAY_FLAGS:
            values = [inline] if eq else []
            while not eq and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                values.append(argv[i])
            args.setdefault(ARRAY_FLAGS[name], []).extend(v for part in values for v in part.split(","))
        elif arg.startswith("-") and len(arg) > 1:
            fail(f"Unknown argument: {arg.lstrip('-').split('=')[0]}", 1, True)
        else:
            args["query"].append(arg)
        i += 1
    given = [k for k in ("resume", "session_id", "session_file") if k in args]
    if len(given) > 1:
        fail("The flags --resume, --session-id, and --session-file are mutually exclusive. Please provide only one.", 1)
    if "session_id" in args and not SESSION_ID_RE.fullmatch(args["session_id"] or ""):
        fail(
            f'Invalid session ID "{args["session_id"]}": Only alphanumeric characters, dashes, and'
            " underscores are allowed.",
            1,
            True,
        )
    return args


def read_stdin() -> str:
    """Like Gemini's ``readStdin``: give up when nothing arrives within 500 ms, cap at 8 MiB."""
    if sys.stdin is None or sys.stdin.isatty():
        return ""
    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], 0.5)
    if not ready:
        return ""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_STDIN:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:MAX_STDIN].decode("utf-8", "replace")


# --------------------------------------------------------------------------- files
def slugify(root: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", os.path.basename(root.rstrip("/")).lower()).strip("-")
    return slug or "project"


class Store:
    """``<home>/.gemini``: projects.json, tmp/<slug>/chats, the project markers."""

    def __init__(self, cwd: str) -> None:
        home = os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~")
        self.dir = Path(home) / ".gemini"
        self.root = cwd
        registry = self.dir / "projects.json"
        try:
            projects = json.loads(registry.read_text(encoding="utf-8")).get("projects", {})
        except (OSError, ValueError):
            projects = {}
        slug = projects.get(cwd)
        if slug is None:
            base, taken, n = slugify(cwd), set(projects.values()), 0
            slug = base
            while slug in taken:
                n += 1
                slug = f"{base}-{n}"
            projects[cwd] = slug
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = registry.with_suffix(".json.tmp")
            tmp.write_text(json.dumps({"projects": projects}, indent=2), encoding="utf-8")
            os.replace(tmp, registry)
        self.slug = slug
        self.chats = self.dir / "tmp" / slug / "chats"
        for marker_dir in (self.dir / "tmp" / slug, self.dir / "history" / slug):
            marker_dir.mkdir(parents=True, exist_ok=True)
            (marker_dir / ".project_root").write_text(cwd, encoding="utf-8")

    def chat_path(self, session_id: str) -> Path:
        minute = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M")
        return self.chats / f"session-{minute}-{session_id[:8]}.jsonl"

    def find(self, session_id: str) -> tuple[Path, dict[str, Any]] | None:
        """The chat holding ``session_id`` with the most messages (a stray header is skipped)."""
        best: tuple[int, Path, dict[str, Any]] | None = None
        for path in sorted(self.chats.glob(f"session-*-{session_id[:8]}.jsonl")):
            state = load(path)
            if state["meta"].get("sessionId") == session_id:
                count = len(state["messages"])
                if best is None or count > best[0]:
                    best = (count, path, state)
        return None if best is None else (best[1], best[2])

    def sessions(self) -> list[tuple[Path, dict[str, Any]]]:
        out = []
        for path in sorted(self.chats.glob("session-*.jsonl")):
            state = load(path)
            if has_prompt(state):
                out.append((path, state))
        return sorted(out, key=lambda item: str(item[1]["meta"].get("startTime", "")))


def has_prompt(state: dict[str, Any]) -> bool:
    return any(m.get("type") == "user" and m.get("id") != CONTEXT_ID for m in state["messages"])


def load(path: Path) -> dict[str, Any]:
    """Apply a chat's records as Gemini's loader does."""
    meta: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "$set" in record:
            patch = dict(record["$set"])
            if isinstance(patch.get("messages"), list):
                messages = list(patch.pop("messages"))
            meta.update(patch)
        elif "$rewindTo" in record:
            ids = [m.get("id") for m in messages]
            if record["$rewindTo"] in ids:
                messages = messages[: ids.index(record["$rewindTo"])]
        elif isinstance(record.get("id"), str):
            ids = [m.get("id") for m in messages]
            if record["id"] in ids:
                messages[ids.index(record["id"])] = record
            else:
                messages.append(record)
        else:
            meta.update(record)
    return {"meta": meta, "messages": messages}


class Chat:
    """One chat file, appended a line per ``write()`` (as Gemini's recorder does)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))

    def stamp(self) -> None:
        self.write({"$set": {"lastUpdated": now()}})


def context_message(store: Store) -> dict[str, Any]:
    today = dt.datetime.now().strftime("%A, %B %-d, %Y")
    text = (
        f"{R.SESSION_CONTEXT}\nThis is the Gemini CLI. We are setting up the context for our chat.\n"
        f"Today's date is {today} (formatted according to the user's locale).\nMy operating system is: linux\n"
        f"The project's temporary directory is: {store.dir / 'tmp' / store.slug}\n- **Workspace Directories:**\n"
        f"  - {store.root}\n- **Directory Structure:**\n\nShowing up to 200 items (files + folders).\n\n"
        f"{store.root}/\n\n\n\n</session_context>"
    )
    return {"id": CONTEXT_ID, "timestamp": now(), "type": "user", "content": [{"text": text}]}


def start_recording(chat: Chat, store: Store, session_id: str) -> None:
    stamp = now()
    chat.write(
        {
            "sessionId": session_id,
            "projectHash": hashlib.sha256(store.root.encode()).hexdigest(),
            "startTime": stamp,
            "lastUpdated": stamp,
            "kind": "main",
        }
    )
    chat.write({"$set": {"messages": [context_message(store)], "lastUpdated": now()}})


# --------------------------------------------------------------------------- output
class Out:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.lock = threading.Lock()

    def event(self, obj: dict[str, Any]) -> None:
        if self.fmt != "stream-json":
            return
        line = json.dumps({"type": obj.pop("type"), "timestamp": now(), **obj}, ensure_ascii=False)
        with self.lock:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                # Gemini exits 0 at once when its stdout has no reader left: the turn ends
                # unfinished, the chat as far as it got.
                os._exit(0)


def stats(model: str, input_tokens: int, output_tokens: int, tool_calls: int, ms: int) -> dict[str, Any]:
    total = {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached": 0,
        "input": input_tokens,
    }
    return {**total, "duration_ms": ms, "tool_calls": tool_calls, "models": {model: dict(total)}}


# --------------------------------------------------------------------------- tools
def list_directory(cwd: str, dir_path: str) -> str:
    target = os.path.normpath(os.path.join(cwd, dir_path))
    try:
        names = sorted(os.listdir(target))
    except OSError as exc:
        return f"Error listing directory: {exc.strerror}"
    if not names:
        return f"Directory {target} is empty."
    lines = [
        f"[DIR] {n}"
        if os.path.isdir(os.path.join(target, n))
        else f"{n} ({os.path.getsize(os.path.join(target, n))} bytes)"
        for n in names
    ]
    return f"Directory listing for {target}:\n" + "\n".join(lines)


def shell_allowed(command: str, allowed: list[str]) -> bool | None:
    """Whether ``--allowed-tools`` lets a shell command run: None when no rule names the shell
    tool (it is not registered), False when the rules do not cover every command of it
    (denied by policy). ``run_shell_command(echo hi)`` covers ``echo hi there``, not
    ``echo hi-there`` nor ``echo hi; touch x``."""
    rules = [r for r in allowed if r == SHELL or (r.startswith(SHELL + "(") and r.endswith(")"))]
    if not rules:
        return None
    if SHELL in rules:
        return True
    prefixes = [r[len(SHELL) + 1 : -1].split() for r in rules]
    parts = [p.split() for p in re.split(r"&&|\|\||[;|&\n]", command) if p.strip()]
    return bool(parts) and all(any(words[: len(pre)] == pre for pre in prefixes if pre) for words in parts)


SHELL = "run_shell_command"
NOT_REGISTERED = f'Tool "{SHELL}" not found. Did you mean one of: "update_topic", "grep_search", "invoke_agent"?'
DENIED_BY_POLICY = "Tool execution denied by policy."


def run_tool(
    name: str, args: dict[str, Any], cwd: str, yolo: bool, allowed: list[str]
) -> tuple[str, str, dict[str, Any] | None]:
    """``(display, output, error)`` as the real CLI reports a tool run headless: what its
    ``tool_result`` event shows, what goes back to the model (and into the chat), the error."""
    if name == SHELL:
        verdict = True if yolo else shell_allowed(str(args.get("command", "")), allowed)
        if verdict is None:
            return NOT_REGISTERED, NOT_REGISTERED, {"type": "tool_not_registered", "message": NOT_REGISTERED}
        if verdict is False:
            return DENIED_BY_POLICY, DENIED_BY_POLICY, {"type": "policy_violation", "message": DENIED_BY_POLICY}
        done = subprocess.Popen(
            ["bash", "-c", str(args.get("command", ""))],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        display = (done.communicate()[0] or "").strip()
        output = f"Output: {display or '(empty)'}"
        if done.returncode:
            output += f"\nExit Code: {done.returncode}"
        output = f"<untrusted_context>\n{output}\nProcess Group PGID: {done.pid}\n</untrusted_context>"
        return display, output, None
    listing = list_directory(cwd, str(args.get("dir_path", ".")))
    return listing, listing, None


# --------------------------------------------------------------------------- the turn
class Turn:
    def __init__(self, args: dict[str, Any], prompt: str, cwd: str) -> None:
        self.args = args
        self.prompt = prompt
        self.cwd = cwd
        self.out = Out(args.get("output_format") or "text")
        self.model_arg = args.get("model") or "auto"
        self.model = args.get("model") or R.MAIN_MODEL
        self.yolo = bool(args.get("yolo")) or args.get("approval_mode") == "yolo"
        self.input_tokens = 0
        self.output_tokens = 0
        self.tool_calls = 0
        self.reply_text = ""
        self.started = time.monotonic()
        self.delay = float(os.environ.get("FAKE_GEMINI_DELAY_MS", "0")) / 1000

    def run(self) -> int:
        store = Store(self.cwd)
        resume = self.args.get("resume")
        if resume is not None:
            found = store.find(resume) if resume else None
            if found is not None and not has_prompt(found[1]):
                found = None  # like Gemini: a chat without a prompt (its only turn failed) is no session
            if found is None and not store.sessions():
                fail("Error resuming session: No previous sessions found for this project.", 42)
            if found is None:
                fail(
                    f'Error resuming session: Invalid session identifier "{resume}".\n'
                    f"  Searched for sessions in {store.chats}.\n  Use --list-sessions to see available sessions, "
                    "then use --resume {number}, --resume {uuid}, or --resume latest.",
                    42,
                )
            path, state = found
            session_id = resume
            stray = store.chat_path(session_id)
            if stray != path:
                start_recording(Chat(stray), store, session_id)
            chat = Chat(path)
            if stray == path:
                start_recording(chat, store, session_id)
            chat.write({"$set": {"sessionId": session_id}})
            kept = [r for m in state["messages"] if m.get("id") != CONTEXT_ID for r in rewrite(m)]
            history = [context_message(store), *kept]
            chat.write({"$set": {"messages": history, "lastUpdated": now()}})
            prior = [m for m in state["messages"] if m.get("type") == "user" and is_prompt(m)]
        else:
            session_id = self.args.get("session_id") or str(uuid.uuid4())
            if "session_id" in self.args and store.find(session_id) is not None:
                fail(
                    f'Error starting session: Session ID "{session_id}" already exists. Use --resume to resume'
                    " it, or provide a different ID.",
                    42,
                )
            time.sleep(self.delay)
            chat = Chat(store.chat_path(session_id))
            start_recording(chat, store, session_id)
            history = [context_message(store)]
            prior = []
        self.out.event({"type": "init", "session_id": session_id, "model": self.model_arg})
        self.out.event({"type": "message", "role": "user", "content": self.prompt})
        user = {"id": str(uuid.uuid4()), "timestamp": now(), "type": "user", "content": [{"text": self.prompt}]}
        chat.write(user)
        chat.stamp()
        self.history = [*history, user]
        self.session_id = session_id
        return self.answer(chat, len(prior) + 1)

    def answer(self, chat: Chat, turn: int) -> int:
        markers = R.find_markers(self.prompt)
        if "hang" in markers:
            threading.Event().wait()
        if "http500" in markers:
            return self.failed(chat, 500)
        if "tool" in markers:
            name, tool_args = R.tool_call(markers["tool"])
            reply_id = str(uuid.uuid4())
            tokens = self.tokens(5)
            message = {
                "id": reply_id,
                "timestamp": now(),
                "type": "gemini",
                "content": "",
                "thoughts": [],
                "tokens": tokens,
                "model": self.model,
            }
            call_id = f"{name}__{name}_{int(time.time() * 1000)}_0"
            self.out.event({"type": "tool_use", "tool_name": name, "tool_id": call_id, "parameters": tool_args})
            chat.write(message)
            chat.stamp()
            display, output, error = run_tool(name, tool_args, self.cwd, self.yolo, self.args.get("allowed_tools", []))
            response = {"error": output} if error else {"output": output}
            function_response = {"functionResponse": {"id": call_id, "name": name, "response": response}}
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_id": call_id,
                "status": "error" if error else "success",
            }
            result["output"] = display
            if error:
                result["error"] = error
            self.out.event(result)
            call = {
                "id": call_id,
                "name": name,
                "args": tool_args,
                "result": [function_response],
                "status": "error" if error else "success",
                "timestamp": now(),
                "resultDisplay": display,
                "description": json.dumps(tool_args),
                "displayName": "Shell" if name == "run_shell_command" else "ReadFolder",
                "renderOutputAsMarkdown": name != "run_shell_command",
            }
            chat.write({**message, "toolCalls": [call]})
            if error:
                sys.stderr.write(f"Error executing tool {name}: {output}\n")
            chat.write({"id": str(uuid.uuid4()), "timestamp": now(), "type": "user", "content": [function_response]})
            chat.stamp()
            self.tool_calls += 1
            return self.reply(chat, R.tool_reply(name, R.response_text(response)))
        text = R.plain_reply(self.prompt, turn)
        if "slow" in markers:
            _, words = R.slow_words(markers["slow"])
            for word in words:
                self.out.event({"type": "message", "role": "assistant", "content": word, "delta": True})
                self.reply_text += word
                time.sleep(R.SLOW_WORD_INTERVAL)
        if "nofinish" in markers:
            self.out.event({"type": "message", "role": "assistant", "content": text, "delta": True})
            self.out.event(
                {"type": "error", "severity": "error", "message": "Model stream ended without a finish reason."}
            )
            self.finish("error", {"type": "unknown", "message": "Model stream ended without a finish reason."})
            return 0
        thoughts = []
        if "thinking" in markers:
            description = f"thinking about: {R.quote(self.prompt)}"
            thoughts.append({"subject": R.THOUGHT_SUBJECT, "description": description, "timestamp": now()})
        return self.reply(chat, self.reply_text + text, thoughts)

    def tokens(self, output: int) -> dict[str, int]:
        size = sum(len(json.dumps(m)) for m in self.history)
        prompt_tokens = max(1, size // 200)
        self.input_tokens += prompt_tokens
        self.output_tokens += output
        return {
            "input": prompt_tokens,
            "output": output,
            "cached": 0,
            "thoughts": 0,
            "tool": 0,
            "total": prompt_tokens + output,
        }

    def reply(self, chat: Chat, text: str, thoughts: list[dict[str, Any]] | None = None) -> int:
        streamed = self.reply_text
        rest = text[len(streamed) :] if streamed and text.startswith(streamed) else text
        for piece in split3(rest):
            self.out.event({"type": "message", "role": "assistant", "content": piece, "delta": True})
        self.reply_text = text
        message = {
            "id": str(uuid.uuid4()),
            "timestamp": now(),
            "type": "gemini",
            "content": text,
            "thoughts": thoughts or [],
            "tokens": self.tokens(1 + len(text) // 16),
            "model": self.model,
        }
        chat.write(message)
        chat.stamp()
        self.finish("success")
        return 0

    def failed(self, chat: Chat, status: int) -> int:
        body = json.dumps(R.error_body(status))
        sys.stderr.write(f"Error when talking to Gemini API ApiError: {body}\n")
        chat.write({"$set": {"messages": self.history[:-1], "lastUpdated": now()}})
        self.finish("error", {"type": "unknown", "message": f"[API Error: {body}]"})
        return status % 256

    def finish(self, status: str, error: dict[str, Any] | None = None) -> None:
        ms = int((time.monotonic() - self.started) * 1000)
        result: dict[str, Any] = {"type": "result", "status": status}
        if error:
            result["error"] = error
        result["stats"] = stats(self.model, self.input_tokens, self.output_tokens, self.tool_calls, ms)
        fmt = self.out.fmt
        if fmt == "stream-json":
            self.out.event(result)
        elif fmt == "json":
            obj: dict[str, Any] = {"session_id": self.session_id, "response": self.reply_text}
            if error:
                obj["error"] = {**error, "code": 1}
            sys.stdout.write(json.dumps(obj, indent=2) + "\n")
        elif status == "success":
            sys.stdout.write(self.reply_text + "\n")
        sys.stdout.flush()


def is_prompt(message: dict[str, Any]) -> bool:
    parts = message.get("content") if isinstance(message.get("content"), list) else []
    texts = [p.get("text") for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return bool(texts) and not texts[0].startswith((R.SESSION_CONTEXT, "System: "))


def rewrite(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message as a resume's history rewrite holds it: content as parts, no tokens; a reply's
    tool calls become ``functionCall`` parts, followed by a ``<id>_response`` copy of their
    results (before the original result message, which stays)."""
    out: dict[str, Any] = {"id": message.get("id"), "timestamp": now(), "type": message.get("type")}
    content = message.get("content")
    if message.get("type") != "gemini":
        return [{**out, "content": content}]
    parts = (
        [{"text": content}]
        if isinstance(content, str) and content
        else list(content or [])
        if isinstance(content, list)
        else []
    )
    calls = [c for c in message.get("toolCalls") or [] if isinstance(c, dict)]
    parts += [{"functionCall": {"id": c.get("id"), "name": c.get("name"), "args": c.get("args")}} for c in calls]
    if not parts:
        return []
    rewritten = [{**out, "content": parts}]
    if calls:
        results = [r for c in calls for r in c.get("result") or []]
        rewritten.append(
            {"id": f"{message.get('id')}_response", "timestamp": out["timestamp"], "type": "user", "content": results}
        )
    return rewritten


def split3(text: str) -> list[str]:
    if len(text) < 3:
        return [text] if text else []
    a, b = len(text) // 3, 2 * len(text) // 3
    return [text[:a], text[a:b], text[b:]]


def list_sessions(cwd: str) -> int:
    sessions = Store(cwd).sessions()
    if not sessions:
        sys.stdout.write("No previous sessions found for this project.\n")
        return 0
    sys.stdout.write(f"\nAvailable sessions for this project ({len(sessions)}):\n")
    for n, (_, state) in enumerate(sessions, 1):
        title = state["meta"].get("summary") or next(
            (p["content"][0]["text"] for p in state["messages"] if p.get("type") == "user" and is_prompt(p)), ""
        )
        sys.stdout.write(f"  {n}. {title} (Just now) [{state['meta'].get('sessionId')}]\n")
    return 0


def on_signal(signum: int, frame: object) -> None:
    """Gemini on SIGINT / SIGTERM headless: stops the turn, exits 0, no ``result``."""
    sys.stdout.flush()
    os._exit(0)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    args = parse(argv)
    if args.get("version"):
        sys.stdout.write(VERSION + "\n")
        return 0
    if args.get("help"):
        sys.stdout.write(HELP)
        return 0
    sys.stderr.write(STDERR_BANNER)
    if args.get("allowed_tools"):
        sys.stderr.write(ALLOWED_TOOLS_WARNING)
    cwd = os.getcwd()
    if args.get("list_sessions"):
        return list_sessions(cwd)
    if not args.get("skip_trust") and os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") != "true":
        fail(
            "Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`, set the"
            " `GEMINI_CLI_TRUST_WORKSPACE=true` environment variable, or trust this directory in interactive mode."
            " For more details, see https://geminicli.com/docs/cli/trusted-folders/#headless-and-automated-environments",
            55,
        )
    if not os.environ.get("GEMINI_API_KEY"):
        fail(
            "Please set an Auth method in your settings.json or specify one of the following environment variables"
            " before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA",
            41,
        )
    prompt = args.get("prompt") or " ".join(args["query"])
    stdin = read_stdin()
    if stdin:
        prompt = f"{stdin}\n\n{prompt}" if prompt else stdin
    if not prompt:
        fail(
            "No input provided via stdin. Input can be provided by piping data into gemini or using the --prompt"
            " option.",
            42,
        )
    return Turn(args, prompt, cwd).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
