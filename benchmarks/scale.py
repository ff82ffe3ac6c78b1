"""Threadline on a large Claude Code history, beside ccusage on the same corpus in the same run.

Prints one table for a deterministic synthetic corpus (benchmarks/corpus.py): 2,000 sessions /
~0.5 GB (default), 20,000 / ~5 GB (``--large``) or 60 sessions (``--quick``, for CI). Every
Threadline figure comes from a real ``threadline serve`` over stdio (or the real CLI); every round
also runs ``ccusage session --json --offline`` (npm ``ccusage@20.0.24``, installed into
``.cache/ccusage/``) on the same corpus, and each row gives the ratio Threadline / ccusage.
Medians of ``--runs`` rounds (min-max). The page cache is warmed before the first round.

The same run measures a mixed history of the same size beside it (``benchmarks/corpus_agents.py``:
a third each of Claude transcripts, Codex rollouts and Gemini chats; ``--no-mixed`` leaves it out)
and prints a second table: each row for the Claude-only corpus and the mixed one, with the ratio
mixed / Claude-only (issue 8: a mixed history lists as fast as a Claude-only one). Rounds alternate
between the two corpora, each after its files were read into the page cache.

Correctness is checked against an independent full scan done here with orjson (for Codex and
Gemini sessions: the generator's record of what it wrote): every session listed once, each agent's
count, cursor paging through the top project without a duplicate or a gap, ``query`` results
equal to the scan's, token totals equal. A failed check makes the exit status non-zero; a missed
speed target never does.

The server gets its cache folder as ``THREADLINE_CACHE_DIR`` and ``initializationOptions.cacheDir``
(a fresh one per round; the restart and the fresh-process rows reuse that round's).

    .venv/bin/python benchmarks/scale.py              # medium corpus, 3 rounds
    .venv/bin/python benchmarks/scale.py --large      # 20,000 sessions / ~5 GB
    .venv/bin/python benchmarks/scale.py --quick      # seconds; what CI runs (60 sessions each)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from lsprotocol import types as lsp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import corpus, corpus_agents  # noqa: E402
from tests.e2e.harness import ThreadlineClient, server_config, stop_client  # noqa: E402

CCUSAGE = "ccusage@20.0.24"
CCUSAGE_DIR = ROOT / ".cache" / "ccusage"
QUERIES = {"title word": corpus.TITLE_WORD, "message word": corpus.MESSAGE_WORD}
PAGE = 100


# -- the independent full scan ----------------------------------------------------------------
def strings(value: Any) -> Iterator[str]:
    """Every string inside a tool input (its values; keys are not text a user typed)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def message_texts(record: dict[str, Any]) -> Iterator[str]:
    """The text a ``query`` searches in one record (protocol: text, thinking, tool input, tool result)."""
    if record.get("type") not in ("user", "assistant"):
        return
    message = record.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        yield content
        return
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            yield str(block.get("text", ""))
        elif kind == "thinking":
            yield str(block.get("thinking", ""))
        elif kind == "tool_use":
            yield from strings(block.get("input"))
        elif kind == "tool_result":
            result = block.get("content")
            if isinstance(result, str):
                yield result
            elif isinstance(result, list):
                yield from (str(b.get("text", "")) for b in result if isinstance(b, dict) and b.get("type") == "text")


def scan_file(path: str) -> dict[str, Any]:
    """One transcript read the simple way: every complete line parsed, the torn last one skipped."""
    cwd = None
    title = None
    hits = dict.fromkeys(QUERIES.values(), False)
    seen: set[tuple[str, str]] = set()
    output = 0
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            if cwd is None and isinstance(record.get("cwd"), str):
                cwd = record["cwd"]
            if record.get("type") == "custom-title":
                title = record.get("customTitle")
            for text in message_texts(record):
                low = text.lower()
                for word in hits:
                    if not hits[word] and word in low:
                        hits[word] = True
            message = record.get("message")
            if record.get("type") == "assistant" and isinstance(message, dict):
                key = (str(message.get("id")), str(record.get("requestId")))
                if key not in seen:
                    seen.add(key)
                    output += int((message.get("usage") or {}).get("output_tokens") or 0)
    for word in hits:
        if title and word in title.lower():
            hits[word] = True
    return {"id": Path(path).stem, "cwd": cwd, "size": os.path.getsize(path), "hits": hits, "output": output}


