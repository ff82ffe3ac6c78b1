"""The fake ``gemini`` against the real Gemini CLI, scenario by scenario: the same chat-file
line shapes, the same Summary and Messages through the adapter, the same stdout events, the
same refusals. Needs the real CLI (``pytest -m "real_agent and gemini"``)."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.agents.fixtures import AgentRun
from tests.agents.gemini_fixtures import GeminiAgent, fake_and_real_gemini
from tests.agents.gemini_scenarios import (
    FAST_MODEL,
    line_shapes,
    message_shape,
    message_texts,
    messages_of,
    run_turn,
    session_chat,
    start_turn,
    stop_mid_turn,
    summarize,
)
from threadline.agents.gemini import is_stray

pytestmark = [pytest.mark.real_agent, pytest.mark.gemini]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[GeminiAgent, GeminiAgent]]:
    yield from fake_and_real_gemini(tmp_path)


def project(agent: GeminiAgent) -> Path:
    folder = agent.home.parent / "work" / "Conformance Proj"
    folder.mkdir(parents=True, exist_ok=True)
    return Path(os.path.realpath(folder))


def event_types(run: AgentRun) -> list[str]:
    """stdout event types, a run of assistant deltas as one ``delta``."""
    out: list[str] = []
    for event in run.events:
        kind = event.get("type")
        name = "delta" if kind == "message" and event.get("role") == "assistant" else str(kind)
        name = "user" if kind == "message" and event.get("role") == "user" else name
        if not out or out[-1] != name or name != "delta":
            out.append(name)
    return out


def observe(agent: GeminiAgent, session_id: str, runs: list[AgentRun], with_strays: bool) -> dict[str, Any]:
    cwd = project(agent)
    path, summary = session_chat(agent, session_id)
    messages = messages_of(path)
    kept = asdict(summary)
    for key in ("created_at", "updated_at", "input_tokens", "output_tokens", "cache_read_tokens", "model"):
        kept[key] = kept[key] is not None and kept[key] != 0
    lines = line_shapes(path)
    # A resume in the same minute as the start writes its header and context reset into the
    # session's own file; in a later minute into a stray file (test_fake_gemini checks that).
    # Which one happens is the clock's choice, so leave that pair out.
    for index in range(len(lines) - 1, 0, -1):
        if lines[index] == "meta" and lines[index + 1 : index + 2] == ["$set:lastUpdated,messages"]:
            del lines[index : index + 2]
    # whether a resume leaves a stray file depends on the clock, except where a test makes it
    strays = [p for p in agent.chats(session_id) if p != path and with_strays]
    return {
        "strays": [(line_shapes(p), is_stray(summarize(p)), summarize(p).session_id == session_id) for p in strays],
        "chat folder": path.parent.relative_to(agent.tmp).as_posix(),
        "lines": lines,
        "summary": {**kept, "cwd": kept["cwd"] == str(cwd), "session_id": kept["session_id"] == session_id},
        "messages": message_shape(messages),
        "texts": [t.replace(str(cwd), "<cwd>") for t in message_texts(messages)],
        "events": [event_types(run) for run in runs],
        "exit codes": [run.returncode for run in runs],
    }


Scenario = Callable[[GeminiAgent, str], list[AgentRun]]


def hello_then_resume(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    cwd = project(agent)
    return [
        run_turn(agent, cwd, "hello", session_id)[0],
        run_turn(agent, cwd, "second turn", session_id, resume=True)[0],
    ]


def tool_turn(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    return [run_turn(agent, project(agent), "[[tool]]", session_id)[0]]


def thinking(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    return [run_turn(agent, project(agent), "[[thinking]] plan it", session_id, model=FAST_MODEL)[0]]


def http_500(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    return [run_turn(agent, project(agent), "[[http500]]", session_id, model=FAST_MODEL)[0]]


def refused_shell(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    return [run_turn(agent, project(agent), "[[tool:shell:touch x]]", session_id, model=FAST_MODEL)[0]]


def sigint_then_resume(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    cwd = project(agent)
    first = stop_mid_turn(start_turn(agent, cwd, "[[slow:30]]", session_id), signal.SIGINT)
    return [first, run_turn(agent, cwd, "continue", session_id, resume=True)[0]]


def kill_then_resume(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    cwd = project(agent)
    first = stop_mid_turn(start_turn(agent, cwd, "[[slow:30]]", session_id), signal.SIGKILL)
    return [first, run_turn(agent, cwd, "continue", session_id, resume=True)[0]]


def resume_in_a_later_minute(agent: GeminiAgent, session_id: str) -> list[AgentRun]:
    """The chat renamed to an earlier minute (as the research did) stands for a resume in a
    later minute than the start: the resume leaves a stray header file of the new minute."""
    cwd = project(agent)
    first = run_turn(agent, cwd, "hello", session_id)[0]
    (chat,) = agent.chats(session_id)
    chat.rename(chat.with_name(f"session-2020-01-01T00-00-{session_id[:8]}.jsonl"))
    return [first, run_turn(agent, cwd, "again", session_id, resume=True)[0]]


SCENARIOS: dict[str, Scenario] = {
    "hello then resume": hello_then_resume,
    "tool": tool_turn,
    "thinking": thinking,
    "http 500": http_500,
    "refused shell": refused_shell,
    "resume in a later minute": resume_in_a_later_minute,
    "sigint then resume": sigint_then_resume,
    "kill -9 then resume": kill_then_resume,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fake_and_real_write_and_print_the_same(pair: tuple[GeminiAgent, GeminiAgent], name: str) -> None:
    fake, real = pair
    seen = {}
    for agent in (fake, real):
        session_id = str(uuid.uuid4())
        runs = SCENARIOS[name](agent, session_id)
        seen[agent.kind] = observe(agent, session_id, runs, with_strays=name == "resume in a later minute")
    assert seen["fake"] == seen[real.kind]
    if name == "resume in a later minute":
        assert seen["fake"]["strays"] == [(["meta", "$set:lastUpdated,messages"], True, True)]


@pytest.mark.parametrize(
    "args",
    [
        ["--frobnicate"],
        ["--resume", "a", "--session-id", "b"],
        ["--session-id", "my.custom"],
        ["-o", "yaml"],
        ["--resume", "no-such-session"],
        ["--resume", "no-such-session", "with a session"],
    ],
)
def test_fake_and_real_refuse_the_same(pair: tuple[GeminiAgent, GeminiAgent], args: list[str]) -> None:
    fake, real = pair
    seen = {}
    with_session = args[-1] == "with a session"
    args = args[:-1] if with_session else args
    for agent in (fake, real):
        if with_session:
            assert run_turn(agent, project(agent), "hello", str(uuid.uuid4()), model=FAST_MODEL)[0].returncode == 0
        run = agent.run(["-o", "stream-json", *args], project(agent), "x")
        lines = [line for line in run.stderr.splitlines() if line.strip() and not line.startswith(("Warning: 256",))]
        first = lines[0].replace(str(agent.tmp), "<tmp>") if lines else ""
        seen[agent.kind] = (run.returncode, first, run.stdout)
    assert seen["fake"] == seen[real.kind]


def test_dash_p_is_appended_to_stdin_by_both(pair: tuple[GeminiAgent, GeminiAgent]) -> None:
    fake, real = pair
    users = {}
    for agent in (fake, real):
        run = agent.run(["-o", "stream-json", "-m", FAST_MODEL, "-p", "and this"], project(agent), "from stdin\n")
        users[agent.kind] = next(e["content"] for e in run.events if e.get("role") == "user")
    assert users["fake"] == users[real.kind] == "from stdin\n\n\nand this"
