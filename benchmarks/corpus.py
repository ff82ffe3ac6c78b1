"""A deterministic synthetic Claude Code history (a ``CLAUDE_CONFIG_DIR`` tree) for the scale benchmark.

The records copy the shapes Claude Code 2.1.197 and 2.1.329 really write: one record per
assistant content block (the blocks of one API message share ``message.id``, ``requestId`` and
``usage``), tool_use / tool_result pairs with ``toolUseResult``, thinking, compact boundaries with
their summary, API errors (2.1.329's ``system/api_error`` retries and the synthetic
``isApiErrorMessage`` reply), custom titles, and 2.1.329's ~160 KB of fixed per-session records
(``api-request-shape``, ``prompt_snapshot``, attachments), so even a one-prompt 2.1.329 session is
~160 KB. Sizes are long-tailed (p50 ~180 KB) with a few 50-300 MB sessions; sessions per folder
follow Zipf; ``my-app`` and ``my_app`` share one folder on purpose; a non-ASCII path, spaces, dots,
a worktree and a >200-character path (hash suffix) are there; 0.5 % of files end in a torn line.

Same arguments -> the same bytes (each session draws from its own seeded generator, whatever the
number of worker processes). Sessions older than 45 % of the 180-day span are 2.1.197.

    .venv/bin/python benchmarks/corpus.py OUT              # medium: 2,000 sessions, ~0.5 GB
    .venv/bin/python benchmarks/corpus.py OUT --large      # 20,000 sessions, ~5 GB
    .venv/bin/python benchmarks/corpus.py OUT --quick      # 60 sessions, for CI
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from threadline.agents.claude.paths import encode_project_dir  # noqa: E402

GENERATOR = "threadline-corpus/3"
"""Bump when the output for the same arguments changes (the benchmark regenerates then)."""
MANIFEST = "threadline-corpus.json"
END = 1795219200.0  # 2026-11-21T00:00:00Z: the newest activity in every corpus
SPAN_DAYS = 180
OLD_VERSION, NEW_VERSION = "2.1.197", "2.1.329"
TITLE_WORD = "debounce"
"""Only in first prompts and custom titles: a `query` that matches on titles."""
MESSAGE_WORD = "reproduce"
"""Only in conversation text (assistant text, thinking, tool results): a `query` on message text."""
MB = 1_000_000

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"sessions": 60, "total_mb": 14, "big_mb": [3]},
    "medium": {"sessions": 2_000, "total_mb": 500, "big_mb": [50]},
    "large": {"sessions": 20_000, "total_mb": 5_000, "big_mb": [50, 92, 169, 302]},
}

# -- folders ----------------------------------------------------------------------------------
SPECIAL_CWDS = [
    "/home/dev/src/my-app",  # these two share the folder -home-dev-src-my-app
    "/home/dev/src/my_app",
    "/home/dev/src/café-ünïcode/日本語のアプリ",
    "/home/dev/My Projects/client site v2",
    "/home/dev/src/api.example.com",
    "/home/dev/src/threadline/.claude/worktrees/feature-cache",
    "/home/dev/src/clients/"
    + "/".join(f"department-of-very-long-folder-names-{n}" for n in range(5))
    + "/the-actual-project",  # > 200 characters: the folder name gets the hash suffix
]
PLAIN_PARTS = (  # noqa: SIM905 - a word list reads better as prose
    "api web billing search ledger auth infra mobile docs data pipeline admin gateway notify "
    "scheduler reports etl kernel compiler parser editor sync cache"
).split()
PLAIN_KINDS = ["server", "client", "service", "app", "tool", "lib", "worker", "ui", "cli", "sdk"]
TOOL_NAMES = "Agent Bash Edit Glob Grep Read Write WebFetch WebSearch TodoWrite Skill ToolSearch NotebookEdit"

# -- text -------------------------------------------------------------------------------------
WORDS = (  # noqa: SIM905
    "the a to of and in is it for that this with on as be are was file function test error value "
    "return import class self data list dict string path config request response server client "
    "module type check update build run install version result output input line index cache query "
    "session message token handler event stream parse read write close open timeout retry user "
    "model agent record offset buffer chunk batch queue worker thread process signal lock commit "
    "branch merge diff patch review fix bug issue feature refactor rename move delete add should "
    "would could might must will can need want let make use call pass fail raise catch because "
    "when where which while until after before since then else also only just still first last "
    "next previous every each some many few more most less least new old same other fast slow large "
    "small empty full valid invalid missing extra wrong right true false none schema migration "
    "column table row key foreign primary unique constraint transaction rollback café naïve résumé "
    "Zürich über straße 日本語 テスト 中文 한국어 emoji ✓ → ∑ π"
).split()
PROMPT_TOPICS = [
    f"add a {TITLE_WORD} to the search box so it stops firing on every keystroke",
    f"the {TITLE_WORD} in useAutosave is off by one tick, fix it",
    "why does the billing export time out on large accounts",
    "refactor the session cache so it survives a restart",
    "write tests for the retry logic in the http client",
    "the migration fails on an empty table, can you look",
    "rename the config keys to camelCase and keep the old ones working",
    "add pagination to the admin users endpoint",
    "profile the parser, it got slow after the last merge",
    "explain how the scheduler picks the next job",
    "fix the flaky test in test_worker_shutdown",
    "port the bash deploy script to python",
    "make the CLI print a clear error when the token is missing",
    "update the README with the new install steps",
    "Übersetze die Fehlermeldungen ins Deutsche",
    "日本語のエラーメッセージを直してください",
    "clean up the unused imports and run the linter",
    "the dashboard shows stale numbers after a deploy",
]
CUSTOM_TITLES = [
    f"search {TITLE_WORD} fix",
    "billing export timeouts",
    "session cache rework",
    "flaky shutdown test",
    "release prep",
]
MODELS = {OLD_VERSION: ["claude-opus-4-8", "claude-sonnet-4-6"], NEW_VERSION: ["claude-opus-5-5"]}


def _text_buffer(seed: str, size: int, extra: list[str], rate: float) -> str:
    """``size`` characters of word soup with lines, code and quotes; ``extra`` words at ``rate``."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(WORDS))]
    words = rng.choices(WORDS, weights, k=size // 5)
    for word in extra:
        for _ in range(max(1, int(len(words) * rate))):
            words[rng.randrange(len(words))] = word
    out = []
    for start in range(0, len(words), 12):
        line = " ".join(words[start : start + 12])
        pick = rng.random()
        if pick < 0.05:
            line = f'    if {words[start]} is None:\n        raise ValueError("{line}")'
        elif pick < 0.08:
            line = f"\t{line}\\n \"{words[start]}\" {{'k': 1}}"
        out.append(line)
    text = "\n".join(out)
    while len(text) < size:
        text += "\n" + text
    return text[:size]


class Texts:
    """Deterministic text cut from two buffers: conversation prose (has MESSAGE_WORD) and neutral."""

    def __init__(self) -> None:
        self.prose = _text_buffer("prose", 4_000_000, [MESSAGE_WORD], 1 / 5_000)
        self.neutral = _text_buffer("neutral", 2_000_000, [], 0)
        self.system_prompt = [self.neutral[n * 7000 : n * 7000 + 5800] for n in range(10)]
        self.tools = [
            {
                "name": name,
                "description": self.neutral[200_000 + n * 4000 : 200_000 + n * 4000 + 2400],
                "input_schema": {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {
                        key: {"description": self.neutral[300_000 + n * 999 + k * 97 :][:160], "type": "string"}
                        for k, key in enumerate(("command", "file_path", "pattern", "description"))
                    },
                    "required": ["command"],
                    "additionalProperties": False,
                },
            }
            for n, name in enumerate(TOOL_NAMES.split(" "))
        ]
        self.skills = self.neutral[400_000:406_200]
        self.agents = self.neutral[410_000:412_000]
        self.memory = self.neutral[420_000:444_000]

    @staticmethod
    def _cut(buffer: str, rng: random.Random, size: int) -> str:
        start = rng.randrange(0, len(buffer) - size) if size < len(buffer) else 0
        return buffer[start : start + size]

    def prose_text(self, rng: random.Random, size: int) -> str:
        return self._cut(self.prose, rng, size)

    def neutral_text(self, rng: random.Random, size: int) -> str:
        return self._cut(self.neutral, rng, size)


def lognormal_size(rng: random.Random, median: float, sigma: float, cap: int) -> int:
    return int(min(cap, median * math.exp(sigma * rng.gauss(0.0, 1.0))))


# -- the plan ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    index: int
    session_id: str
    cwd: str
    version: str
    start: float
    """Epoch seconds of the first record."""
    target: int
    """Bytes to write (the file ends at the first turn boundary past it)."""
    torn: bool
    seed: int


def uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def cwds_for(sessions: int) -> list[str]:
    """Every special folder plus plain ones; about 0.7 * sqrt(sessions) cwds in all."""
    count = max(len(SPECIAL_CWDS) + 1, round(0.7 * math.sqrt(sessions)))
    plain = [f"/home/dev/src/{part}-{kind}" for kind in PLAIN_KINDS for part in PLAIN_PARTS]
    rng = random.Random("cwds")
    rng.shuffle(plain)
    chosen = plain[: count - len(SPECIAL_CWDS)]
    # rank 1 is a plain project (the benchmark's "top project"); the specials sit among the ranks
    ranked = [chosen[0], SPECIAL_CWDS[0], *chosen[1:3]]
    rest = SPECIAL_CWDS[1:] + chosen[3:]
    random.Random("ranks").shuffle(rest)
    return ranked + rest


def fit_sizes(raw: list[float], floors: list[int], budget: int) -> list[int]:
    """Scale ``raw`` so that ``sum(max(floor, scale * raw))`` is ``budget`` (bisection)."""
    if budget <= sum(floors):
        return list(floors)
    low, high = 0.0, budget / max(1e-9, min(raw))
    for _ in range(60):
        mid = (low + high) / 2
        total = sum(max(f, mid * r) for f, r in zip(floors, raw, strict=True))
        low, high = (mid, high) if total < budget else (low, mid)
    return [int(max(f, low * r)) for f, r in zip(floors, raw, strict=True)]


def plan(sessions: int, total_mb: float, big_mb: list[float], seed: int, torn_fraction: float = 0.005) -> list[Session]:
    """Who is where, when, in which version and how big: decided up front, cheap, deterministic."""
    rng = random.Random(f"plan:{seed}")
    cwds = cwds_for(sessions)
    weights = [1.0 / rank for rank in range(1, len(cwds) + 1)]
    owners = list(cwds) + rng.choices(cwds, weights, k=max(0, sessions - len(cwds)))
    owners = owners[:sessions]
    span = SPAN_DAYS * 86400
    starts = sorted(END - span + rng.random() * (span - 3 * 86400) for _ in range(sessions))
    cut = END - span + 0.45 * span
    versions = [OLD_VERSION if s < cut else NEW_VERSION for s in starts]
    rng.shuffle(owners)
    # long-tailed sizes: lognormal body, a Pareto tail for ~6 %, then the named big sessions
    raw = []
    for _ in range(sessions):
        size = math.exp(0.8 * rng.gauss(0.0, 1.0))
        if rng.random() < 0.06:
            size *= min(40.0, rng.paretovariate(1.2))
        raw.append(size)
    floors = [175_000 if v == NEW_VERSION else 25_000 for v in versions]
    big = [int(mb * MB) for mb in big_mb][:sessions]
    big_slots = rng.sample(range(sessions), len(big))
    rest = sorted(set(range(sessions)) - set(big_slots))
    fitted = fit_sizes([raw[i] for i in rest], [floors[i] for i in rest], int(total_mb * MB) - sum(big))
    targets = [0] * sessions
    for i, size in zip(rest, fitted, strict=True):
        targets[i] = size - 3_000  # a session overshoots its target by about one final reply
    for i, size in zip(big_slots, big, strict=True):
        targets[i] = size
    torn_count = 0 if torn_fraction <= 0 else max(1, round(sessions * torn_fraction))
    torn = set(rng.sample(rest or [0], min(torn_count, len(rest) or 1)))
    plans = []
    for i in range(sessions):
        start = starts[i]
        if targets[i] >= 20 * MB:  # a long-running session: started weeks ago, active until recently
            start = min(start, END - 30 * 86400)
        plans.append(Session(i, uuid4(rng), owners[i], versions[i], start, targets[i], i in torn, rng.getrandbits(63)))
    return plans


# -- one session ------------------------------------------------------------------------------
@dataclass
class Counts:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    tool_pairs: int = 0
    compact_boundaries: int = 0
    api_errors: int = 0
    torn: int = 0
    custom_titles: int = 0
    sizes: list[int] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        for name in ("files", "bytes", "lines", "tool_pairs", "compact_boundaries", "api_errors", "torn"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.custom_titles += other.custom_titles
        self.sizes.extend(other.sizes)
        for version, count in other.versions.items():
            self.versions[version] = self.versions.get(version, 0) + count


_TEXTS: Texts | None = None


def texts() -> Texts:
    global _TEXTS
    if _TEXTS is None:
        _TEXTS = Texts()
    return _TEXTS


_STAMPS: dict[int, str] = {}


def stamp(t: float) -> str:
    """ISO 8601 UTC with milliseconds, as Claude Code writes it."""
    t = min(t, END)
    second = int(t)
    head = _STAMPS.get(second)
    if head is None:
        if len(_STAMPS) > 100_000:
            _STAMPS.clear()
        head = _STAMPS[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{head}.{int((t - second) * 1000):03d}Z"


class LineWriter:
    """Streams one file's JSON lines in writes of about 1 MiB, holding the last line back so a
    torn file (a writer killed mid-line) can lose half of it."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.last_line = b""
        self.written = 0

    def emit(self, record: dict[str, Any]) -> None:
        if self.last_line:
            self.pending.append(self.last_line)
            self.pending_bytes += len(self.last_line)
            if self.pending_bytes > 1 << 20:
                self.flush()
        self.last_line = orjson.dumps(record) + b"\n"

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.handle.write(data)
        self.written += len(data)
        self.pending.clear()
        self.pending_bytes = 0

    @property
    def size(self) -> int:
        return self.written + self.pending_bytes + len(self.last_line)

    def close(self, torn: bool) -> None:
        """Write the last line (half of it, with no newline, when ``torn``) and close."""
        self.flush()
        last = self.last_line[: max(1, len(self.last_line) // 2)] if torn else self.last_line
        self.handle.write(last)
        self.written += len(last)
        self.handle.close()


class Writer(LineWriter):
    """Builds one session's records in the version's shapes and streams them to its file."""

    def __init__(self, plan_: Session, path: Path) -> None:
        self.p = plan_
        self.rng = random.Random(plan_.seed)
        self.t = plan_.start
        self.new = plan_.version == NEW_VERSION
        self.tx = texts()
        super().__init__(path)
        self.parent: str | None = None
        self.counts = Counts(files=1)
        self.model = self.rng.choice(MODELS[plan_.version])
        self.branch = self.rng.choice(["main", "main", "main", "develop", "feature/cache", "fix/flaky-test"])
        self.common = {
            "userType": "external",
            "entrypoint": "cli",
            "cwd": plan_.cwd,
            "sessionId": plan_.session_id,
            "version": plan_.version,
            "gitBranch": self.branch,
        }

    # output
    def emit(self, record: dict[str, Any]) -> None:
        super().emit(record)
        self.counts.lines += 1

    def finish(self, path: Path) -> Counts:
        self.close(torn=self.p.torn)
        if self.p.torn:
            self.counts.torn = 1
        os.utime(path, (min(self.t, END), min(self.t, END)))
        self.counts.bytes = self.written
        self.counts.sizes = [self.written]
        self.counts.versions = {self.p.version: 1}
        return self.counts

    # helpers
    def tick(self, low: float, high: float) -> str:
        self.t += low + self.rng.random() * (high - low)
        return stamp(self.t)

    def chained(self, record: dict[str, Any]) -> str:
        """A conversation record: parentUuid chain, uuid, timestamp, the common fields."""
        uid = uuid4(self.rng)
        record = {"parentUuid": self.parent, "isSidechain": False, **record, "uuid": uid}
        record["timestamp"] = self.tick(0.005, 0.2)
        record.update(self.common)
        self.emit(record)
        self.parent = uid
        return uid

    def attachment(self, body: dict[str, Any], rendered: str | None = None) -> None:
        record: dict[str, Any] = {"attachment": body, "type": "attachment"}
        uid = uuid4(self.rng)
        full = {"parentUuid": self.parent, "isSidechain": False, **record, "uuid": uid, "timestamp": stamp(self.t)}
        if rendered is not None:
            full["rendered"] = [{"content": f"<system-reminder>\n{rendered}\n</system-reminder>"}]
            full["renderedRole"] = "system"
        full.update(self.common)
        self.emit(full)
        self.parent = uid

    def usage(self, output: int) -> dict[str, Any]:
        rng = self.rng
        created = rng.randint(0, 4000)
        usage: dict[str, Any] = {
            "input_tokens": rng.randint(3, 40),
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": rng.randint(10_000, 90_000),
            "output_tokens": output,
        }
        if self.new:
            usage["output_tokens_details"] = {"thinking_tokens": 0}
        usage.update(
            {
                "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                "service_tier": "standard",
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": created},
                "inference_geo": "",
                "iterations": [],
                "speed": "standard",
            }
        )
        if self.new:
            usage["fallback_credit"] = None
        return usage

    # the fixed head of a session
    def head(self, prompt: str) -> None:
        p, tx = self.p, self.tx
        now = stamp(self.t)
        self.emit(
            {
                "type": "queue-operation",
                "operation": "enqueue",
                "timestamp": now,
                "sessionId": p.session_id,
                "content": prompt,
            }
        )
        self.emit({"type": "queue-operation", "operation": "dequeue", "timestamp": now, "sessionId": p.session_id})
        self.user_prompt(prompt, first=True)
        if self.new:
            self.attachment(
                {
                    "type": "environment",
                    "snapshot": {
                        "workingDirectory": p.cwd,
                        "isWorktree": "/.claude/worktrees/" in p.cwd,
                        "isGitRepo": True,
                        "additionalWorkingDirectories": [],
                        "platform": "linux",
                        "shell": "bash",
                        "osVersion": "Linux 6.18.44",
                    },
                },
                f"# Environment\n - Primary working directory: {p.cwd}\n{tx.neutral[500_000:500_800]}",
            )
            self.attachment(
                {
                    "type": "model",
                    "identity": {"modelId": self.model, "marketingName": "Opus 5.5", "knowledgeCutoff": "June 2026"},
                    "text": f"You are powered by the model named Opus 5.5. The exact model ID is {self.model}.",
                },
                f"You are powered by the model named Opus 5.5. The exact model ID is {self.model}.",
            )
            names = [t["name"] for t in tx.tools]
            self.attachment(
                {
                    "type": "deferred_tools_delta",
                    "addedNames": names,
                    "addedLines": [f"{n}: {tx.neutral[510_000 + i * 50 :][:120]}" for i, n in enumerate(names)],
                    "removedNames": [],
                    "wireHiddenNames": [],
                    "readdedNames": [],
                    "pendingMcpServers": [],
                    "needsAuthMcpServers": [],
                    "failedMcpServers": [],
                },
                tx.neutral[520_000:521_400],
            )
        agent_types = ["claude", "Explore", "general-purpose", "Plan", "statusline-setup"]
        agent_lines = [f"- {a}: {tx.agents[i * 400 : i * 400 + 400]}" for i, a in enumerate(agent_types)]
        delta: dict[str, Any] = {"type": "agent_listing_delta", "addedTypes": agent_types, "addedLines": agent_lines}
        if self.new:
            delta.update({"builtInTypes": agent_types, "builtInPluginTypes": []})
        delta.update({"removedTypes": [], "isInitial": True, "showConcurrencyNote": True})
        self.attachment(
            delta, "Available agent types for the Agent tool:\n" + "\n".join(agent_lines) if self.new else None
        )
        skill_names = ["dataviz", "update-config", "keybindings-help", "deep-research", "pdf", "docx", "xlsx"]
        skills: dict[str, Any] = {"type": "skill_listing", "content": tx.skills, "skillCount": len(skill_names)}
        skills.update({"isInitial": True, "names": skill_names})
        if self.new:
            skills["digests"] = [f"{self.rng.getrandbits(64):016x}" for _ in skill_names]
        self.attachment(skills, tx.skills if self.new else None)
        self.attachment(
            {
                "type": "nested_memory",
                "path": f"{p.cwd}/CLAUDE.md",
                "content": tx.memory[: 4000 if not self.new else 12000],
            }
        )
        if not self.new:
            return
        self.emit({"type": "atis-latch", "atis": "", "sessionId": p.session_id})
        self.attachment({"type": "session_context", "context": {}})
        self.attachment({"type": "date", "date": now[:10]}, f"Today's date is {now[:10]}.")
        self.attachment(
            {
                "type": "remote_session_change",
                "url": None,
                "commit": "Co-Authored-By: Claude Opus 5.5 <noreply@anthropic.com>",
                "pr": "🤖 Generated with [Claude Code](https://claude.com/claude-code)",
                "sendUserFileHint": False,
                "managedCommit": False,
                "managedPr": False,
            },
            tx.neutral[530_000:530_580],
        )
        self.attachment(
            {
                "type": "prompt_snapshot",
                "systemPrompt": tx.system_prompt,
                "reminderFold": False,
                "echoWireToolInputs": False,
                "contextRendering": "announced",
            }
        )
        self.shape_hash = f"{self.rng.getrandbits(256):064x}"
        self.emit(
            {
                "type": "api-request-shape",
                "sessionId": p.session_id,
                "shapeHash": self.shape_hash,
                "timestamp": now,
                "version": p.version,
                "shape": {
                    "system": [
                        {"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."},
                        {"type": "text", "text": tx.neutral[540_000:547_000]},
                    ],
                    "tools": tx.tools,
                },
            }
        )
        self.first_blob = True

    def user_prompt(self, prompt: str, first: bool = False) -> None:
        record: dict[str, Any] = {
            "promptId": uuid4(self.rng),
            "type": "user",
            "message": {"role": "user", "content": prompt},
        }
        if not first:
            self.t += self.rng.expovariate(1 / self.think)  # the user reads, thinks, types
        record_uuid = uuid4(self.rng)
        full = {"parentUuid": self.parent, "isSidechain": False, **record, "uuid": record_uuid}
        full["timestamp"] = self.tick(0.05, 0.1)
        full["permissionMode"] = "default"
        full["promptSource"] = "cli"
        if self.new:
            full["turnOrigin"] = "cli"
            full["turnPosition"] = {"promptIndex": self.prompts, "turnIndex": 1}
        full.update(self.common)
        self.emit(full)
        self.parent = record_uuid
        self.prompts += 1
        self.last_prompt = prompt

    prompts = 0
    think = 240.0
    last_prompt = ""
    first_blob = False
    shape_hash = ""

    # one API call (2.1.329 logs the request before it)
    def api_request(self) -> str:
        ref = uuid4(self.rng)
        if not self.new:
            return ref
        p, tx = self.p, self.tx
        size = 12_000 if self.first_blob else self.rng.randint(200, 1500)
        self.first_blob = False
        blob_hash = f"{self.rng.getrandbits(256):064x}"
        self.emit(
            {
                "type": "api-request-blob",
                "sessionId": p.session_id,
                "hash": blob_hash,
                "message": {"role": "user", "content": [{"type": "text", "text": tx.neutral_text(self.rng, size)}]},
            }
        )
        self.emit(
            {
                "type": "api-request",
                "sessionId": p.session_id,
                "id": ref,
                "timestamp": stamp(self.t),
                "version": p.version,
                "querySource": "repl_main_thread",
                "shapeHash": self.shape_hash,
                "params": {
                    "model": self.model,
                    "betas": [
                        "claude-code-20250219",
                        "interleaved-thinking-2025-05-14",
                        "context-management-2025-06-27",
                    ],
                    "max_tokens": 128000,
                    "thinking": {"type": "adaptive", "display": "omitted"},
                    "output_config": {"effort": "medium"},
                },
                "keep": 0,
                "tail": [blob_hash],
                "requestDigest": f"{self.rng.getrandbits(256):064x}",
            }
        )
        return ref

    def assistant(self, blocks: list[dict[str, Any]], stop: str, output_tokens: int) -> list[str]:
        """One API message, one record per content block, all sharing id, requestId and usage."""
        ref = self.api_request()
        self.tick(1.0, 12.0)
        message_id = f"msg_{self.rng.getrandbits(96):024x}"
        request_id = f"req_{self.rng.getrandbits(96):024x}"
        usage = self.usage(output_tokens)
        uuids = []
        for n, block in enumerate(blocks):
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [block],
                "stop_reason": stop if n == len(blocks) - 1 else None,
                "stop_sequence": None,
                "usage": usage,
            }
            record: dict[str, Any] = {"message": message}
            if self.new:
                record.update({"apiBlockIndex": n, "requestId": request_id, "requestRef": ref})
                record.update({"requestedModel": self.model, "promptCacheRequested": "5m", "type": "assistant"})
            else:
                record.update({"requestId": request_id, "type": "assistant"})
            uid = uuid4(self.rng)
            full = {"parentUuid": self.parent, "isSidechain": False, **record, "uuid": uid}
            full["timestamp"] = self.tick(0.01, 0.6)
            if self.new:
                full.update({"effort": "medium", "perTurnEffort": "medium", "madeBy": "model"})
            full.update(self.common)
            self.emit(full)
            self.parent = uid
            uuids.append(uid)
        return uuids

    def tool_call(self) -> tuple[dict[str, Any], str, dict[str, Any] | str]:
        """A tool_use block, and the text and ``toolUseResult`` of its result (long-tailed size)."""
        rng, tx, cwd = self.rng, self.tx, self.p.cwd
        tool_id = f"toolu_{rng.getrandbits(96):024x}"
        size = lognormal_size(rng, 1500, 1.3, 120_000)
        body = tx.prose_text(rng, size)
        name = rng.choices(["Bash", "Read", "Edit", "Grep", "Glob", "Write", "TodoWrite"], [30, 30, 15, 10, 5, 5, 5])[0]
        path = f"{cwd}/src/{rng.choice(['main', 'util', 'cache', 'server', 'parser'])}{rng.randint(1, 40)}.py"
        result: dict[str, Any] | str
        if name == "Bash":
            command = rng.choice(["pytest -q", "git status", "npm test", "ls -la src", "make build", "ruff check ."])
            tool_input: dict[str, Any] = {"command": command, "description": "Run " + command.split()[0]}
            result = {"stdout": body, "stderr": "", "interrupted": False, "isImage": False, "noOutputExpected": False}
        elif name == "Read":
            tool_input = {"file_path": path}
            lines = body.count("\n") + 1
            result = {
                "type": "text",
                "file": {"filePath": path, "content": body, "numLines": lines, "startLine": 1, "totalLines": lines},
            }
        elif name in ("Edit", "Write"):
            old = tx.neutral_text(rng, rng.randint(40, 600))
            tool_input = {
                "file_path": path,
                "old_string": old,
                "new_string": tx.neutral_text(rng, rng.randint(40, 600)),
            }
            if name == "Write":
                tool_input = {"file_path": path, "content": tx.neutral_text(rng, rng.randint(200, 4000))}
            body = f"The file {path} has been updated successfully."
            result = {"filePath": path, "oldString": old[:200], "structuredPatch": [], "userModified": False}
        elif name == "TodoWrite":
            todos = [
                {"content": tx.neutral_text(rng, 50), "status": "pending", "activeForm": "Working"} for _ in range(3)
            ]
            tool_input = {"todos": todos}
            body = "Todos have been modified successfully."
            result = {"oldTodos": [], "newTodos": todos}
        else:
            tool_input = {"pattern": rng.choice(["def .*cache", "TODO", "import os", "class .*Error"]), "path": cwd}
            result = {"mode": "content", "numFiles": rng.randint(1, 30), "filenames": [], "content": body}
        return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}, body, result

    def tool_results(self, calls: list[tuple[dict[str, Any], str, dict[str, Any] | str]], uuids: list[str]) -> None:
        for (use, body, result), source in zip(calls, uuids[-len(calls) :], strict=True):
            content: Any = body if self.rng.random() < 0.7 else [{"type": "text", "text": body}]
            is_error = self.rng.random() < 0.04
            record: dict[str, Any] = {
                "promptId": uuid4(self.rng),
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {"tool_use_id": use["id"], "type": "tool_result", "content": content, "is_error": is_error}
                    ],
                },
            }
            uid = uuid4(self.rng)
            full = {"parentUuid": self.parent, "isSidechain": False, **record, "uuid": uid}
            full["timestamp"] = self.tick(0.05, 3.0)
            full["toolUseResult"] = f"Error: {body[:300]}" if is_error else result
            full["sourceToolAssistantUUID"] = source
            full.update(self.common)
            self.emit(full)
            self.parent = uid
            self.counts.tool_pairs += 1

    def turn(self) -> None:
        """One prompt's work: API calls with thinking, text and tool calls until a final reply
        (or, rarely, a failed request that ends the turn with the CLI's synthetic error reply)."""
        rng, tx = self.rng, self.tx
        fails = rng.random() < 0.006
        rounds = min(25, int(rng.paretovariate(1.1)) - 1)  # tool rounds in this turn: mostly 0-2, some long
        for n in range(rounds + 1):
            if self.new and rng.random() < 0.004:  # a retried request: the CLI logs it, then succeeds
                self.api_error_retry()
            last = n == rounds or self.size >= self.p.target  # end the turn early at the size target
            if last and fails:
                self.api_error_reply()
                break
            blocks: list[dict[str, Any]] = []
            if rng.random() < 0.35:
                blocks.append(
                    {
                        "type": "thinking",
                        "thinking": tx.prose_text(rng, lognormal_size(rng, 700, 0.9, 20_000)),
                        "signature": f"{rng.getrandbits(512):0128x}",
                    }
                )
            if last or rng.random() < 0.5:
                blocks.append(
                    {
                        "type": "text",
                        "text": tx.prose_text(rng, lognormal_size(rng, 500 if not last else 1200, 1.0, 30_000)),
                    }
                )
            calls = (
                []
                if last
                else [self.tool_call() for _ in range(1 + int(rng.random() < 0.25) + int(rng.random() < 0.1))]
            )
            blocks.extend(use for use, _, _ in calls)
            uuids = self.assistant(blocks, "end_turn" if last else "tool_use", rng.randint(20, 2500))
            if calls:
                self.tool_results(calls, uuids)
            if last:
                break
        self.emit(
            {
                "type": "last-prompt",
                "lastPrompt": self.last_prompt,
                "leafUuid": self.parent,
                "sessionId": self.p.session_id,
            }
        )
        if self.new:
            self.emit(
                {
                    "type": "cost-state",
                    "sessionId": self.p.session_id,
                    "totalCostUSD": round(rng.random() * 3, 6),
                    "totalAPIDuration": rng.randint(1000, 900_000),
                    "totalDuration": rng.randint(1000, 2_000_000),
                    "modelUsage": {
                        self.model: {"inputTokens": rng.randint(100, 10_000), "outputTokens": rng.randint(100, 50_000)}
                    },
                    "hasUnknownModelCost": False,
                }
            )

    def api_error_retry(self) -> None:
        request_id = f"req_{self.rng.getrandbits(96):024x}"
        self.chained(
            {
                "type": "system",
                "subtype": "api_error",
                "level": "error",
                "error": {
                    "message": "529 Overloaded",
                    "status": 529,
                    "requestId": request_id,
                    "formatted": "529 Overloaded",
                },
                "retryInMs": self.rng.randint(300, 8000),
                "retryAttempt": 1,
                "maxRetries": 10,
                "source": "request_retry",
            }
        )
        self.counts.api_errors += 1

    def api_error_reply(self) -> None:
        """The turn fails: the CLI writes a synthetic assistant message with the error (the session ends failed)."""
        message = {
            "id": uuid4(self.rng),
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_details": None,
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
            "content": [
                {
                    "type": "text",
                    "text": "API Error: 500 Internal server error. This is a server-side issue, usually temporary.",
                }
            ],
        }
        record = {
            "type": "assistant",
            "message": message,
            "requestId": f"req_{self.rng.getrandbits(96):024x}",
            "error": "server_error",
            "isApiErrorMessage": True,
            "apiErrorStatus": 500,
        }
        self.chained(record)
        self.counts.api_errors += 1

    def compact(self) -> None:
        """Context ran out: a compact boundary (parentUuid null) and the summary as a user record."""
        uid = uuid4(self.rng)
        record = {
            "parentUuid": None,
            "logicalParentUuid": self.parent,
            "isSidechain": False,
            "type": "system",
            "subtype": "compact_boundary",
            "content": "Conversation compacted",
            "isMeta": False,
            "timestamp": self.tick(1, 30),
            "uuid": uid,
            "level": "info",
            "compactMetadata": {"trigger": "auto", "preTokens": self.rng.randint(150_000, 190_000)},
        }
        record.update(self.common)
        self.emit(record)
        self.parent = uid
        summary = "This session is being continued from a previous conversation that ran out of context. "
        summary += self.tx.neutral_text(self.rng, self.rng.randint(3000, 9000))
        self.chained(
            {
                "type": "user",
                "message": {"role": "user", "content": summary},
                "isVisibleInTranscriptOnly": True,
                "isCompactSummary": True,
            }
        )
        self.counts.compact_boundaries += 1

    def run(self) -> None:
        rng = self.rng
        topic = rng.choice(PROMPT_TOPICS)
        prompt = topic
        if rng.random() < 0.1:
            prompt = f"{topic}\n\n{self.tx.neutral_text(rng, rng.randint(500, 6000))}"  # a pasted log
        self.head(prompt)
        self.turn()
        if rng.random() < 0.04:
            title = rng.choice(CUSTOM_TITLES)
            self.emit({"type": "custom-title", "customTitle": title, "sessionId": self.p.session_id})
            self.emit({"type": "agent-name", "agentName": title, "sessionId": self.p.session_id})
            self.counts.custom_titles += 1
        # pace the session so that it ends before END: about 15 KB per turn
        turns = max(1.0, self.p.target / 15_000)
        room = max(3600.0, END - self.p.start - 3600)
        self.think = min(240.0, 0.5 * room / turns)
        gap = min(86400.0, 0.3 * room / (turns * 0.02))
        compact_every = rng.randint(700_000, 1_500_000)
        next_compact = compact_every
        while self.size < self.p.target:
            if self.size > next_compact:
                self.compact()
                next_compact += compact_every
            if rng.random() < 0.02:  # resumed the next day
                self.t += rng.uniform(0.1, 1.0) * gap
            self.user_prompt(
                rng.choice(["go on", "yes, do that", "now run the tests", rng.choice(PROMPT_TOPICS), "why?"])
            )
            self.turn()


def write_session(config_dir: str, plan_: Session) -> Counts:
    folder = Path(config_dir, "projects", encode_project_dir(plan_.cwd))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan_.session_id}.jsonl"
    writer = Writer(plan_, path)
    writer.run()
    return writer.finish(path)


def _write_many(args: tuple[str, list[Session]]) -> Counts:
    config_dir, plans = args
    total = Counts()
    for plan_ in plans:
        total.add(write_session(config_dir, plan_))
    return total


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0


def generate(
    out: Path,
    sessions: int,
    total_mb: float,
    big_mb: list[float],
    seed: int = 7,
    workers: int | None = None,
    torn_fraction: float = 0.005,
) -> dict[str, Any]:
    """Write the corpus into ``out`` (a ``CLAUDE_CONFIG_DIR``; replaced if it exists) and its manifest."""
    params = {"generator": GENERATOR, "sessions": sessions, "total_mb": total_mb, "big_mb": big_mb, "seed": seed}
    params["torn_fraction"] = torn_fraction
    began = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    (out / "projects").mkdir(parents=True)
    plans = plan(sessions, total_mb, big_mb, seed, torn_fraction)
    # biggest first, in chunks of ~8 MB, so two processes finish together
    plans.sort(key=lambda s: -s.target)
    chunks: list[list[Session]] = []
    budget = 0
    for plan_ in plans:
        if not chunks or budget + plan_.target > 8 * MB:
            chunks.append([])
            budget = 0
        chunks[-1].append(plan_)
        budget += plan_.target
    workers = workers or min(2, os.cpu_count() or 1)
    total = Counts()
    if workers <= 1:
        for chunk in chunks:
            total.add(_write_many((str(out), chunk)))
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for counts in pool.imap_unordered(_write_many, [(str(out), c) for c in chunks]):
                total.add(counts)
    seconds = time.perf_counter() - began
    folders = {encode_project_dir(p.cwd) for p in plans}
    stats = {
        "files": total.files,
        "folders": len(folders),
        "cwds": len({p.cwd for p in plans}),
        "bytes": total.bytes,
        "lines": total.lines,
        "tool_pairs": total.tool_pairs,
        "compact_boundaries": total.compact_boundaries,
        "api_errors": total.api_errors,
        "torn": total.torn,
        "custom_titles": total.custom_titles,
        "versions": total.versions,
        "size_p10": percentile(total.sizes, 10),
        "size_p50": percentile(total.sizes, 50),
        "size_p90": percentile(total.sizes, 90),
        "size_p99": percentile(total.sizes, 99),
        "size_max": max(total.sizes, default=0),
        "seconds": round(seconds, 2),
        "workers": workers,
    }
    manifest = {"params": params, "stats": stats}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_manifest(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure(out: Path, preset: str, seed: int = 7, workers: int | None = None) -> dict[str, Any]:
    """The corpus of a preset in ``out``: reused when its manifest says it was made the same way."""
    settings = PRESETS[preset]
    manifest = load_manifest(out)
    wanted = {"generator": GENERATOR, **settings, "seed": seed, "torn_fraction": 0.005}
    if manifest is not None and manifest.get("params") == wanted:
        return manifest
    return generate(out, settings["sessions"], settings["total_mb"], settings["big_mb"], seed, workers)


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the CLAUDE_CONFIG_DIR to write (replaced if it exists)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--large", action="store_true", help="20,000 sessions, ~5 GB")
    size.add_argument("--quick", action="store_true", help="60 sessions, ~14 MB")
    parser.add_argument("--sessions", type=int, help="override the preset's session count")
    parser.add_argument("--total-mb", type=float, help="override the preset's total size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: 2 or the core count)")
    args = parser.parse_args()
    preset = PRESETS["large" if args.large else "quick" if args.quick else "medium"]
    sessions = args.sessions or preset["sessions"]
    total_mb = args.total_mb or preset["total_mb"]
    big = preset["big_mb"] if args.total_mb is None else [mb for mb in preset["big_mb"] if mb < total_mb / 4]
    manifest = generate(args.out, sessions, total_mb, big, args.seed, args.workers)
    stats = manifest["stats"]
    print(
        f"{stats['files']} sessions in {stats['folders']} folders ({stats['cwds']} cwds), {human(stats['bytes'])}, "
        f"{stats['lines']} lines in {stats['seconds']} s with {stats['workers']} processes"
    )
    print(
        f"sizes p10 {human(stats['size_p10'])}, p50 {human(stats['size_p50'])}, p90 {human(stats['size_p90'])}, "
        f"p99 {human(stats['size_p99'])}, max {human(stats['size_max'])}; versions {stats['versions']}"
    )
    print(
        f"{stats['tool_pairs']} tool pairs, {stats['compact_boundaries']} compact boundaries, "
        f"{stats['api_errors']} API errors, {stats['custom_titles']} custom titles, {stats['torn']} torn last lines"
    )


if __name__ == "__main__":
    main()
