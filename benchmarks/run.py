"""Threadline's speed and memory, measured over stdio against a real server process.

Prints one table. Targets: ``workflow/start`` → response per agent over 30 starts, one at a
time (issue 8): Claude and Gemini p99 <= 100 ms (the server mints the id), Codex p99 <= 2 s
and within 50 ms of Codex's own ``thread.started``; transcript appears -> session/detected
p50 <= 100 ms, p99 <= 300 ms; line appended -> session/updated with it (following) p50 <=
100 ms (issue 2). Also: session/list over a large synthetic history, cold and warm, and the
server's peak memory.

The agents are the fakes (``tests/agents/fake_*.py``); ``--real`` runs the pinned real CLIs
instead (installed into ``.cache/`` on first use, as the real-agent tests do), offline against
their loopback model-API stubs. Codex runs twice: directly (the start row), and behind
``benchmarks/stamp_stdout.py``, which notes when Codex printed ``thread.started``; the gap row
is the response's arrival minus that moment, per start (both on ``CLOCK_MONOTONIC``).

    .venv/bin/python benchmarks/run.py            # full run
    .venv/bin/python benchmarks/run.py --real     # the per-agent rows with the real CLIs
    .venv/bin/python benchmarks/run.py --quick    # a few samples, to keep it working in CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.agents.codex_fixtures import make_codex_agent  # noqa: E402
from tests.agents.fixtures import make_agent  # noqa: E402
from tests.agents.gemini_fixtures import make_gemini  # noqa: E402
from tests.e2e.harness import ThreadlineClient, start_client, stop_client  # noqa: E402

from threadline.agents.claude.paths import encode_project_dir  # noqa: E402

FAKE = [sys.executable, str(ROOT / "tests" / "agents" / "fake_claude.py")]
STAMP = [sys.executable, "-I", "-S", str(ROOT / "benchmarks" / "stamp_stdout.py")]
AGENT_TARGETS = {"claude": "p99 <= 100", "gemini": "p99 <= 100", "codex": "p99 <= 2000"}
TURN_TIMEOUT = 120.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def record(session_id: str, cwd: str, n: int, text: str) -> str:
    return json.dumps(
        {
            "parentUuid": None,
            "isSidechain": False,
            "type": "user" if n % 2 == 0 else "assistant",
            "message": {"role": "user", "content": text}
            if n % 2 == 0
            else {
                "id": f"msg_{session_id[:8]}_{n}",
                "role": "assistant",
                "model": "claude-opus-4-8",
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": 100, "output_tokens": 20},
            },
            "uuid": str(uuid.uuid4()),
            "timestamp": f"2026-11-{1 + n % 28:02d}T10:00:{n % 60:02d}.000Z",
            "cwd": cwd,
            "sessionId": session_id,
            "version": "2.1.197",
            "gitBranch": "main",
        }
    )


def rss_kb(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class Bench:
    def __init__(self, base: Path) -> None:
        self.project = Path(os.path.realpath(base / "project"))
        self.project.mkdir()
        self.home = base / "claude-home"
        self.folder = self.home / "projects" / encode_project_dir(str(self.project))
        self.folder.mkdir(parents=True)
        self.options = {"claudeConfigDir": str(self.home), "agents": {"claude": {"command": FAKE}}}
        self.client: ThreadlineClient | None = None

    async def __aenter__(self) -> Bench:
        self.client = await start_client([self.project], self.options, verbose=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await stop_client(self.client)

    async def starts(self, count: int, one_at_a_time: bool = False) -> list[float]:
        """Start ``count`` workflows: back to back (earlier agents still running), or each after
        the previous turn ended (the latency of the request alone)."""
        assert self.client is not None
        times = []
        ids = []
        for n in range(count):
            begin = time.perf_counter()
            result = await self.client.request("workflow/start", {"cwd": str(self.project), "prompt": f"bench {n}"})
            times.append((time.perf_counter() - begin) * 1000)
            ids.append(result["sessionId"])
            if one_at_a_time:
                await self.client.wait_for(
                    "session/updated",
                    lambda p, s=result["sessionId"]: (
                        p["session"]["sessionId"] == s and p["session"]["status"] != "running"
                    ),
                    timeout=60,
                )
        for session_id in ids:
            await self.client.wait_for(
                "session/updated",
                lambda p, s=session_id: p["session"]["sessionId"] == s and p["session"]["status"] != "running",
                timeout=60,
            )
        return times

    async def detections(self, count: int) -> list[float]:
        assert self.client is not None
        times = []
        for n in range(count):
            session_id = str(uuid.uuid4())
            mark = len(self.client.received)
            line = record(session_id, str(self.project), 0, f"detect me {n}") + "\n"
            begin = time.perf_counter()
            with open(self.folder / f"{session_id}.jsonl", "w") as handle:
                handle.write(line)
            await self.client.wait_for(
                "session/detected", lambda p, s=session_id: p["session"]["sessionId"] == s, start=mark
            )
            times.append((time.perf_counter() - begin) * 1000)
        return times

    async def appends(self, count: int) -> list[float]:
        assert self.client is not None
        session_id = str(uuid.uuid4())
        path = self.folder / f"{session_id}.jsonl"
        path.write_text(record(session_id, str(self.project), 0, "follow me") + "\n")
        await self.client.wait_for("session/detected", lambda p: p["session"]["sessionId"] == session_id)
        await self.client.request("session/messages", {"sessionId": session_id, "follow": True})
        times = []
        for n in range(1, count + 1):
            mark = len(self.client.received)
            text = f"appended line {n}"
            begin = time.perf_counter()
            with open(path, "a") as handle:
                handle.write(record(session_id, str(self.project), n * 2, text) + "\n")
            await self.client.wait_for(
                "session/updated",
                lambda p, t=text: any(b.get("text") == t for m in p["appended"] for b in m["content"]),
                start=mark,
            )
            times.append((time.perf_counter() - begin) * 1000)
            await asyncio.sleep(0.06)  # pace appends past the 50 ms coalescing window, as a turn would
        return times


class AgentStarts:
    """``workflow/start`` → response for each agent, one start at a time (each after the
    previous turn ended), over stdio against one server with all three agents configured."""

    def __init__(self, base: Path, real: bool) -> None:
        self.project = Path(os.path.realpath(base / "project"))
        self.project.mkdir(parents=True)
        self.stamps = base / "thread-started.txt"
        self.claude = make_agent("real-2.1.197" if real else "fake", base / "claude")
        self.codex = make_codex_agent("real-0.171.0" if real else "fake", base / "codex")
        self.gemini = make_gemini("real-0.61.0" if real else "fake", base / "gemini")
        self.versions = {a: getattr(self, a).version for a in ("claude", "codex", "gemini")}

    def close(self) -> None:
        for agent in (self.claude, self.codex, self.gemini):
            agent.close()

    def options(self, stamped: bool) -> dict[str, Any]:
        codex = [*STAMP, str(self.stamps), "--", *self.codex.argv] if stamped else self.codex.argv
        return {
            "claudeConfigDir": str(self.claude.config_dir),
            "agents": {
                "claude": {"command": self.claude.argv, "env": self.claude.extra_env},
                "codex": {"command": codex, "env": self.codex.extra_env, "home": str(self.codex.codex_home)},
                "gemini": {"command": self.gemini.argv, "env": self.gemini.extra_env, "home": str(self.gemini.home)},
            },
        }

    async def run(self, agent: str, count: int, stamped: bool = False) -> tuple[list[float], dict[str, float]]:
        """Milliseconds per start, and when each response arrived (``time.monotonic()``) by id."""
        client = await start_client([self.project], self.options(stamped), verbose=False)
        times: list[float] = []
        arrived: dict[str, float] = {}
        try:
            await client.request("session/list", {"cwd": str(self.project)})
            for n in range(count):
                mark = len(client.received)
                params = {"cwd": str(self.project), "prompt": f"bench {n}", "agent": agent}
                begin = time.monotonic()
                result = await client.request("workflow/start", params)
                end = time.monotonic()
                times.append((end - begin) * 1000)
                session_id = result["sessionId"]
                arrived[session_id] = end
                update = await client.wait_for(
                    "session/updated",
                    lambda p, s=session_id: p["session"]["sessionId"] == s and p["session"]["status"] != "running",
                    timeout=TURN_TIMEOUT,
                    start=mark,
                )
                if update["session"]["status"] != "completed":
                    raise SystemExit(f"a {agent} turn ended {update['session']['status']}: {update['session']}")
        finally:
            await stop_client(client)
        return times, arrived

    def gaps(self, arrived: dict[str, float]) -> list[float]:
        """Response arrival minus Codex's ``thread.started``, in ms, for every stamped start."""
        printed = {}
        for line in self.stamps.read_text().splitlines():
            at, _, thread_id = line.partition(" ")
            printed[thread_id] = float(at)
        missing = set(arrived) - set(printed)
        if missing:
            raise SystemExit(f"no thread.started stamp for {len(missing)} Codex starts")
        return [(arrived[s] - printed[s]) * 1000 for s in arrived]