@dataclass
class Truth:
    cwd: dict[str, str] = field(default_factory=dict)
    agent: dict[str, str] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    hits: dict[str, set[str]] = field(default_factory=dict)
    output_tokens: int = 0
    seconds: float = 0.0

    @property
    def top(self) -> str:
        counts: dict[str, int] = {}
        for cwd in self.cwd.values():
            counts[cwd] = counts.get(cwd, 0) + 1
        return max(counts, key=lambda c: (counts[c], c))

    def in_project(self, cwd: str) -> set[str]:
        return {sid for sid, c in self.cwd.items() if c == cwd}

    @property
    def biggest(self) -> str:
        return max(self.size, key=lambda sid: self.size[sid])


def scan(homes: Homes) -> Truth:
    """The Claude transcripts scanned here; the Codex and Gemini sessions as their generator
    recorded them (``benchmarks/corpus_agents.py``: what it wrote, independent of the server)."""
    began = time.perf_counter()
    paths = [str(p) for p in (homes.claude / "projects").glob("*/*.jsonl")]
    truth = Truth(hits={word: set() for word in QUERIES.values()})
    for written in homes.written:
        sid = written["session_id"]
        truth.cwd[sid], truth.agent[sid] = written["cwd"], written["agent"]
        truth.size[sid] = written["size"]
        truth.output_tokens += written["output_tokens"]
        for word in written["hits"]:
            truth.hits[word].add(sid)
    with multiprocessing.get_context("fork").Pool(min(2, os.cpu_count() or 1)) as pool:
        for found in pool.imap_unordered(scan_file, paths, chunksize=16):
            truth.cwd[found["id"]] = found["cwd"]
            truth.agent[found["id"]] = "claude"
            truth.size[found["id"]] = found["size"]
            truth.output_tokens += found["output"]
            for word, hit in found["hits"].items():
                if hit:
                    truth.hits[word].add(found["id"])
    truth.seconds = time.perf_counter() - began
    return truth


def warm_page_cache(homes: Homes) -> tuple[float, int]:
    began = time.perf_counter()
    total = 0
    for path in homes.files():
        with open(path, "rb", buffering=0) as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
    return time.perf_counter() - began, total


# -- processes measured from outside ----------------------------------------------------------
def timed_process(argv: list[str], env: dict[str, str], out: Path) -> tuple[float, float, float, int]:
    """Run to completion: wall seconds, max RSS in MB and CPU seconds (the process and its waited-for
    children), exit code."""
    began = time.perf_counter()
    with open(out, "wb") as stdout:
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - began, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, process.returncode


def install_ccusage() -> Path:
    binary = CCUSAGE_DIR / "node_modules" / ".bin" / "ccusage"
    if not binary.exists():
        CCUSAGE_DIR.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install ccusage for the comparison (or pass --no-ccusage).")
        command = [npm, "install", "--prefix", str(CCUSAGE_DIR), "--no-audit", "--no-fund", "--loglevel=error", CCUSAGE]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return binary


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, its reaped children and its live descendants (a catalog
    may parse in worker processes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[n]) for n in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    return ticks + sum(cpu_seconds(int(child)) for child in children)


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the corpus's homes -----------------------------------------------------------------------
@dataclass
class Homes:
    """Where each agent's history lives: a Claude-only corpus has empty Codex and Gemini homes
    (never the user's own ``~/.codex`` or ``~/.gemini``)."""

    claude: Path
    codex: Path
    gemini: Path
    written: list[dict[str, Any]] = field(default_factory=list)
    """The Codex and Gemini sessions of a mixed corpus, from its manifest."""

    def files(self) -> Iterator[Path]:
        yield from (self.claude / "projects").glob("*/*.jsonl")
        yield from (self.codex / "sessions").glob("*/*/*/rollout-*.jsonl")
        yield from (self.gemini / ".gemini" / "tmp").glob("*/chats/session-*.jsonl")

    def options(self) -> dict[str, Any]:
        return {
            "claudeConfigDir": str(self.claude),
            "agents": {"codex": {"home": str(self.codex)}, "gemini": {"home": str(self.gemini)}},
        }


