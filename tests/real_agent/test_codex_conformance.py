"""The fake ``codex`` against the real one: same scenario, same observable behaviour.

Each scenario runs on the fake (in the profile of the version under test) and on the real
CLI of that version (offline, against the Responses-API stub). Compared: the exit code,
the stdout event sequence, the rollout's record sequence (every record a reader touches,
in order), and what the adapter makes of the rollout, its Summary and Messages, with
only what cannot match (ids, times, token counts, the stub's request numbers, a tool's
wall time) normalized away.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.agents.codex_fixtures import CodexAgent, make_codex_agent, outcome_of, wanted_versions
from tests.agents.fixtures import AgentRun, RealAgentUnavailable

pytestmark = [pytest.mark.real_agent, pytest.mark.codex]

READ_EVENTS = frozenset({"task_started", "task_complete", "turn_aborted", "token_count", "item_completed"})
"""``event_msg`` types whose order matters to a reader (the rest are Codex's own state)."""


@pytest.fixture(params=wanted_versions())
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CodexAgent, CodexAgent]]:
    version = str(request.param)
    try:
        real = make_codex_agent(f"real-{version}", tmp_path / "real")
    except RealAgentUnavailable as exc:
        if os.environ.get("THREADLINE_REQUIRE_AGENTS") == "1":
            pytest.fail(f"real Codex CLI unavailable: {exc}")
        pytest.skip(f"real Codex CLI unavailable: {exc}")
    fake = make_codex_agent(f"fake-{version}", tmp_path / "fake")
    try:
        yield fake, real
    finally:
        fake.close()
        real.close()


def project_of(agent: CodexAgent) -> Path:
    folder = agent.home.parent / "project"
    folder.mkdir(exist_ok=True)
    return Path(os.path.realpath(folder))


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def turn_running(agent: CodexAgent, thread_id: str) -> bool:
    """The prompt is on disk and (for the real CLI) sent: a SIGINT now aborts the turn."""
    on_disk = agent.rollout(thread_id) is not None and agent.summary(thread_id)[0].ending == "prompt"
    return on_disk and (not agent.is_real or bool(agent.stub.response_requests(thread_id)))


def record_kinds(path: Path) -> list[str]:
    out = []
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        kind, payload = record["type"], record["payload"]
        if kind == "response_item":
            if payload.get("role") == "developer":
                continue
            out.append(f"response_item/{payload['type']}/{payload.get('role', '')}")
        elif kind == "event_msg":
            if payload["type"] in READ_EVENTS:
                item = payload.get("item")
                out.append(f"event_msg/{payload['type']}" + (f"/{item['type']}" if item else ""))
        elif kind in ("session_meta", "turn_context", "token_usage_record"):
            out.append(kind)
    if "event_msg/turn_aborted" in out:
        # After an abort the real CLI records the killed command's end, or exits first: a race.
        aborted = out.index("event_msg/turn_aborted")
        out = out[:aborted] + [k for k in out[aborted:] if k != "event_msg/item_completed/CommandExecution"]
    return out


def normal_text(text: str) -> str:
    text = re.sub(r"stub reply #\d+", "stub reply #N", text)
    text = re.sub(r"Chunk ID: \w+", "Chunk ID: X", text)
    text = re.sub(r"Wall time: [\d.]+ seconds", "Wall time: T seconds", text)
    return re.sub(r"Original token count: \d+", "Original token count: K", text)


def observe(agent: CodexAgent, run: AgentRun, thread_id: str, parent: str | None = None) -> dict[str, Any]:
    """What a session manager sees of one finished run."""
    path = agent.rollout(thread_id)
    assert path is not None
    summary, messages = agent.summary(thread_id)
    s = asdict(summary)
    assert s.pop("session_id") == thread_id
    assert s.pop("parent_session_id") == parent
    assert s.pop("created_at") and s.pop("updated_at")
    assert s.pop("cwd") == str(project_of(agent))
    for key in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"):
        s[key] = s[key] > 0
    _tid, outcome = outcome_of(run)
    return {
        "returncode": run.returncode,
        "stdout": [(e["type"], e.get("item", {}).get("type")) for e in run.events if "type" in e],
        "outcome": (outcome.status, outcome.last_error and normal_text(outcome.last_error)),
        "records": record_kinds(path),
        "summary": s,
        "messages": [
            (
                m.role,
                m.is_meta,
                [
                    (b.type, None if m.is_meta else normal_text(getattr(b, "text", "") or getattr(b, "name", "")))
                    for b in m.content
                ],
            )
            for m in messages
        ],
        "tool_inputs": [b.input for m in messages for b in m.content if b.type == "tool_use"],
    }


def both(pair: tuple[CodexAgent, CodexAgent], scenario: Callable[[CodexAgent, Path], dict[str, Any]]) -> None:
    fake, real = pair
    got = scenario(fake, project_of(fake))
    want = scenario(real, project_of(real))
    for key in want:
        assert got[key] == want[key], f"{key} differs (fake, then real)"


def simple(prompt: str) -> Callable[[CodexAgent, Path], dict[str, Any]]:
    def scenario(agent: CodexAgent, project: Path) -> dict[str, Any]:
        run = agent.turn(project, prompt).finish()
        thread_id, _ = outcome_of(run)
        assert thread_id
        return observe(agent, run, thread_id)

    return scenario


