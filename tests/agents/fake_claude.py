#!/usr/bin/env python3
"""A fake ``claude`` (Claude Code CLI) for tests: stdlib only, fast, no network.

It behaves like the real CLI on everything a session manager touches, as observed on
2.1.197 (the default) and, with ``FAKE_CLAUDE_VERSION=2.1.329``, approximately like
2.1.329: the flags and their error messages, the prompt read verbatim from stdin, the
transcript ``<config>/projects/<encoded cwd>/<session id>.jsonl`` written in batches
with the real record types and fields, the live-process registry
``<config>/sessions/<pid>.json``, the stdout ``stream-json`` events, exit codes and
signal handling. Replies are decided by markers in the prompt, the same ones the
Messages-API stub (``messages_stub.py``) understands, so one scenario runs on the fake
and on the real CLI. See ``README.md`` next to this file.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import signal
import string
import sys
import time
import uuid

# The fake answers as if the loopback Messages-API stub had replied: the same texts and blocks
# (replies.py is stdlib-only and tiny, so the fake stays fast to start).
try:
    from tests.agents.replies import TOOL_TEXT, thinking_block, tool_use_block
except ImportError:  # run as a script: this file's folder is first on sys.path
    from replies import TOOL_TEXT, thinking_block, tool_use_block  # type: ignore[no-redef]

DEFAULT_VERSION = "2.1.197"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MARKER_RE = re.compile(r"\[\[([a-z0-9-]+)(?::([^\]]*))?\]\]")

DEFAULT_SLOW_SECONDS = 20.0
SLOW_WORD_INTERVAL = 0.25
CONTINUE_TEXT = "Continue from where you left off."
NO_RESPONSE_TEXT = "No response requested."
INTERRUPTED_TEXT = "[Request interrupted by user]"

TOOLS = [
    "Task",
    "Bash",
    "CronCreate",
    "CronDelete",
    "CronList",
    "Edit",
    "EnterWorktree",
    "ExitWorktree",
    "NotebookEdit",
    "Read",
    "ReportFindings",
    "ScheduleWakeup",
    "SendMessage",
    "Skill",
    "TaskCreate",
    "TaskGet",
    "TaskList",
    "TaskOutput",
    "TaskStop",
    "TaskUpdate",
    "WebFetch",
    "WebSearch",
    "Workflow",
    "Write",
]
SKILLS = [
    "deep-research",
    "update-config",
    "verify",
    "debug",
    "code-review",
    "simplify",
    "batch",
    "fewer-permission-prompts",
    "loop",
    "claude-api",
    "run",
    "run-skill-generator",
]
SLASH_COMMANDS = [
    *SKILLS,
    "clear",
    "compact",
    "config",
    "context",
    "heapdump",
    "init",
    "reload-skills",
    "review",
    "security-review",
    "usage",
    "insights",
    "goal",
    "team-onboarding",
]
AGENTS = ["claude", "Explore", "general-purpose", "Plan", "statusline-setup"]
PERMISSION_MODES = ["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"]
# 2.1.3xx lists "manual" where "default" was (and still accepts "default")
PERMISSION_MODES_329 = ["acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan"]

READ_ONLY_COMMANDS = {
    "echo",
    "printf",
    "ls",
    "cat",
    "pwd",
    "head",
    "tail",
    "wc",
    "grep",
    "true",
    "date",
    "whoami",
    "which",
    "basename",
    "dirname",
    "realpath",
    "stat",
    "sort",
    "uniq",
    "diff",
    "file",
    "id",
}
EDIT_COMMANDS = {"touch": "create or modify files", "mkdir": "create directories"}
QUIET_COMMANDS = {"touch", "mkdir", "rm", "rmdir", "mv", "cp", "chmod", "ln", "cd"}
SHELL_META = set(";&|`$<>(){}")


# --------------------------------------------------------------------------- helpers
def encode_project_dir(path: str) -> str:
    """Claude Code's project folder name for ``path`` (the physical cwd).

    Every non-alphanumeric UTF-16 code unit becomes ``-``; a name over 200 characters is
    cut to 200 and suffixed with ``-`` and base36 of the absolute Java ``String.hashCode``.
    """
    units = path.encode("utf-16-le", "surrogatepass")
    codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    out = "".join(chr(c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else "-" for c in codes)
    if len(out) <= 200:
        return out
    h = 0
    for c in codes:
        h = (h * 31 + c) & 0xFFFFFFFF
    if h >= 0x80000000:
        h -= 0x100000000
    return out[:200] + "-" + _base36(abs(h))


def _base36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    if n == 0:
        return "0"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def is_v329(version: str) -> bool:
    """Whether ``version`` gets the 2.1.3xx behaviour."""
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3]) >= (2, 1, 300)


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def new_uuid() -> str:
    return str(uuid.uuid4())


def api_id(prefix: str, n: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(random.choice(alphabet) for _ in range(n))


def dumps(obj: object) -> str:
    """Serialize like ``JSON.stringify``: compact, non-ASCII kept."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def find_markers(text: str) -> dict:
    found: dict = {}
    for m in MARKER_RE.finditer(text):
        found.setdefault(m.group(1), m.group(2))
    return found


def git_branch(cwd: str) -> str:
    """The branch name of the git checkout containing ``cwd``; ``HEAD`` outside git or detached."""
    d = cwd
    while True:
        head = os.path.join(d, ".git", "HEAD")
        if os.path.isfile(head):
            try:
                with open(head, encoding="utf-8") as fh:
                    ref = fh.read().strip()
            except OSError:
                return "HEAD"
            return ref[len("ref: refs/heads/") :] if ref.startswith("ref: refs/heads/") else "HEAD"
        parent = os.path.dirname(d)
        if parent == d:
            return "HEAD"
        d = parent


def proc_start() -> str:
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            stat = fh.read()
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return str(int(time.time()))


class Interrupted(BaseException):
    """Raised by the SIGINT handler."""


class Terminated(BaseException):
    """Raised by the SIGTERM handler."""


class CliError(Exception):
    """An error the CLI reports on stderr before doing anything (exit 1)."""


# --------------------------------------------------------------------------- arguments
# name -> (kind, destination). kind: flag | value | optional | variadic
OPTIONS = {
    "-p": ("flag", "print"),
    "--print": ("flag", "print"),
    "-d": ("optional", "debug"),
    "--debug": ("optional", "debug"),
    "--debug-file": ("value", "debug_file"),
    "--verbose": ("flag", "verbose"),
    "--output-format": ("value", "output_format"),
    "--input-format": ("value", "input_format"),
    "--include-partial-messages": ("flag", "partial"),
    "--replay-user-messages": ("flag", "replay"),
    "--session-id": ("value", "session_id"),
    "-r": ("optional", "resume"),
    "--resume": ("optional", "resume"),
    "-c": ("flag", "continue_"),
    "--continue": ("flag", "continue_"),
    "--fork-session": ("flag", "fork"),
    "--model": ("value", "model"),
    "--fallback-model": ("value", "fallback_model"),
    "--permission-mode": ("value", "permission_mode"),
    "--dangerously-skip-permissions": ("flag", "skip_permissions"),
    "--allowedTools": ("variadic", "allowed"),
    "--allowed-tools": ("variadic", "allowed"),
    "--disallowedTools": ("variadic", "disallowed"),
    "--disallowed-tools": ("variadic", "disallowed"),
    "--add-dir": ("variadic", "add_dir"),
    "--append-system-prompt": ("value", "append_system_prompt"),
    "--system-prompt": ("value", "system_prompt"),
    "--mcp-config": ("variadic", "mcp_config"),
    "--strict-mcp-config": ("flag", "strict_mcp"),
    "--settings": ("value", "settings"),
    "--setting-sources": ("value", "setting_sources"),
    "--max-turns": ("value", "max_turns"),
    "--max-budget-usd": ("value", "max_budget"),
    "--no-session-persistence": ("flag", "no_persist"),
    "-n": ("value", "name"),
    "--name": ("value", "name"),
    "--agents": ("value", "agents"),
    "--agent": ("value", "agent"),
    "--effort": ("value", "effort"),
    "--ide": ("flag", "ide"),
    "-v": ("flag", "version"),
    "--version": ("flag", "version"),
    "-h": ("flag", "help"),
    "--help": ("flag", "help"),
}
PLACEHOLDER = {
    "output_format": "<format>",
    "input_format": "<format>",
    "permission_mode": "<mode>",
    "session_id": "<uuid>",
    "model": "<model>",
}
CHOICES = {
    "output_format": ["text", "json", "stream-json"],
    "input_format": ["text", "stream-json"],
    "permission_mode": PERMISSION_MODES,
}