def claude_only(config_dir: Path, work: Path) -> Homes:
    empty = work / "no-other-agents"
    (empty / "codex").mkdir(parents=True, exist_ok=True)
    (empty / "gemini").mkdir(parents=True, exist_ok=True)
    return Homes(config_dir, empty / "codex", empty / "gemini")


def mixed(out: Path, manifest: dict[str, Any]) -> Homes:
    return Homes(out / "claude", out / "codex", out / "gemini", manifest["sessions"])


# -- the server over stdio --------------------------------------------------------------------
class Server:
    """One ``threadline serve`` process, timed from spawn."""

    def __init__(self, homes: Homes, cache_dir: Path) -> None:
        self.homes = homes
        self.cache_dir = cache_dir
        self.client: ThreadlineClient | None = None
        self.spawned = 0.0
        self.initialized = 0.0

    def env(self) -> dict[str, str]:
        return server_env(self.homes, self.cache_dir)

    async def __aenter__(self) -> Server:
        self.spawned = time.perf_counter()
        client = await server_config(self.env(), verbose=False).start()
        assert isinstance(client, ThreadlineClient)
        self.client = client
        await client.initialize_session(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                workspace_folders=[],
                initialization_options={**self.homes.options(), "cacheDir": str(self.cache_dir)},
            )
        )
        self.initialized = time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await stop_client(self.client)

    @property
    def pid(self) -> int:
        assert self.client is not None
        return int(self.client._server.pid)  # type: ignore[attr-defined]

    async def request(self, method: str, params: dict[str, Any]) -> tuple[Any, float]:
        assert self.client is not None
        began = time.perf_counter()
        result = await self.client.request(method, params)
        return result, time.perf_counter() - began

    async def list_all(self, params: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], int, float]:
        """Every page of one listing by cursor: the sessions, the page count, the seconds."""
        sessions: list[dict[str, Any]] = []
        cursor = None
        pages = 0
        began = time.perf_counter()
        while True:
            result, _ = await self.request("session/list", {**params, "limit": limit, "cursor": cursor})
            pages += 1
            sessions.extend(result["sessions"])
            cursor = result.get("nextCursor")
            if not cursor:
                return sessions, pages, time.perf_counter() - began

    async def complete_listing(self, expected: int, limit: int, timeout: float = 1800) -> list[dict[str, Any]]:
        """Page through all projects until one pass holds every session (a server may answer early
        with what it has indexed so far; there is no event for "indexing done" without $/progress)."""
        deadline = time.perf_counter() + timeout
        while True:
            sessions, _, _ = await self.list_all({}, limit)
            if len({s["sessionId"] for s in sessions}) >= expected or time.perf_counter() > deadline:
                return sessions
            await asyncio.sleep(0.05)


def server_env(homes: Homes, cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CLAUDE_CONFIG_DIR": str(homes.claude),
            "CODEX_HOME": str(homes.codex),
            "GEMINI_CLI_HOME": str(homes.gemini),
            "THREADLINE_CACHE_DIR": str(cache_dir),
            "XDG_CACHE_HOME": str(cache_dir / "xdg"),  # nothing lands in the user's own cache
        }
    )
    return env


# -- one round --------------------------------------------------------------------------------
@dataclass
class Round:
    values: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed: list[str] = []
        self.prefix = ""

    def expect(self, ok: bool, what: str, detail: str = "") -> None:
        what = self.prefix + what
        (self.passed if ok else self.failures).append(what if ok else f"{what}: {detail}")


def check_sessions(checks: Checks, what: str, sessions: list[dict[str, Any]], wanted: set[str]) -> None:
    ids = [s["sessionId"] for s in sessions]
    dups = len(ids) - len(set(ids))
    missing = wanted - set(ids)
    extra = set(ids) - wanted
    checks.expect(
        dups == 0 and not missing and not extra,
        f"{what}: {len(wanted)} sessions, each once",
        f"{dups} duplicates, {len(missing)} missing, {len(extra)} unexpected",
    )