async def per_agent(base: Path, count: int, real: bool) -> tuple[list[tuple[str, list[float], str]], dict[str, str]]:
    starts = AgentStarts(base, real)
    try:
        rows = []
        for agent in ("claude", "gemini", "codex"):
            times, _ = await starts.run(agent, count)
            rows.append((f"workflow/start -> response, {agent}", times, AGENT_TARGETS[agent]))
        stamped, arrived = await starts.run("codex", count, stamped=True)
        rows.append(("  codex behind the stamping relay", stamped, "(the relay adds its start)"))
        rows.append(("  codex: response - its thread.started", starts.gaps(arrived), "p99 <= 50"))
        return rows, starts.versions
    finally:
        starts.close()


def make_history(folder: Path, cwd: str, sessions: int, messages: int, text_bytes: int) -> int:
    total = 0
    filler = "lorem ipsum " * (text_bytes // 12)
    for _ in range(sessions):
        session_id = str(uuid.uuid4())
        lines = [record(session_id, cwd, n, f"message {n} {filler}") for n in range(messages)]
        data = "\n".join(lines) + "\n"
        (folder / f"{session_id}.jsonl").write_text(data)
        total += len(data)
    return total


async def listing(base: Path, sessions: int, messages: int, text_bytes: int) -> dict[str, float]:
    bench = Bench(base)
    size = make_history(bench.folder, str(bench.project), sessions, messages, text_bytes)
    async with bench:
        assert bench.client is not None
        pid = bench.client._server.pid  # type: ignore[attr-defined]
        before = rss_kb(pid)[0]
        begin = time.perf_counter()
        # A list during the first indexing answers with what is indexed so far: poll until complete.
        while True:
            first = await bench.client.request("session/list", {"cwd": str(bench.project), "limit": 1000})
            if len(first["sessions"]) >= sessions:
                break
        cold = (time.perf_counter() - begin) * 1000
        warm_times = []
        for _ in range(5):
            begin = time.perf_counter()
            await bench.client.request("session/list", {"cwd": str(bench.project), "limit": 50})
            warm_times.append((time.perf_counter() - begin) * 1000)
        session_id = first["sessions"][0]["sessionId"]
        begin = time.perf_counter()
        await bench.client.request("session/messages", {"sessionId": session_id, "fromEnd": True, "limit": 50})
        page = (time.perf_counter() - begin) * 1000
        rss, peak = rss_kb(pid)
    return {
        "sessions": sessions,
        "mb": size / 1e6,
        "cold": cold,
        "warm": statistics.median(warm_times),
        "page": page,
        "rss_before": before / 1024,
        "rss": rss / 1024,
        "peak": peak / 1024,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few samples only")
    parser.add_argument("--real", action="store_true", help="the per-agent starts with the pinned real CLIs")
    args = parser.parse_args()
    n_agent = 5 if args.quick else 30
    n_start, n_detect, n_append = (5, 5, 5) if args.quick else (50, 50, 50)
    history = (20, 20, 2000) if args.quick else (500, 200, 2000)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "a").mkdir()
        agent_rows, versions = await per_agent(base / "agents", n_agent, args.real)
        async with Bench(base / "a") as bench:
            await bench.client.request("session/list", {"cwd": str(bench.project)})  # type: ignore[union-attr]
            starts = await bench.starts(n_start)
            detections = await bench.detections(n_detect)
            appends = await bench.appends(n_append)
        (base / "b").mkdir()
        big = await listing(base / "b", *history)
    kind = "real" if args.real else "fake"
    print(f"agents ({kind}): " + ", ".join(f"{a} {v}" for a, v in versions.items()))
    rows = [
        *agent_rows,
        ("workflow/start -> response, back to back", starts, "(stress: 50 fake claude starting)"),
        ("transcript appears -> session/detected", detections, "p50 <= 100, p99 <= 300"),
        ("line appended -> session/updated", appends, "p50 <= 100"),
    ]
    print(f"{'measure':46} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  target (ms)")
    for name, values, target in rows:
        print(
            f"{name:42} {len(values):>4} {statistics.median(values):>8.1f} {pct(values, 99):>8.1f} "
            f"{max(values):>8.1f}  {target}"
        )
    print()
    print(f"session/list over {big['sessions']} sessions / {big['mb']:.0f} MB of transcripts:")
    print(
        f"  cold (first parse) {big['cold']:8.0f} ms   warm {big['warm']:6.1f} ms   "
        f"last 50 messages of one session {big['page']:5.1f} ms"
    )
    print(f"  server memory: {big['rss_before']:.0f} MB before, {big['rss']:.0f} MB after, peak {big['peak']:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