HELP = """Usage: claude [options] [command] [prompt]

Claude Code - starts an interactive session by default, use -p/--print for
non-interactive output

(This is the Threadline test fake; see tests/agents/README.md.)

Options:
  -p, --print                        Print response and exit
  --output-format <format>           "text", "json" or "stream-json"
  --verbose                          Override verbose mode setting from config
  --session-id <uuid>                Use a specific session ID (must be a valid UUID)
  -r, --resume [value]               Resume a conversation by session ID
  -c, --continue                     Continue the most recent conversation
  --fork-session                     When resuming, create a new session ID
  --model <model>                    Model for the current session
  --permission-mode <mode>           Permission mode to use for the session
  --allowedTools <tools...>          Tool names to allow
  -v, --version                      Output the version number
  -h, --help                         Display help for command
"""


def parse_args(argv: list, v329: bool = False) -> dict:
    """Parse ``argv`` the way commander does for the options the fake knows."""
    choices = dict(CHOICES, permission_mode=PERMISSION_MODES_329) if v329 else CHOICES
    opts: dict = {"positional": []}
    i = 0
    only_positional = False
    while i < len(argv):
        arg = argv[i]
        i += 1
        if only_positional or arg == "-" or not arg.startswith("-"):
            opts["positional"].append(arg)
            continue
        if arg == "--":
            only_positional = True
            continue
        name, eq, inline = arg.partition("=")
        if not name.startswith("--") and len(name) > 2:
            # "-pv" style bundles: expand known single-letter flags
            letters = ["-" + ch for ch in name[1:]]
            if all(OPTIONS.get(x, ("", ""))[0] == "flag" for x in letters):
                for x in letters:
                    opts[OPTIONS[x][1]] = True
                continue
            raise CliError(f"error: unknown option '{arg}'")
        if name not in OPTIONS:
            raise CliError(f"error: unknown option '{name if eq else arg}'")
        kind, dest = OPTIONS[name]
        if kind == "flag":
            opts[dest] = True
        elif kind == "value":
            if eq:
                value = inline
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise CliError(f"error: option '{name} {PLACEHOLDER.get(dest, '<value>')}' argument missing")
            if dest in choices and value not in choices[dest] and not (v329 and value == "default"):
                raise CliError(
                    f"error: option '{name} {PLACEHOLDER.get(dest, '<value>')}' argument '{value}' is invalid. "
                    f"Allowed choices are {', '.join(choices[dest])}."
                )
            opts[dest] = value
        elif kind == "optional":
            if eq:
                opts[dest] = inline
            elif i < len(argv) and not argv[i].startswith("-"):
                opts[dest] = argv[i]
                i += 1
            else:
                opts[dest] = True
        else:  # variadic
            values = opts.setdefault(dest, [])
            if eq:
                values.append(inline)
            start = i
            while i < len(argv) and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            if not eq and i == start:
                raise CliError(f"error: option '{name} <values...>' argument missing")
    return opts


def split_rules(values: list) -> list:
    """Split ``--allowedTools`` values on commas and spaces outside parentheses."""
    rules = []
    for value in values:
        depth, cur = 0, ""
        for ch in value:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            if depth == 0 and ch in ", ":
                if cur:
                    rules.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            rules.append(cur)
    return rules