async def server_round(
    homes: Homes, cache_dir: Path, truth: Truth, checks: Checks, first: bool, page: int, full_page: int
) -> Round:
    out = Round()
    v = out.values
    top = truth.top
    top_ids = truth.in_project(top)
    everyone = set(truth.cwd)
    async with Server(homes, cache_dir) as server:
        v["initialize"] = server.initialized - server.spawned
        _, took = await server.request("session/list", {"limit": PAGE})
        v["first answer (spawn)"] = time.perf_counter() - server.spawned
        v["first answer (initialize)"] = took
        sessions = await server.complete_listing(len(everyone), full_page)
        v["cold full index"] = time.perf_counter() - server.spawned
        v["cold full index cpu"] = cpu_seconds(server.pid)
        if first:
            check_sessions(checks, f"complete listing, all projects (cursor, limit {full_page})", sessions, everyone)
            for agent in corpus_agents.AGENTS:
                got = sum(1 for s in sessions if s.get("agent") == agent)
                wanted = sum(1 for a in truth.agent.values() if a == agent)
                checks.expect(got == wanted, f"{agent} sessions listed: {wanted}", f"listed {got}")
            listed = sum(int(s["usage"]["outputTokens"]) for s in sessions if s.get("usage"))
            checks.expect(
                listed == truth.output_tokens,
                f"output tokens summed over the listing = the scan's ({truth.output_tokens:,})",
                f"listed {listed:,}",
            )
        warm_all, warm_top = [], []
        for _ in range(10):
            warm_all.append((await server.request("session/list", {"limit": PAGE}))[1])
            warm_top.append((await server.request("session/list", {"cwd": top, "limit": PAGE}))[1])
        v["warm page, all"] = statistics.median(warm_all)
        v["warm page, top"] = statistics.median(warm_top)
        paged, pages, took = await server.list_all({"cwd": top}, page)
        v["paging top"] = took
        v["paging top, per page"] = took / pages
        out.notes["pages"] = str(pages)
        if first:
            check_sessions(checks, f"cursor paging of the top project ({pages} pages of {page})", paged, top_ids)
        for label, word in QUERIES.items():
            found, _, took = await server.list_all({"cwd": top, "query": word}, 1000)
            v[f"search {label}"] = took
            _, again = await server.request("session/list", {"cwd": top, "query": word, "limit": PAGE})
            v[f"search {label}, repeat"] = again
            wanted = truth.hits[word] & top_ids
            out.notes[f"hits {label}"] = str(len(wanted))
            if first:
                check_sessions(checks, f'query "{word}" in the top project = the full scan', found, wanted)
        v["rss after queries"] = vm_hwm_mb(server.pid)
    async with Server(homes, cache_dir) as server:
        await server.request("session/list", {"limit": PAGE})
        v["restart first answer"] = time.perf_counter() - server.spawned
        await server.complete_listing(len(everyone), full_page)
        v["restart complete"] = time.perf_counter() - server.spawned
        v["rss restart"] = vm_hwm_mb(server.pid)
    biggest = truth.biggest
    async with Server(homes, cache_dir) as server:
        result, took = await server.request("session/messages", {"sessionId": biggest, "fromEnd": True, "limit": 50})
        v["last page"] = took
        v["last page (spawn)"] = time.perf_counter() - server.spawned
        v["rss last page"] = vm_hwm_mb(server.pid)
        if first:
            total = int(result["total"])
            checks.expect(
                len(result["messages"]) == min(50, total) and int(result["offset"]) == max(0, total - 50),
                f"session/messages fromEnd 50 of the biggest transcript: the last {min(50, total)} of {total}",
                f"got {len(result['messages'])} from offset {result['offset']}",
            )
    for agent in corpus_agents.AGENTS:
        theirs = [sid for sid, a in truth.agent.items() if a == agent]
        if not theirs or len(set(truth.agent.values())) == 1:
            continue  # a Claude-only corpus: the row above
        biggest = max(theirs, key=lambda sid: truth.size[sid])
        async with Server(homes, cache_dir) as server:
            result, took = await server.request(
                "session/messages", {"sessionId": biggest, "fromEnd": True, "limit": 50}
            )
            v[f"last page {agent}"] = took
            v[f"rss last page {agent}"] = vm_hwm_mb(server.pid)
            out.notes[f"biggest {agent}"] = f"{truth.size[biggest] / 1e6:.0f} MB"
            if first:
                checks.expect(
                    len(result["messages"]) == min(50, int(result["total"])),
                    f"session/messages fromEnd 50 of the biggest {agent} session",
                    f"got {len(result['messages'])} of {result['total']}",
                )
    return out