@pytest.mark.parametrize(
    "prompt",
    ["hello", "run [[tool:bash:echo hi-from-tool]]", "boom [[http500]]", "ponder [[thinking]]", "--help\n$(x)\n"],
    ids=["hello", "tool", "http500", "thinking", "flag-like"],
)
def test_one_turn(pair: tuple[CodexAgent, CodexAgent], prompt: str) -> None:
    both(pair, simple(prompt))


def test_resume(pair: tuple[CodexAgent, CodexAgent]) -> None:
    def scenario(agent: CodexAgent, project: Path) -> dict[str, Any]:
        thread_id, _ = outcome_of(agent.turn(project, "first").finish())
        run = agent.turn(project, "second [[tool:bash:echo again]]", session_id=thread_id, resume=True).finish()
        assert outcome_of(run)[0] == thread_id
        return observe(agent, run, str(thread_id))

    both(pair, scenario)


def test_fork(pair: tuple[CodexAgent, CodexAgent]) -> None:
    def scenario(agent: CodexAgent, project: Path) -> dict[str, Any]:
        parent, _ = outcome_of(agent.turn(project, "first").finish())
        run = agent.turn(project, "forked", fork_from=parent).finish()
        child, _ = outcome_of(run)
        assert child and child != parent
        return observe(agent, run, child, parent)

    both(pair, scenario)


@pytest.mark.parametrize("how", ["sigint-mid-tool", "sigint-mid-stream", "kill-mid-stream", "kill-mid-tool"])
def test_a_turn_ended_by_a_signal_then_resumed(pair: tuple[CodexAgent, CodexAgent], how: str) -> None:
    signum = signal.SIGINT if how.startswith("sigint") else signal.SIGKILL
    prompt = "wait [[tool:bash:sleep 30]]" if how.endswith("tool") else "slowly [[slow:30]]"

    def scenario(agent: CodexAgent, project: Path) -> dict[str, Any]:
        process = agent.turn(project, prompt)
        thread_id = process.wait_for_event(lambda e: e.get("type") == "thread.started")["thread_id"]
        if how.endswith("tool"):
            process.wait_for_event(lambda e: e.get("type") == "item.started")
        else:
            wait_for(lambda: turn_running(agent, thread_id), "the turn to run")
        os.killpg(process.pid, signum)
        killed = process.finish()
        seen = observe(agent, killed, thread_id)
        again = agent.turn(project, "go on", session_id=thread_id, resume=True).finish()
        return {"killed": seen, "resumed": observe(agent, again, thread_id)}

    both(pair, scenario)


def test_refusals(pair: tuple[CodexAgent, CodexAgent]) -> None:
    def scenario(agent: CodexAgent, project: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, args, prompt in (
            ("no-git-check", ["exec", "--json", "-"], "hi"),
            ("bad-flag", ["exec", "--json", "--skip-git-repo-check", "--nope", "-"], "hi"),
            ("empty-stdin", ["exec", "--json", "--skip-git-repo-check", "-"], ""),
            (
                "unknown-id",
                ["exec", "resume", "--json", "--skip-git-repo-check", "01a22b9d-0000-7000-8000-0000000000aa", "-"],
                "hi",
            ),
            (
                "unknown-fork",
                ["exec", "fork", "--json", "--skip-git-repo-check", "01a22b9d-0000-7000-8000-0000000000aa", "-"],
                "hi",
            ),
        ):
            run = agent.run(args, project, prompt)
            words = [line for line in run.stderr.splitlines() if line.strip() and "<unknown>" not in line]
            out[name] = (run.returncode, run.stdout.strip(), words[:3])
        return out

    both(pair, scenario)


def test_input_over_the_limit_is_refused(pair: tuple[CodexAgent, CodexAgent]) -> None:
    """1,048,576 characters (not bytes) are taken; one more and the turn is refused after
    ``thread.started``, with nothing written: no rollout for a new thread, an unchanged one
    for a resume, the first two records for a fork."""

    def scenario(agent: CodexAgent, project: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        wide = "é" * 1_048_576  # 2 MiB of UTF-8, at the limit in characters
        parent, outcome = outcome_of(agent.turn(project, wide).finish())
        assert parent and outcome.status == "completed"
        path = agent.rollout(parent)
        assert path is not None
        before = path.read_bytes()
        over = "x" * 1_048_576 + "\n"
        for name, request in (
            ("start", {}),
            ("resume", {"session_id": parent, "resume": True}),
            ("fork", {"fork_from": parent}),
        ):
            run = agent.turn(project, over, **request).finish()  # type: ignore[arg-type]
            thread_id, outcome = outcome_of(run)
            rollout = agent.rollout(thread_id) if thread_id else None
            out[name] = {
                "returncode": run.returncode,
                "stdout": [e["type"] for e in run.events],
                "outcome": (outcome.status, outcome.last_error),
                "same_id": thread_id == parent,
                "records": None if rollout is None else record_kinds(rollout) if rollout != path else "parent",
                "parent_unchanged": path.read_bytes() == before,
                "locks": sorted(p.name for p in agent.paths.locks.iterdir() if p.name != ".coordination.lock"),
            }
        return out

    both(pair, scenario)