# --------------------------------------------------------------------------- the fake
class FakeClaude:
    """One CLI process: one or more turns in one session."""

    def __init__(self, opts: dict, env: dict) -> None:
        self.opts = opts
        self.env = env
        self.version = env.get("FAKE_CLAUDE_VERSION") or DEFAULT_VERSION
        self.v329 = is_v329(self.version)
        self.t0 = time.time()
        self.cwd = os.path.realpath(os.getcwd())
        self.config_dir = env.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
        self.project_dir = os.path.join(self.config_dir, "projects", encode_project_dir(self.cwd))
        self.output_format = opts.get("output_format") or "text"
        self.permission_mode = opts.get("permission_mode") or (
            "bypassPermissions" if opts.get("skip_permissions") else "default"
        )
        if self.permission_mode == "manual":
            self.permission_mode = "default"
        self.allowed = split_rules(opts.get("allowed") or [])
        self.default_model = "claude-opus-5-5" if self.v329 else "claude-opus-4-8"
        self.model = opts.get("model") or (self.default_model if self.v329 else self.default_model + "[1m]")
        self.branch = git_branch(self.cwd)
        self.max_retries = self._int_env("CLAUDE_CODE_MAX_RETRIES", 10)
        self.retry_delay = self._int_env("FAKE_CLAUDE_RETRY_DELAY_MS", 5) / 1000.0
        # session state
        self.session_id = ""
        self.transcript = ""
        self.resumed = False
        self.forked = False
        self.history: list = []  # conversation records of the chain (resume/fork)
        self.leaf: str | None = None  # uuid the next record hangs from
        self.file_has_mode = False
        self.requests_in_chain = 0
        self.registry = ""
        self.key_file = ""
        self.read_files: set = set()
        self.shape_written = False
        self.prompt_id = ""
        # per-process usage totals
        self.total_in = 0
        self.total_out = 0
        self.api_ms = 0
        self.prior_cost = 0.0
        self.prior_in = 0
        self.prior_out = 0
        self.last_prompt_text = ""

    # -- small utilities ---------------------------------------------------------------
    def _int_env(self, name: str, default: int) -> int:
        try:
            return int(self.env.get(name, default))
        except ValueError:
            return default

    def out(self, obj: dict) -> None:
        if self.output_format != "stream-json":
            return
        self._write_stdout(dumps(obj) + "\n")

    @staticmethod
    def _write_stdout(text: str) -> None:
        """Write whole lines; a signal never tears one."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def base(self) -> dict:
        return {
            "userType": "external",
            "entrypoint": "sdk-cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": self.version,
            "gitBranch": self.branch,
        }

    def append(self, records: list) -> None:
        """Write one batch: a single write() of complete lines, file reopened O_APPEND."""
        if not records or self.opts.get("no_persist"):
            return
        data = "".join(dumps(r) + "\n" for r in records).encode("utf-8", "surrogatepass")
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            os.makedirs(os.path.dirname(self.transcript), exist_ok=True)
            fd = os.open(self.transcript, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            finally:
                os.close(fd)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    # -- start-up ------------------------------------------------------------------------
    def validate(self) -> None:
        o = self.opts
        sid = o.get("session_id")
        if sid is not None and not UUID_RE.match(sid):
            raise CliError("Error: Invalid session ID. Must be a valid UUID.")
        if sid is not None and (o.get("resume") or o.get("continue_")) and not o.get("fork"):
            if self.v329:
                raise CliError("Error: --session-id with --continue or --resume also needs --fork-session.")
            raise CliError(
                "Error: --session-id can only be used with --continue or --resume if --fork-session is also specified."
            )
        if self.permission_mode == "bypassPermissions" and os.geteuid() == 0 and self.env.get("IS_SANDBOX") != "1":
            raise CliError(
                "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
            )
        in_use = sid is not None and os.path.exists(os.path.join(self.project_dir, sid + ".jsonl"))
        if in_use and not o.get("resume") and not o.get("continue_"):
            raise CliError(f"Error: Session ID {sid} is already in use.")
        if not o.get("print"):
            raise CliError("Error: the Threadline fake claude only supports --print (-p) mode")
        if self.output_format == "stream-json" and not o.get("verbose"):
            raise CliError("Error: When using --print, --output-format=stream-json requires --verbose")

    def read_prompt(self) -> str:
        positional = " ".join(os.fsencode(a).decode("utf-8", "replace") for a in self.opts["positional"])
        data = ""
        if sys.stdin is not None and not sys.stdin.isatty():
            try:
                ready, _, _ = select.select([sys.stdin], [], [], 3.0)
            except (OSError, ValueError):
                ready = [sys.stdin]
            if ready:
                data = sys.stdin.buffer.read().decode("utf-8", "replace")
            else:
                sys.stderr.write(
                    "Warning: no stdin data received in 3s, proceeding without it. "
                    "If piping from a slow command, redirect stdin explicitly: < /dev/null to skip, "
                    "or wait longer.\n"
                )
        if positional and data:
            return positional + "\n" + data
        return positional or data

    def locate_resume(self) -> None:
        o = self.opts
        target = o.get("resume")
        if target is True:
            raise CliError(
                "Error: --resume requires a valid session ID or session title when used with --print. "
                "Usage: claude -p --resume <session-id|title>"
            )
        if not UUID_RE.match(target):
            raise CliError(
                "Error: --resume requires a valid session ID or session title when used with --print. "
                "Usage: claude -p --resume <session-id|title>. Provided value "
                f'"{target}" is not a UUID and does not match any session title.'
            )
        path = os.path.join(self.project_dir, target + ".jsonl")
        if not os.path.exists(path) and self.v329:
            projects = os.path.join(self.config_dir, "projects")
            for name in sorted(os.listdir(projects)) if os.path.isdir(projects) else []:
                candidate = os.path.join(projects, name, target + ".jsonl")
                if os.path.exists(candidate):
                    path = candidate
                    break
        records = self._load(path)
        if not any(r.get("type") in ("user", "assistant") for r in records):
            raise CliError(f"No conversation found with session ID: {target}")
        self._adopt(records, target, path)

    def locate_continue(self) -> bool:
        try:
            names = [n for n in os.listdir(self.project_dir) if n.endswith(".jsonl")]
        except OSError:
            return False
        names.sort(key=lambda n: os.stat(os.path.join(self.project_dir, n)).st_mtime, reverse=True)
        for name in names:
            path = os.path.join(self.project_dir, name)
            records = self._load(path)
            if any(r.get("type") in ("user", "assistant") for r in records):
                self._adopt(records, name[: -len(".jsonl")], path)
                return True
        return False

    @staticmethod
    def _load(path: str) -> list:
        records = []
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        records.append(rec)
        except OSError:
            pass
        return records

    def _adopt(self, records: list, sid: str, path: str) -> None:
        """Take over the conversation chain of an existing transcript."""
        by_uuid = {r["uuid"]: r for r in records if isinstance(r.get("uuid"), str)}
        leaf = None
        for r in records:
            if (
                r.get("type") in ("user", "assistant", "attachment", "system")
                and not r.get("isSidechain")
                and isinstance(r.get("uuid"), str)
            ):
                leaf = r["uuid"]
        chain = []
        seen = set()
        cur = leaf
        while cur and cur in by_uuid and cur not in seen:
            seen.add(cur)
            chain.append(by_uuid[cur])
            cur = by_uuid[cur].get("parentUuid") or by_uuid[cur].get("logicalParentUuid")
        chain.reverse()
        self.history = chain
        self.leaf = leaf
        self.file_has_mode = any(r.get("type") == "mode" for r in records)
        ids = {
            r["message"].get("id")
            for r in chain
            if r.get("type") == "assistant" and r.get("message", {}).get("model") != "<synthetic>"
        }
        self.requests_in_chain = len(ids)
        real_models = [
            r["message"].get("model")
            for r in chain
            if r.get("type") == "assistant" and r.get("message", {}).get("model") not in (None, "<synthetic>")
        ]
        if real_models and not self.opts.get("model"):
            self.model = real_models[-1]
        if self.opts.get("fork"):
            self.forked = True
            self.parent_session = sid
            self.session_id = self.opts.get("session_id") or new_uuid()
            self.transcript = os.path.join(self.project_dir, self.session_id + ".jsonl")
        else:
            self.resumed = True
            self.session_id = sid
            self.transcript = path
        if self.v329:
            for r in reversed(records):
                if r.get("type") == "cost-state":
                    self.prior_cost = float(r.get("totalCostUSD") or 0)
                    for mu in (r.get("modelUsage") or {}).values():
                        self.prior_in += int(mu.get("inputTokens") or 0)
                        self.prior_out += int(mu.get("outputTokens") or 0)
                    break

    def write_registry(self) -> None:
        sessions = os.path.join(self.config_dir, "sessions")
        os.makedirs(sessions, mode=0o700, exist_ok=True)
        pid = os.getpid()
        started = int(self.t0 * 1000)
        slug = re.sub(r"[^a-z0-9]+", "-", os.path.basename(self.cwd).lower()).strip("-")[:24] or "session"
        entry = {
            "pid": pid,
            "sessionId": self.session_id,
            "cwd": self.cwd,
            "startedAt": started,
            "procStart": proc_start(),
            "version": self.version,
            "peerProtocol": 1,
        }
        if self.v329:
            entry["peerFeatures"] = ["notify_idle", "reply_across_default_dirs", "artifact_yield"]
        entry.update({"kind": "interactive", "entrypoint": "sdk-cli"})
        if self.v329:
            entry.update(
                {
                    "pidDomain": "linux:fake:pid:[0]",
                    "asksForConvertedSkills": None,
                    "messagingSocketPath": f"/tmp/cc-socks/{pid}.sock",
                }
            )
        entry.update({"name": f"{slug}-{random.randrange(256):02x}", "nameSource": "derived"})
        if self.v329:
            stamp = int(time.time() * 1000)
            entry.update({"nameSince": started, "status": "busy", "statusUpdatedAt": stamp, "updatedAt": stamp})
        self.registry = os.path.join(sessions, f"{pid}.json")
        tmp = self.registry + f".tmp.{pid}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(entry))
        os.replace(tmp, self.registry)
        if self.v329:
            self.key_file = os.path.join(sessions, f"{pid}.{uuid.uuid4().hex}{uuid.uuid4().hex}.key")
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(dumps({"peerToken": uuid.uuid4().hex, "procStart": entry["procStart"]}))

    def remove_registry(self) -> None:
        for path in (self.registry, self.key_file):
            if path:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def init_event(self) -> dict:
        event = {
            "type": "system",
            "subtype": "init",
            "cwd": self.cwd,
            "session_id": self.session_id,
            "tools": TOOLS,
            "mcp_servers": [],
            "model": self.model,
            "permissionMode": self.permission_mode,
            "slash_commands": SLASH_COMMANDS,
            "apiKeySource": "ANTHROPIC_API_KEY" if self.env.get("ANTHROPIC_API_KEY") else "none",
            "claude_code_version": self.version,
            "output_style": "default",
            "agents": AGENTS,
            "skills": SKILLS,
            "plugins": [],
            "analytics_disabled": True,
            "product_feedback_disabled": True,
            "uuid": new_uuid(),
            "memory_paths": {"auto": os.path.join(self.project_dir, "memory") + "/"},
            "fast_mode_state": "off",
        }
        return event

    # -- records -------------------------------------------------------------------------
    def conv(self, fields: dict, parent: str | None = None, *, uuid_: str | None = None) -> dict:
        """A conversation record hanging from ``parent`` (default: the current leaf)."""
        rec = {"parentUuid": self.leaf if parent is None else parent, "isSidechain": False}
        rec.update(fields)
        rec.setdefault("uuid", uuid_ or new_uuid())
        rec.setdefault("timestamp", now_iso())
        rec.update(self.base())
        self.leaf = rec["uuid"]
        return rec

    def user_record(self, prompt: str, prompt_id: str) -> dict:
        fields = {
            "promptId": prompt_id,
            "type": "user",
            "message": {"role": "user", "content": prompt},
            "uuid": new_uuid(),
            "timestamp": now_iso(),
            "permissionMode": self.permission_mode,
            "promptSource": "sdk",
        }
        if self.v329:
            fields.update({"turnOrigin": "sdk", "turnPosition": {"promptIndex": 0, "turnIndex": 1}})
        return self.conv(fields)

    def attachment_records(self) -> list:
        agent_lines = [f"- {a}: (fake agent description) (Tools: *)" for a in AGENTS]
        skill_text = "\n".join(f"- {s}: (fake skill description)" for s in SKILLS)
        atts = []
        if self.v329:
            atts.append(
                {
                    "type": "environment",
                    "snapshot": {
                        "workingDirectory": self.cwd,
                        "isWorktree": False,
                        "isGitRepo": self.branch != "HEAD",
                        "additionalWorkingDirectories": [],
                        "platform": sys.platform,
                        "shell": "bash",
                        "osVersion": "Linux",
                    },
                }
            )
            atts.append({"type": "model", "identity": {"modelId": self.default_model}, "text": "(fake)"})
            atts.append(
                {"type": "deferred_tools_delta", "addedNames": TOOLS[2:5], "addedLines": TOOLS[2:5], "removedNames": []}
            )
        atts.append(
            {
                "type": "agent_listing_delta",
                "addedTypes": AGENTS,
                "addedLines": agent_lines,
                "removedTypes": [],
                "isInitial": True,
                "showConcurrencyNote": True,
            }
        )
        atts.append(
            {
                "type": "skill_listing",
                "content": skill_text,
                "skillCount": len(SKILLS),
                "isInitial": True,
                "names": SKILLS,
            }
        )
        if not self.v329:
            return [self.conv({"attachment": att, "type": "attachment"}) for att in atts]
        out: list = []
        for att in atts:
            rendered = [{"content": f"<system-reminder>\n(fake {att['type']})\n</system-reminder>"}]
            out.append(
                self.conv({"attachment": att, "type": "attachment", "rendered": rendered, "renderedRole": "system"})
            )
        out.append({"type": "atis-latch", "atis": "", "sessionId": self.session_id})
        later = [
            ({"type": "session_context", "context": {}}, None),
            ({"type": "date", "date": time.strftime("%Y-%m-%d", time.gmtime())}, "system"),
            ({"type": "remote_session_change", "url": None, "sendUserFileHint": False}, "user"),
        ]
        for att, role in later:
            fields: dict = {"attachment": att, "type": "attachment"}
            if role:
                fields.update(
                    rendered=[{"content": "<system-reminder>\n(fake)\n</system-reminder>"}], renderedRole=role
                )
                if role == "user":
                    fields["renderedBesideToolResult"] = True
            out.append(self.conv(fields))
        out.append(self.prompt_snapshot())
        return out

    def prompt_snapshot(self) -> dict:
        return self.conv(
            {
                "attachment": {
                    "type": "prompt_snapshot",
                    "systemPrompt": ["(fake system prompt)"],
                    "reminderFold": False,
                    "echoWireToolInputs": False,
                    "contextRendering": "announced",
                },
                "type": "attachment",
            }
        )

    def assistant_record(
        self, msg: dict, block: dict, request_id: str, stop_reason: str | None, usage: dict, extra: dict | None = None
    ) -> dict:
        message = {
            "id": msg["id"],
            "type": "message",
            "role": "assistant",
            "model": msg["model"],
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
            "stop_details": None,
        }
        fields = {"message": message, "requestId": request_id, "type": "assistant"}
        if self.v329:
            timing = {
                "thinking": {"thinkingDurationMs": 1, "thinkingDisplay": "updates"},
                "tool_use": {"toolInputStreamMs": 1},
            }.get(block["type"], {})
            fields = {
                "message": message,
                **timing,
                "apiBlockIndex": msg["index"],
                "requestId": request_id,
                "requestRef": msg["ref"],
                "requestedModel": msg["model"],
                "promptCacheRequested": "5m",
                "type": "assistant",
            }
        if extra:
            fields.update(extra)
        if self.v329:
            fields.update({"effort": "medium", "perTurnEffort": "medium", "madeBy": "model"})
        return self.conv(fields)

    def synthetic(
        self, text: str, parent: str | None = None, *, error_status: int | None = None, request_id: str | None = None
    ) -> dict:
        usage = {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": None,
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "inference_geo": None,
            "iterations": None,
            "speed": None,
        }
        message = {
            "id": new_uuid(),
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_details": None,
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": usage,
            "content": [{"type": "text", "text": text}],
            "context_management": None,
        }
        fields = {"type": "assistant", "uuid": new_uuid(), "timestamp": now_iso(), "message": message}
        if error_status is not None:
            fields.update(
                {
                    "requestId": request_id,
                    "error": self._error_kind(error_status),
                    "isApiErrorMessage": True,
                    "apiErrorStatus": error_status,
                }
            )
            if self.v329:
                fields.update(
                    {
                        "apiErrorType": "overloaded_error" if error_status == 529 else "api_error",
                        "perTurnEffort": "medium",
                        "failedResponseHadNoToolCall": True,
                        "madeBy": "model",
                    }
                )
        else:
            fields["isApiErrorMessage"] = False
            if self.v329:
                fields["madeBy"] = "other"
        return self.conv(fields, parent)

    @staticmethod
    def _error_kind(status: int) -> str:
        return "overloaded" if status == 529 else "server_error" if status >= 500 else "invalid_request"

    # -- conversation state --------------------------------------------------------------
    def was_interrupted(self) -> bool:
        """True when the chain ends with a user turn that got no answer (killed or interrupted).

        2.1.197 also counts a turn that ended in an API error (its synthetic message is
        skipped); 2.1.3xx does not (it merges the failed prompt into the next request).
        """
        for rec in reversed(self.history):
            t = rec.get("type")
            if t == "assistant":
                if rec.get("isApiErrorMessage") and not self.v329:
                    continue
                return False
            if t == "user":
                return True
        return False

    def first_prompt(self) -> str:
        for rec in self.history:
            if rec.get("type") == "user" and not rec.get("isMeta"):
                content = rec.get("message", {}).get("content")
                if isinstance(content, str):
                    return content
        return self.last_prompt_text

    # -- a turn --------------------------------------------------------------------------
    def plan(self, prompt: str, tool_result: str | None) -> dict:
        """Decide the next model reply, like messages_stub.plan_reply."""
        number = self.requests_in_chain + 1
        self.requests_in_chain += 1
        if tool_result is not None:
            return {"blocks": [{"type": "text", "text": f"stub saw tool result: {tool_result}"}], "stop": "end_turn"}
        markers = find_markers(prompt)
        for code in ("500", "529"):
            if "http" + code in markers:
                return {"error": int(code)}
        blocks = []
        if "thinking" in markers:
            blocks.append(thinking_block(prompt))
        if "tool" in markers:
            block = tool_use_block(markers["tool"], api_id("toolu_01", 22))
            return {"blocks": [{"type": "text", "text": TOOL_TEXT}, block], "stop": "tool_use"}
        final = f"stub reply #{number} to: {prompt}"
        plan: dict = {"blocks": blocks, "stop": "end_turn"}
        if "slow" in markers:
            try:
                seconds = float(markers["slow"]) if markers["slow"] else DEFAULT_SLOW_SECONDS
            except ValueError:
                seconds = DEFAULT_SLOW_SECONDS
            count = max(1, round(max(0.0, seconds) / SLOW_WORD_INTERVAL))
            plan["slow_words"] = [f"w{i} " for i in range(count)]
            final = "".join(plan["slow_words"]) + final
        if "hang" in markers:
            plan["hang"] = True
        blocks.append({"type": "text", "text": final})
        return plan

    def usage_for(self, prompt: str) -> int:
        base = 16400 if self.v329 else 25400
        return base + len(prompt) // 4 + 40 * len(self.history)

    def run_turn(self, prompt: str, first_turn: bool) -> int:
        """One user turn: returns the exit code."""
        self.last_prompt_text = prompt
        markers = find_markers(prompt)
        prompt_id = self.prompt_id = new_uuid()
        batch = []
        if self.forked and first_turn:
            batch.append({"type": "mode", "mode": "normal", "sessionId": self.session_id})
            if self.v329:
                batch.append({"type": "atis-latch", "atis": "", "sessionId": self.session_id})
        batch.append(
            {
                "type": "queue-operation",
                "operation": "enqueue",
                "timestamp": now_iso(),
                "sessionId": self.session_id,
                "content": prompt,
            }
        )
        batch.append(
            {"type": "queue-operation", "operation": "dequeue", "timestamp": now_iso(), "sessionId": self.session_id}
        )
        if self.forked and first_turn:
            for rec in self.history:
                copy = dict(rec)
                copy["sessionId"] = self.session_id
                if self.v329 and copy.get("type") == "assistant":
                    copy["requestSessionId"] = self.parent_session
                batch.append(copy)
        if first_turn and self.history and self.was_interrupted():
            if not self.v329:
                meta = self.conv(
                    {
                        "promptId": prompt_id,
                        "type": "user",
                        "message": {"role": "user", "content": [{"type": "text", "text": CONTINUE_TEXT}]},
                        "isMeta": True,
                    }
                )
                batch.append(meta)
            batch.append(self.synthetic(NO_RESPONSE_TEXT))
        batch.append(self.user_record(prompt, prompt_id))
        if not self.history and first_turn:
            batch.extend(self.attachment_records())
        if "die-before-request" in markers:
            sys.stderr.write("fake claude: dying before the first API request ([[die-before-request]])\n")
            return 1
        self.turn_state = {
            "turns": 0,
            "denials": [],
            "cost": 0.0,
            "in": 0,
            "out": 0,
            "streamed": None,
            "requested": False,
        }
        self.pending = batch
        return self._loop(prompt, markers)

    def _flush_pending(self) -> None:
        batch, self.pending = self.pending, []
        if self.v329 and batch:
            if not self.history and not self.shape_written:
                self.shape_written = True
                shape_hash = uuid.uuid4().hex * 2
                batch.append(
                    {
                        "type": "api-request-shape",
                        "sessionId": self.session_id,
                        "shapeHash": shape_hash,
                        "timestamp": now_iso(),
                        "version": self.version,
                        "shape": {"system": [{"type": "text", "text": "(fake)"}], "tools": []},
                    }
                )
                for role in ("user", "system"):
                    batch.append(
                        {
                            "type": "api-request-blob",
                            "sessionId": self.session_id,
                            "hash": uuid.uuid4().hex * 2,
                            "message": {"role": role, "content": [{"type": "text", "text": "(fake)"}]},
                        }
                    )
            batch.append(
                {
                    "type": "api-request",
                    "sessionId": self.session_id,
                    "id": new_uuid(),
                    "timestamp": now_iso(),
                    "version": self.version,
                    "querySource": "sdk",
                    "shapeHash": "0" * 64,
                    "params": {"model": self.default_model},
                    "keep": 0,
                    "tail": [],
                    "cacheControl": None,
                    "requestDigest": uuid.uuid4().hex,
                }
            )
        self.append(batch)

    def _loop(self, prompt: str, markers: dict) -> int:
        st = self.turn_state
        tool_result: str | None = None
        while True:
            st["turns"] += 1
            plan = self.plan(prompt, tool_result)
            t_req = time.time()
            self._flush_pending()  # the "request" is sent: the pre-request batch lands now
            st["requested"] = True
            if "crash" in markers:
                sys.stderr.write("fake claude: simulated crash ([[crash]])\n")
                sys.stderr.flush()
                os._exit(2)
            if "error" in plan:
                return self._api_error(plan["error"], prompt)
            msg = {"id": api_id("msg_01", 22), "model": self.model.replace("[1m]", ""), "index": 0, "ref": new_uuid()}
            request_id = api_id("req_011C", 20)
            in_tokens = self.usage_for(prompt) + (150 if tool_result is not None else 0)
            out_tokens = 10 + sum(len(dumps(b)) for b in plan["blocks"]) // 4
            final_usage = {
                "input_tokens": in_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": out_tokens,
                "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                "service_tier": "standard",
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
                "inference_geo": "",
                "iterations": [],
                "speed": "standard",
            }
            event_usage = {
                "input_tokens": in_tokens,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
            }
            partial = bool(self.opts.get("partial"))
            if partial:
                self.out(
                    {
                        "type": "system",
                        "subtype": "status",
                        "status": "requesting",
                        "uuid": new_uuid(),
                        "session_id": self.session_id,
                    }
                )
                self._stream_event(
                    {
                        "type": "message_start",
                        "message": {
                            "id": msg["id"],
                            "type": "message",
                            "role": "assistant",
                            "model": msg["model"],
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": event_usage,
                        },
                    }
                )
            st["msg"], st["request_id"], st["event_usage"] = msg, request_id, event_usage
            for index, block in enumerate(plan["blocks"]):
                msg["index"] = index
                if partial:
                    start = dict(block)
                    start.update(
                        {"text": ""}
                        if block["type"] == "text"
                        else {"thinking": "", "signature": ""}
                        if block["type"] == "thinking"
                        else {"input": {}}
                    )
                    self._stream_event({"type": "content_block_start", "index": index, "content_block": start})
                if block["type"] == "text" and plan.get("slow_words"):
                    st["streamed"] = ""
                    for word in plan["slow_words"]:
                        st["streamed"] += word
                        if partial:
                            self._stream_event(
                                {
                                    "type": "content_block_delta",
                                    "index": index,
                                    "delta": {"type": "text_delta", "text": word},
                                }
                            )
                        time.sleep(SLOW_WORD_INTERVAL)
                if plan.get("hang"):
                    while True:
                        signal.pause()
                if block["type"] == "thinking":
                    self.out(
                        {
                            "type": "system",
                            "subtype": "thinking_tokens",
                            "estimated_tokens": 10,
                            "estimated_tokens_delta": 10,
                            "uuid": new_uuid(),
                            "session_id": self.session_id,
                        }
                    )
                st["streamed"] = None
                rec = self.assistant_record(msg, block, request_id, plan["stop"], final_usage)
                self.out(
                    {
                        "type": "assistant",
                        "message": {
                            "id": msg["id"],
                            "type": "message",
                            "role": "assistant",
                            "model": msg["model"],
                            "content": [block],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": event_usage,
                            "context_management": None,
                        },
                        "parent_tool_use_id": None,
                        "session_id": self.session_id,
                        "uuid": rec["uuid"],
                        "request_id": request_id,
                    }
                )
                if partial:
                    self._stream_event({"type": "content_block_stop", "index": index})
                self.append([rec])
            if partial:
                self._stream_event(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": plan["stop"], "stop_sequence": None},
                        "usage": {
                            "input_tokens": in_tokens,
                            "output_tokens": out_tokens,
                            "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 0,
                        },
                    }
                )
                self._stream_event({"type": "message_stop"})
            self.api_ms += int((time.time() - t_req) * 1000)
            cost = in_tokens * 5e-6 + out_tokens * 25e-6
            st["cost"] += cost
            st["in"] += in_tokens
            st["out"] += out_tokens
            if plan["stop"] != "tool_use":
                text = plan["blocks"][-1].get("text", "")
                return self._finish(prompt, text)
            tool_block = plan["blocks"][-1]
            tool_result = self._run_tool(tool_block, rec["uuid"])

    def _stream_event(self, event: dict) -> None:
        self.out(
            {
                "type": "stream_event",
                "event": event,
                "session_id": self.session_id,
                "parent_tool_use_id": None,
                "uuid": new_uuid(),
            }
        )

    # -- tools ---------------------------------------------------------------------------
    def _allowed_by_rule(self, tool: str, command: str | None = None) -> bool:
        for rule in self.allowed:
            if rule == tool or rule == tool + "(*)":
                return True
            m = re.match(r"^(\w+)\((.*)\)$", rule)
            if m and m.group(1) == tool:
                pattern = m.group(2)
                if command is None:
                    return True
                if pattern.endswith(":*"):
                    if command == pattern[:-2] or command.startswith(pattern[:-2] + " "):
                        return True
                elif pattern.endswith("*"):
                    if command.startswith(pattern[:-1]):
                        return True
                elif command == pattern:
                    return True
        return False

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        roots = [self.cwd] + [os.path.realpath(d) for d in (self.opts.get("add_dir") or [])]
        return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)

    def _bash_verdict(self, command: str) -> str | None:
        """``None`` if the command may run, else the refusal text."""
        if self.permission_mode == "bypassPermissions" or self._allowed_by_rule("Bash", command):
            return None
        import shlex

        try:
            words = shlex.split(command)
        except ValueError:
            return "This command requires approval"
        accept = self.permission_mode == "acceptEdits"
        if ">" in command:
            target = command.split(">")[-1].strip().split()[0] if command.split(">")[-1].strip() else ""
            target_abs = os.path.join(self.cwd, target)
            if accept and self._inside(target_abs) and not (set(command.replace(">", "")) & SHELL_META):
                return None
            return (
                f"Output redirection to '{os.path.normpath(target_abs)}' was blocked. For security, Claude "
                "Code may only write to files in the allowed working directories for this session: "
                f"'{self.cwd}'."
            )
        if not words or set(command) & SHELL_META:
            return "This command requires approval"
        cmd, args = words[0], [w for w in words[1:] if not w.startswith("-")]
        if cmd in EDIT_COMMANDS:
            paths = [os.path.normpath(os.path.join(self.cwd, a)) for a in args] or [self.cwd]
            if accept and all(self._inside(p) for p in paths):
                return None
            if self.v329 and all(self._inside(p) for p in paths):
                return (
                    f"{cmd} in '{paths[0]}' needs approval. The path is inside the working directories for this "
                    f"session ('{self.cwd}'), and Claude Code asks before a shell command creates, changes or "
                    "removes files there."
                )
            return (
                f"{cmd} in '{paths[0]}' was blocked. For security, Claude Code may only "
                f"{EDIT_COMMANDS[cmd]} in the allowed working directories for this session: '{self.cwd}'."
            )
        if cmd in READ_ONLY_COMMANDS:
            if cmd in ("ls", "cat", "head", "tail"):
                for a in args:
                    p = os.path.normpath(os.path.join(self.cwd, a))
                    if not self._inside(p):
                        verb = "list files" if cmd == "ls" else "read files"
                        return (
                            f"{cmd} in '{p}' was blocked. For security, Claude Code may only {verb} in "
                            f"the allowed working directories for this session: '{self.cwd}'."
                        )
            return None
        return "This command requires approval"

    def _run_tool(self, block: dict, assistant_uuid: str) -> str:
        name, inp = block["name"], block["input"]
        result: dict | str
        content: str
        is_error = False
        denied = False
        if name == "Bash":
            refusal = self._bash_verdict(inp["command"])
            if refusal is not None:
                content, is_error, denied = refusal, True, True
                result = "Error: " + refusal
            else:
                content, is_error, result = self._exec_bash(inp["command"])
        elif name == "Write":
            content, is_error, denied, result = self._write_tool(inp)
        elif name == "Read":
            content, is_error, denied, result = self._read_tool(inp)
        else:
            content, is_error, result = f"No such tool available: {name}", True, f"Error: No such tool: {name}"
        before: dict = {}  # 2.1.3xx fields placed after toolUseResult
        after: dict = {}  # and after sourceToolAssistantUUID
        if denied:
            self.turn_state["denials"].append({"tool_name": name, "tool_use_id": block["id"], "tool_input": inp})
            if self.v329:
                code = "bashMiss:no-rule-match" if content == "This command requires approval" else "unknown"
                before = {"toolDenialKind": "user-rejected"}
                after = {"permissionDecision": {"decision": "reject", "source": "config", "reasonCode": code}}
                self.out(
                    {
                        "type": "system",
                        "subtype": "permission_denied",
                        "tool_name": name,
                        "tool_use_id": block["id"],
                        "message": content,
                        "uuid": new_uuid(),
                        "session_id": self.session_id,
                    }
                )
        elif self.v329 and name in ("Bash", "Write"):
            if self._allowed_by_rule(name, inp.get("command")):
                decision = {"decision": "accept", "source": "config", "reasonType": "rule", "ruleSource": "cliArg"}
            elif name == "Write" or self.permission_mode == "bypassPermissions":
                decision = {"decision": "accept", "source": "config", "reasonType": "mode"}
            else:
                decision = {"decision": "accept", "source": "config", "reasonType": "subcommandResults"}
            before = {"sandboxed": False} if name == "Bash" else {}
            after = {"permissionDecision": decision}
        if is_error:
            tr = {"type": "tool_result", "content": content, "is_error": True, "tool_use_id": block["id"]}
        elif name == "Bash":
            tr = {"tool_use_id": block["id"], "type": "tool_result", "content": content, "is_error": False}
        else:
            tr = {"tool_use_id": block["id"], "type": "tool_result", "content": content}
        rec = self.conv(
            {
                "promptId": self.prompt_id,
                "type": "user",
                "message": {"role": "user", "content": [tr]},
                "uuid": new_uuid(),
                "timestamp": now_iso(),
                "toolUseResult": result,
                **before,
                "sourceToolAssistantUUID": assistant_uuid,
                **after,
            }
        )
        self.pending = [rec]
        self.out(
            {
                "type": "user",
                "message": {"role": "user", "content": [tr]},
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": rec["uuid"],
                "timestamp": rec["timestamp"],
                "tool_use_result": result,
            }
        )
        return content

    def _exec_bash(self, command: str) -> tuple:
        import subprocess

        try:
            proc = subprocess.run(
                ["bash", "-c", command],
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
            output = proc.stdout.decode("utf-8", "replace").rstrip("\n")
            code = proc.returncode
        except subprocess.TimeoutExpired:
            output, code = "Command timed out after 2m 0s", 124
        if code != 0:
            text = f"Exit code {code}\n{output}" if output else f"Exit code {code}"
            return text, True, "Error: " + text
        first = command.strip().split()[0] if command.strip() else ""
        result = {
            "stdout": output,
            "stderr": "",
            "interrupted": False,
            "isImage": False,
            "noOutputExpected": first in QUIET_COMMANDS,
        }
        return output or "(Bash completed with no output)", False, result

    def _write_tool(self, inp: dict) -> tuple:
        path = inp.get("file_path", "")
        if os.path.exists(path) and path not in self.read_files:
            msg = "File has not been read yet. Read it first before writing to it."
            return f"<tool_use_error>{msg}</tool_use_error>", True, False, "Error: " + msg
        allowed = (
            self.permission_mode == "bypassPermissions"
            or self._allowed_by_rule("Write")
            or self._allowed_by_rule("Edit")
            or (self.permission_mode == "acceptEdits" and self._inside(path))
        )
        if not allowed:
            msg = f"Claude requested permissions to write to {path}, but you haven't granted it yet."
            return msg, True, True, "Error: " + msg
        original = None
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                original = fh.read()
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(inp.get("content", ""))
        if original is None:
            text = (
                f"File created successfully at: {path} (file state is current in your context — "
                "no need to Read it back)"
            )
            result = {
                "type": "create",
                "filePath": path,
                "content": inp.get("content", ""),
                "structuredPatch": [],
                "originalFile": None,
                "userModified": False,
            }
        else:
            text = f"The file {path} has been updated successfully."
            result = {
                "type": "update",
                "filePath": path,
                "content": inp.get("content", ""),
                "structuredPatch": [],
                "originalFile": original,
                "userModified": False,
            }
        return text, False, False, result

    def _read_tool(self, inp: dict) -> tuple:
        path = inp.get("file_path", "")
        allowed = self.permission_mode == "bypassPermissions" or self._allowed_by_rule("Read") or self._inside(path)
        if not allowed:
            msg = f"Claude requested permissions to read from {path}, but you haven't granted it yet."
            return msg, True, True, "Error: " + msg
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                data = fh.read()
        except OSError:
            msg = "File does not exist."
            return f"<tool_use_error>{msg}</tool_use_error>", True, False, "Error: " + msg
        self.read_files.add(path)
        lines = data.split("\n")
        text = "\n".join(f"{i}\t{line}" for i, line in enumerate(lines, 1))
        result = {
            "type": "text",
            "file": {
                "filePath": path,
                "content": data,
                "numLines": len(lines),
                "startLine": 1,
                "totalLines": len(lines),
            },
        }
        return text, False, False, result

    # -- endings -------------------------------------------------------------------------
    def _closing_records(self) -> list:
        recs = [
            {
                "type": "last-prompt",
                "lastPrompt": self.first_prompt() if self.forked else self.last_prompt_text,
                "leafUuid": self.leaf,
                "sessionId": self.session_id,
            }
        ]
        if self.resumed and not self.file_has_mode:
            recs.append({"type": "mode", "mode": "normal", "sessionId": self.session_id})
            self.file_has_mode = True
        if self.v329 and not self.history and self.turn_state["turns"] and self.shape_written:
            recs.insert(0, self.prompt_snapshot())
            recs[1]["leafUuid"] = self.leaf
        if self.v329:
            if self.forked and not self.file_has_mode:
                recs.append({"type": "mode", "mode": "normal", "sessionId": self.session_id})
                self.file_has_mode = True
            total_cost = self.prior_cost + self.turn_state["cost"]
            recs.append({"type": "atis-latch", "atis": "", "sessionId": self.session_id})
            recs.append(
                {
                    "type": "cost-state",
                    "sessionId": self.session_id,
                    "totalCostUSD": total_cost,
                    "totalAPIDuration": self.api_ms,
                    "totalAPIDurationWithoutRetries": self.api_ms,
                    "totalToolDuration": 0,
                    "totalLinesAdded": 0,
                    "totalLinesRemoved": 0,
                    "totalDuration": int((time.time() - self.t0) * 1000),
                    "startTime": int(self.t0 * 1000),
                    "modelUsage": {
                        self.model: {
                            "inputTokens": self.prior_in + self.turn_state["in"],
                            "outputTokens": self.prior_out + self.turn_state["out"],
                            "costUSD": total_cost,
                        }
                    },
                    "hasUnknownModelCost": False,
                }
            )
        return recs

    def _zero_usage(self) -> dict:
        return {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "inference_geo": "",
            "iterations": [],
            "speed": "standard",
        }

    def _print_result(self, result: dict, text: str | None) -> None:
        if self.output_format == "stream-json" or self.output_format == "json":
            self._write_stdout(dumps(result) + "\n")
        elif text is not None:
            self._write_stdout(text + "\n")

    def _finish(self, prompt: str, text: str) -> int:
        st = self.turn_state
        self.append(self._closing_records())
        cost, tin, tout = st["cost"], st["in"], st["out"]
        if self.v329:
            cost, tin, tout = cost + self.prior_cost, tin + self.prior_in, tout + self.prior_out
        usage = self._zero_usage()
        usage.update({"input_tokens": st["in"], "output_tokens": st["out"]})
        window = 1000000 if self.model.endswith("[1m]") else 200000
        duration = int((time.time() - self.t0) * 1000)
        result = {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "api_error_status": None,
            "duration_ms": duration,
            "duration_api_ms": self.api_ms,
            "ttft_ms": max(1, duration - 5),
            "ttft_stream_ms": max(1, duration - 6),
            "time_to_request_ms": max(1, duration - 20),
            "num_turns": st["turns"],
            "result": text,
            "stop_reason": "end_turn",
            "session_id": self.session_id,
            "total_cost_usd": cost,
            "usage": usage,
            "modelUsage": {
                self.model: {
                    "inputTokens": tin,
                    "outputTokens": tout,
                    "cacheReadInputTokens": 0,
                    "cacheCreationInputTokens": 0,
                    "webSearchRequests": 0,
                    "costUSD": cost,
                    "contextWindow": window,
                    "maxOutputTokens": 128000 if self.v329 else 64000,
                }
            },
            "permission_denials": st["denials"],
            "terminal_reason": "completed",
            "fast_mode_state": "off",
            "uuid": new_uuid(),
        }
        self._print_result(result, text)
        self.prior_cost, self.prior_in, self.prior_out = (cost, tin, tout) if self.v329 else (0.0, 0, 0)
        return 0

    def _api_error(self, status: int, prompt: str) -> int:
        st = self.turn_state
        kind = self._error_kind(status)
        parsed = re.match(r"^\w+://([^/]+)", self.env.get("ANTHROPIC_BASE_URL", ""))
        gateway = parsed.group(1) if parsed else "127.0.0.1"
        for attempt in range(1, self.max_retries + 1):
            delay = self.retry_delay
            if self.v329:
                self.append(
                    [
                        self.conv(
                            {
                                "type": "system",
                                "subtype": "api_error",
                                "level": "error",
                                "error": {
                                    "message": f"{status} stub forced {status}",
                                    "status": status,
                                    "requestId": None,
                                    "formatted": f"{status} stub forced {status}",
                                },
                                "retryInMs": int(delay * 1000),
                                "retryAttempt": attempt,
                                "maxRetries": self.max_retries,
                                "source": "request_retry",
                            }
                        )
                    ]
                )
            self.out(
                {
                    "type": "system",
                    "subtype": "api_retry",
                    "attempt": attempt,
                    "max_retries": self.max_retries,
                    "retry_delay_ms": delay * 1000,
                    "error_status": status,
                    "error": kind,
                    "session_id": self.session_id,
                    "uuid": new_uuid(),
                }
            )
            time.sleep(delay)
        text = (
            f"API Error: {status} stub forced {status}. This is a server-side issue, usually temporary — "
            f"try again in a moment. If it persists, check your inference gateway ({gateway})."
        )
        request_id = api_id("req_011C", 20)
        rec = self.synthetic(text, error_status=status, request_id=request_id)
        self.append([rec])
        self.out(
            {
                "type": "assistant",
                "message": rec["message"],
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": rec["uuid"],
                "error": kind,
                "request_id": request_id,
            }
        )
        self.append(self._closing_records())
        result = {
            "type": "result",
            "subtype": "success",
            "is_error": True,
            "api_error_status": status,
            "duration_ms": int((time.time() - self.t0) * 1000),
            "duration_api_ms": 0,
            "num_turns": st["turns"],
            "result": text,
            "stop_reason": "stop_sequence",
            "session_id": self.session_id,
            "total_cost_usd": self.prior_cost + st["cost"],
            "usage": self._zero_usage(),
            "modelUsage": {},
            "permission_denials": st["denials"],
            "terminal_reason": "api_error" if self.v329 else "completed",
            "fast_mode_state": "off",
            "uuid": new_uuid(),
        }
        self._print_result(result, text)
        return 1

    def on_interrupt(self) -> int:
        """SIGINT during a turn: like the real CLI, print the partial reply and an
        ``error_during_execution`` result, exit 0."""
        st = getattr(self, "turn_state", None)
        if st is None:
            return 130
        if not st["requested"]:
            return 0
        self._flush_pending()
        closing = self._closing_records()
        streamed = st.get("streamed")
        msg = st.get("msg")
        partial_records = []
        if streamed and msg:
            block = {"type": "text", "text": streamed}
            event_usage = st["event_usage"]
            if self.v329:
                message = {
                    "id": msg["id"],
                    "type": "message",
                    "role": "assistant",
                    "model": msg["model"],
                    "content": [block],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": event_usage,
                }
                rec = self.conv(
                    {
                        "message": message,
                        "apiBlockIndex": 0,
                        "requestId": st["request_id"],
                        "requestRef": msg["ref"],
                        "requestedModel": msg["model"],
                        "promptCacheRequested": "5m",
                        "type": "assistant",
                        "isAbortedMidStream": True,
                        "effort": "medium",
                        "perTurnEffort": "medium",
                        "madeBy": "model",
                    }
                )
                partial_records.append(rec)
                uid = rec["uuid"]
            else:
                uid = new_uuid()
            self.out(
                {
                    "type": "assistant",
                    "message": {
                        "id": msg["id"],
                        "type": "message",
                        "role": "assistant",
                        "model": msg["model"],
                        "content": [block],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": event_usage,
                        "context_management": None,
                    },
                    "parent_tool_use_id": None,
                    "session_id": self.session_id,
                    "uuid": uid,
                    "request_id": st["request_id"],
                }
            )
        user_uuid = new_uuid()
        stamp = now_iso()
        if self.v329:
            partial_records.append(
                self.conv(
                    {
                        "promptId": new_uuid(),
                        "type": "user",
                        "message": {"role": "user", "content": [{"type": "text", "text": INTERRUPTED_TEXT}]},
                        "uuid": user_uuid,
                        "timestamp": stamp,
                    }
                )
            )
        self.out(
            {
                "type": "user",
                "message": {"role": "user", "content": [{"type": "text", "text": INTERRUPTED_TEXT}]},
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": user_uuid,
                "timestamp": stamp,
            }
        )
        self.append(closing)
        self.append(partial_records)
        result = {
            "type": "result",
            "subtype": "error_during_execution",
            "duration_ms": int((time.time() - self.t0) * 1000),
            "duration_api_ms": 0,
            "is_error": True,
            "num_turns": st["turns"] + 1,
            "stop_reason": None,
            "session_id": self.session_id,
            "total_cost_usd": self.prior_cost + st["cost"],
            "usage": self._zero_usage(),
            "modelUsage": {},
            "permission_denials": st["denials"],
            "terminal_reason": "aborted_streaming",
            "fast_mode_state": "off",
            "uuid": new_uuid(),
            "errors": ["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"],
        }
        self._print_result(result, None)
        return 0

    def on_terminate(self) -> int:
        st = getattr(self, "turn_state", None)
        if st is not None and st["requested"]:
            self._flush_pending()
            self.append(self._closing_records())
        return 143


def _wait_at_gate(gate: str) -> None:
    """A test's barrier (``FAKE_CLAUDE_GATE``): say "past the checks" with ``<gate>.<pid>``, then
    wait for ``<gate>`` to exist, so a test can hold two runs between their checks and their
    first write however slowly a loaded machine starts them."""
    with open(f"{gate}.{os.getpid()}", "w"):
        pass
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise Interrupted()


def _raise_terminate(signum: int, frame: object) -> None:
    raise Terminated()


def stream_json_prompts(text: str) -> list:
    """User prompts from ``--input-format stream-json`` stdin lines."""
    prompts = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        content = (obj.get("message") or {}).get("content") if isinstance(obj, dict) else None
        if isinstance(content, str):
            prompts.append(content)
        elif isinstance(content, list):
            prompts.append("".join(b.get("text", "") for b in content if isinstance(b, dict)))
    return prompts


def main(argv: list | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # die by the signal until the handlers are installed
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    try:
        opts = parse_args(args, is_v329(env.get("FAKE_CLAUDE_VERSION") or DEFAULT_VERSION))
    except CliError as exc:
        sys.stderr.write(str(exc) + "\n")
        return 1
    version = env.get("FAKE_CLAUDE_VERSION") or DEFAULT_VERSION
    if opts.get("version"):
        sys.stdout.write(f"{version} (Claude Code)\n")
        return 0
    if opts.get("help"):
        sys.stdout.write(HELP)
        return 0
    fake = FakeClaude(opts, env)
    try:
        fake.validate()
        raw = fake.read_prompt()
        prompts = stream_json_prompts(raw) if opts.get("input_format") == "stream-json" else [raw]
        if not prompts or not prompts[0]:
            raise CliError(
                "Error: Input must be provided either through stdin or as a prompt argument when using --print"
            )
        if opts.get("resume"):
            fake.locate_resume()
        elif not (opts.get("continue_") and fake.locate_continue()):
            fake.session_id = opts.get("session_id") or new_uuid()
            fake.transcript = os.path.join(fake.project_dir, fake.session_id + ".jsonl")
    except CliError as exc:
        sys.stderr.write(str(exc) + "\n")
        return 1
    delay = fake._int_env("FAKE_CLAUDE_DELAY_MS", 0)
    if delay > 0:
        time.sleep(delay / 1000.0)  # the real CLI takes about 0.6 s to print system/init
    gate = env.get("FAKE_CLAUDE_GATE")
    if gate:
        _wait_at_gate(gate)
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_terminate)
    code = 0
    try:
        fake.write_registry()
        os.makedirs(os.path.join(fake.project_dir, "memory"), exist_ok=True)
        for index, prompt in enumerate(prompts):
            fake.out(fake.init_event())
            code = fake.run_turn(prompt, first_turn=index == 0)
            if code:
                break
    except Interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        code = fake.on_interrupt()
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        code = fake.on_terminate()
    fake.remove_registry()
    return code


if __name__ == "__main__":
    sys.exit(main())