def cli_round(homes: Homes, cache_dir: Path, top: str, work: Path, checks: Checks, first: bool) -> Round:
    out = Round()
    env = server_env(homes, cache_dir)
    for label, extra in (("cli all", ["--all"]), ("cli top", ["--cwd", top])):
        target = work / f"{label}.json"
        argv = [sys.executable, "-m", "threadline", "list", *extra, "--json"]
        seconds, rss, _, code = timed_process(argv, env, target)
        out.values[label] = seconds
        out.values[f"{label} rss"] = rss
        if first:
            try:
                listed = len(json.loads(target.read_text())["sessions"])
            except (OSError, ValueError, KeyError, TypeError):
                listed = -1
            checks.expect(code == 0 and listed > 0, f"threadline list {' '.join(extra)} --json", f"exit {code}")
    return out


def ccusage_round(binary: Path, config_dir: Path, work: Path, truth: Truth, checks: Checks, first: bool) -> Round:
    out = Round()
    home = work / "empty-home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "CLAUDE_CONFIG_DIR": str(config_dir), "HOME": str(home)}
    target = work / "ccusage.json"
    seconds, rss, cpu, code = timed_process([str(binary), "session", "--json", "--offline"], env, target)
    out.values["ccusage"] = seconds
    out.values["ccusage cpu"] = cpu
    out.values["ccusage rss"] = rss
    if first:
        try:
            data = json.loads(target.read_text())
            count, tokens = len(data["session"]), int(data["totals"]["outputTokens"])
        except (OSError, ValueError, KeyError, TypeError):
            count, tokens = -1, -1
        out.notes["ccusage"] = f"{count} sessions, {tokens:,} output tokens (scan: {truth.output_tokens:,})"
        checks.expect(code == 0 and count == len(truth.cwd), "ccusage ran and saw every session", f"exit {code}")
    return out


# -- the table --------------------------------------------------------------------------------
def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.01:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds * 1000:.1f} ms"


def spread(values: list[float], unit: str = "s") -> str:
    if not values:
        return "—"
    show = (lambda x: f"{x:.0f} MB") if unit == "MB" else fmt
    middle = show(statistics.median(values))
    return middle if len(values) == 1 else f"{middle} ({show(min(values))}-{show(max(values))})"


def ratio(ours: list[float], theirs: list[float]) -> str:
    if not ours or not theirs or statistics.median(theirs) == 0:
        return "—"
    value = statistics.median(ours) / statistics.median(theirs)
    return f"{value:.2g}x" if value < 10 else f"{value:.0f}x"


def table(rounds: list[Round], truth: Truth, label: str, page: int) -> str:
    def col(key: str) -> list[float]:
        return [r.values[key] for r in rounds if key in r.values]

    notes: dict[str, str] = {}
    for r in rounds:
        notes.update({k: v for k, v in r.notes.items() if k not in notes})
    cc, cc_rss = col("ccusage"), col("ccusage rss")
    top = truth.top
    top_n = len(truth.in_project(top))
    top_mb = sum(truth.size[s] for s in truth.in_project(top)) / 1e6
    big_mb = truth.size[truth.biggest] / 1e6
    q = {k: notes.get(f"hits {k}", "?") for k in QUERIES}
    rows: list[tuple[str, str, str, str, str]] = [
        (
            "cold full index: spawn → complete `session/list`, all projects",
            spread(col("cold full index")),
            spread(cc),
            ratio(col("cold full index"), cc),
            "≤ ccusage",
        ),
        (
            "… CPU of that (server process tree, user + sys)",
            spread(col("cold full index cpu")),
            spread(col("ccusage cpu")),
            ratio(col("cold full index cpu"), col("ccusage cpu")),
            "",
        ),
        (
            "first answer: first `session/list` (100), from spawn",
            spread(col("first answer (spawn)")),
            spread(cc),
            ratio(col("first answer (spawn)"), cc),
            "",
        ),
        ("… the same, from the `initialize` response", spread(col("first answer (initialize)")), "", "", ""),
        (
            "restart (same cache): spawn → complete first listing",
            spread(col("restart complete")),
            spread(cc),
            ratio(col("restart complete"), cc),
            "≤ 300 ms",
        ),
        ("… restart: spawn → first answer", spread(col("restart first answer")), "", "", ""),
        (
            "warm page of 100, all projects (median of 10)",
            spread(col("warm page, all")),
            spread(cc),
            ratio(col("warm page, all"), cc),
            "≤ 10 ms",
        ),
        (
            f"warm page of 100, top project ({top_n} sessions, {top_mb:.0f} MB)",
            spread(col("warm page, top")),
            spread(cc),
            ratio(col("warm page, top"), cc),
            "≤ 10 ms",
        ),
        (
            f"cursor paging, top project: all {notes.get('pages', '?')} pages of {page}",
            spread(col("paging top")),
            spread(cc),
            ratio(col("paging top"), cc),
            "",
        ),
        ("… per page", spread(col("paging top, per page")), "", "", "≤ 10 ms"),
        (
            f'search "{corpus.TITLE_WORD}" (title word), top project, all {q["title word"]} hits',
            spread(col("search title word")),
            spread(cc),
            ratio(col("search title word"), cc),
            "≤ 200 ms",
        ),
        ("… repeated, first page", spread(col("search title word, repeat")), "", "", "≤ 200 ms"),
        (
            f'search "{corpus.MESSAGE_WORD}" (message word), top project, all {q["message word"]} hits',
            spread(col("search message word")),
            spread(cc),
            ratio(col("search message word"), cc),
            "≤ 200 ms",
        ),
        ("… repeated, first page", spread(col("search message word, repeat")), "", "", "≤ 200 ms"),
        (
            f"last page: `session/messages` fromEnd 50 of the biggest ({big_mb:.0f} MB), fresh process",
            spread(col("last page")),
            spread(cc),
            ratio(col("last page"), cc),
            "≤ 150 ms",
        ),
        ("… the same, from spawn", spread(col("last page (spawn)")), "", "", ""),
        (
            "peak RSS (VmHWM), server: cold index + queries",
            spread(col("rss after queries"), "MB"),
            spread(cc_rss, "MB"),
            ratio(col("rss after queries"), cc_rss),
            "≤ 200 MB",
        ),
        (
            "… restart process / fresh `session/messages` process",
            f"{spread(col('rss restart'), 'MB')} / {spread(col('rss last page'), 'MB')}",
            "",
            "",
            "≤ 200 MB",
        ),
        (
            "CLI `threadline list --all --json` (wall)",
            spread(col("cli all")),
            spread(cc),
            ratio(col("cli all"), cc),
            "",
        ),
        ("… max RSS", spread(col("cli all rss"), "MB"), spread(cc_rss, "MB"), ratio(col("cli all rss"), cc_rss), ""),
        (
            "CLI `threadline list --cwd <top> --json` (wall)",
            spread(col("cli top")),
            spread(cc),
            ratio(col("cli top"), cc),
            "",
        ),
        ("… max RSS", spread(col("cli top rss"), "MB"), spread(cc_rss, "MB"), ratio(col("cli top rss"), cc_rss), ""),
        ("`initialize` from spawn (imports)", spread(col("initialize")), "", "", ""),
    ]
    head = (
        f"| {label} | Threadline | ccusage session --json --offline | ratio | target (20,000 / 5 GB) |",
        "|---|---|---|---|---|",
    )
    body = [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    return "\n".join([*head, *body])


COMPARED = [
    ("cold full index: spawn → complete `session/list`, all projects", "cold full index", "s"),
    ("… CPU of that (server process tree)", "cold full index cpu", "s"),
    ("first answer of a cold server, from spawn", "first answer (spawn)", "s"),
    ("restart (same cache): spawn → first answer", "restart first answer", "s"),
    ("restart: spawn → complete listing", "restart complete", "s"),
    ("warm page of 100, all projects", "warm page, all", "s"),
    ("warm page of 100, top project", "warm page, top", "s"),
    ("cursor paging, top project, per page", "paging top, per page", "s"),
    (f'search "{corpus.TITLE_WORD}" (title word), top project, first page', "search title word, repeat", "s"),
    (f'search "{corpus.MESSAGE_WORD}" (message word), top project, first page', "search message word, repeat", "s"),
    ("last 50 messages of the biggest session, fresh process", "last page", "s"),
    ("peak RSS (VmHWM), server: cold index + queries", "rss after queries", "MB"),
    ("CLI `threadline list --all --json` (wall)", "cli all", "s"),
]


def compare(runs: list[tuple[str, Truth, dict[str, Any], list[Round]]]) -> str:
    """Claude-only beside mixed, measured in the same run: the mixed / Claude-only ratio."""
    (a_label, a_truth, a_stats, a_rounds), (b_label, b_truth, b_stats, b_rounds) = runs

    def col(rounds: list[Round], key: str) -> list[float]:
        return [r.values[key] for r in rounds if key in r.values]

    def head(label: str, truth: Truth, stats: dict[str, Any]) -> str:
        top = len(truth.in_project(truth.top))
        return f"{label}: {stats['files']:,} sessions / {stats['bytes'] / 1e9:.2f} GB (top project {top:,})"

    lines = [
        f"| measure (medians of {len(a_rounds)}) | {head(a_label, a_truth, a_stats)} | "
        f"{head(b_label, b_truth, b_stats)} | mixed / Claude-only |",
        "|---|---|---|---|",
    ]
    for name, key, unit in COMPARED:
        a, b = col(a_rounds, key), col(b_rounds, key)
        lines.append(f"| {name} | {spread(a, unit)} | {spread(b, unit)} | {ratio(b, a)} |")
    notes: dict[str, str] = {}
    for r in b_rounds:
        notes.update(r.notes)
    for agent in corpus_agents.AGENTS:
        if f"last page {agent}" in b_rounds[0].values:
            b, rss = col(b_rounds, f"last page {agent}"), col(b_rounds, f"rss last page {agent}")
            lines.append(
                f"| … of the biggest {agent} session ({notes.get(f'biggest {agent}', '?')}): time / peak RSS "
                f"| | {spread(b)} / {spread(rss, 'MB')} | |"
            )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    preset = "large" if args.large else "quick" if args.quick else "medium"
    config_dir = args.corpus or ROOT / ".cache" / "scale" / preset
    began = time.perf_counter()
    manifest = corpus.ensure(config_dir, preset)
    stats = manifest["stats"]
    made = time.perf_counter() - began
    print(
        f"corpus {config_dir}: {stats['files']} sessions in {stats['folders']} folders, {stats['bytes'] / 1e6:.0f} MB, "
        f"p50 {stats['size_p50'] / 1e3:.0f} KB, max {stats['size_max'] / 1e6:.0f} MB, {stats['torn']} torn last lines "
        f"(generated in {stats['seconds']} s with {stats['workers']} processes; ready in {made:.1f} s)",
        flush=True,
    )
    mixed_dir = args.mixed_corpus or ROOT / ".cache" / "scale" / f"mixed-{preset}"
    mixed_manifest = None
    if not args.no_mixed:
        began = time.perf_counter()
        mixed_manifest = corpus_agents.ensure(mixed_dir, preset)
        m = mixed_manifest["stats"]
        parts = ", ".join(f"{agent} {v['files']} / {v['bytes'] / 1e6:.0f} MB" for agent, v in m["by_agent"].items())
        print(
            f"mixed corpus {mixed_dir}: {m['files']} sessions, {m['bytes'] / 1e6:.0f} MB ({parts}), p50 "
            f"{m['size_p50'] / 1e3:.0f} KB, max {m['size_max'] / 1e6:.0f} MB, {m['torn']} torn last lines "
            f"(generated in {m['seconds']} s; ready in {time.perf_counter() - began:.1f} s)",
            flush=True,
        )
    binary = None if args.no_ccusage else install_ccusage()
    checks = Checks()
    ccusage_note = ""
    with tempfile.TemporaryDirectory(prefix="threadline-scale-") as tmp:
        base = Path(tmp)
        corpora: list[tuple[str, Homes, dict[str, Any]]] = [("Claude-only", claude_only(config_dir, base), stats)]
        if mixed_manifest is not None:
            corpora.append(("mixed", mixed(mixed_dir, mixed_manifest), mixed_manifest["stats"]))
        truths: list[Truth] = []
        for label, homes, _ in corpora:
            truth = scan(homes)
            truths.append(truth)
            print(
                f"{label}: full scan with orjson (2 processes): {truth.seconds:.2f} s; top project {truth.top} "
                f"({len(truth.in_project(truth.top))} sessions)",
                flush=True,
            )
        rounds: list[list[Round]] = [[] for _ in corpora]
        for n in range(args.runs):
            first = n == 0
            for index, ((label, homes, _), truth) in enumerate(zip(corpora, truths, strict=True)):
                checks.prefix = f"{label}: " if len(corpora) > 1 else ""
                work = base / f"{index}-round-{n}"
                cache_dir = work / "cache"
                cache_dir.mkdir(parents=True)
                warm, read = warm_page_cache(homes)  # each round starts with the corpus in the page cache
                if first:
                    print(f"{label}: page cache warmed: {read / 1e6:.0f} MB in {warm:.2f} s", flush=True)
                merged = Round()
                if binary is not None and index == 0:
                    cc = ccusage_round(binary, homes.claude, work, truth, checks, first)
                    merged.values.update(cc.values)
                    ccusage_note = cc.notes.get("ccusage", ccusage_note)
                served = await server_round(homes, cache_dir, truth, checks, first, args.page, args.full_page)
                merged.values.update(served.values)
                merged.notes.update(served.notes)
                cli = cli_round(homes, cache_dir, truth.top, work, checks, first)
                merged.values.update(cli.values)
                rounds[index].append(merged)
                print(f"{label}: round {n + 1}/{args.runs} done", file=sys.stderr, flush=True)
    label = f"{stats['files']:,} sessions / {stats['bytes'] / 1e9:.2f} GB, medians of {args.runs}"
    print()
    print(table(rounds[0], truths[0], label, args.page))
    print()
    if len(corpora) > 1:
        print(compare([(c[0], t, c[2], r) for c, t, r in zip(corpora, truths, rounds, strict=True)]))
        print()
    if ccusage_note:
        print(f"ccusage: {ccusage_note}")
    for line in checks.passed:
        print(f"ok: {line}")
    for line in checks.failures:
        print(f"FAILED: {line}")
    return 1 if checks.failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--large", action="store_true", help="20,000 sessions / ~5 GB")
    size.add_argument("--quick", action="store_true", help="60 sessions, one round: the CI check")
    parser.add_argument("--runs", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    parser.add_argument("--corpus", type=Path, default=None, help="where the corpus lives (default .cache/scale/)")
    parser.add_argument("--no-ccusage", action="store_true", help="leave the ccusage comparison out")
    parser.add_argument("--no-mixed", action="store_true", help="leave the mixed 3-agent corpus out")
    parser.add_argument("--mixed-corpus", type=Path, default=None, help="where the mixed corpus lives")
    args = parser.parse_args()
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    # the quick corpus is small: page it in small steps so that the cursor is really exercised
    args.page, args.full_page = (5, 25) if args.quick else (PAGE, 1000)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
