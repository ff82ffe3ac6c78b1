"""The ``gemini`` scenarios, on the fake (fast tier) and on the real CLI against the stub
(``pytest -m "real_agent and gemini"``), driven through the adapter's argv, stdin and env,
and read back with the adapter's Summarizer and Messages: the same assertions hold for both."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from tests.agents.gemini_fixtures import GeminiAgent, gemini_agent, gemini_kind, init_of, result_of
from tests.agents.gemini_scenarios import (
    FAST_MODEL,
    big_prompt,
    message_shape,
    message_texts,
    messages_of,
    run_turn,
    session_chat,
    start_turn,
    stop_mid_turn,
)

__all__ = ["gemini_agent", "gemini_kind"]


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "My Project"
    folder.mkdir()
    return Path(os.path.realpath(folder))


def sid() -> str:
    return str(uuid.uuid4())


def test_start_with_a_minted_id_names_the_chat_and_the_summary(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    run, outcome = run_turn(gemini_agent, cwd, "hello", session_id)
    assert run.returncode == 0, run.stderr
    assert init_of(run) == {**init_of(run), "type": "init", "session_id": session_id}  # type: ignore[dict-item]
    assert outcome.status == "completed" and outcome.usage is not None and outcome.usage.output_tokens > 0
    path, summary = session_chat(gemini_agent, session_id)
    assert path.parent == gemini_agent.tmp / "my-project" / "chats"
    assert path.name.endswith(f"-{session_id[:8]}.jsonl")
    assert (summary.session_id, summary.cwd, summary.first_prompt, summary.ending) == (
        session_id,
        str(cwd),
        "hello",
        "reply",
    )
    assert summary.message_count == 2 and summary.model and summary.input_tokens > 0
    assert message_texts(messages_of(path)) == ["hello", "stub reply #1 to: hello"]


def test_resume_keeps_the_id_and_the_file(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    assert run_turn(gemini_agent, cwd, "hello", session_id)[0].returncode == 0
    first, _ = session_chat(gemini_agent, session_id)
    run, outcome = run_turn(gemini_agent, cwd, "second turn", session_id, resume=True)
    assert run.returncode == 0, run.stderr
    assert init_of(run)["session_id"] == session_id  # type: ignore[index]
    assert outcome.status == "completed"
    path, summary = session_chat(gemini_agent, session_id)
    assert path == first
    assert summary.message_count == 4 and summary.first_prompt == "hello"
    texts = message_texts(messages_of(path))
    assert texts == ["hello", "stub reply #1 to: hello", "second turn", "stub reply #2 to: second turn"]
    # the first reply keeps its usage although the resume rewrote it without tokens
    assert all(m.usage is not None for m in messages_of(path) if m.role == "assistant")


def test_a_tool_call_is_a_tool_use_and_a_tool_result(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    run, outcome = run_turn(gemini_agent, cwd, "[[tool]]", session_id)
    assert run.returncode == 0, run.stderr
    assert outcome.status == "completed"
    assert [e["type"] for e in run.events if e["type"] in ("tool_use", "tool_result")] == ["tool_use", "tool_result"]
    path, summary = session_chat(gemini_agent, session_id)
    messages = messages_of(path)
    assert message_shape(messages) == [
        ("user", ["text"], False),
        ("assistant", ["tool_use"], False),
        ("user", ["tool_result"], False),
        ("assistant", ["text"], False),
    ]
    use, result = messages[1].content[0], messages[2].content[0]
    assert use.type == "tool_use" and result.type == "tool_result" and result.tool_use_id == use.id
    assert (use.name, use.input) == ("list_directory", {"dir_path": "."})
    assert result.text == f"Directory {cwd} is empty."
    assert summary.ending == "reply"


def test_thoughts_are_thinking_blocks(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    run, outcome = run_turn(gemini_agent, cwd, "[[thinking]] plan it", session_id, model=FAST_MODEL)
    assert outcome.status == "completed", run.stderr
    path, _ = session_chat(gemini_agent, session_id)
    reply = messages_of(path)[1]
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].text == "Stub plan\nthinking about: [[thinking]] plan it"  # type: ignore[union-attr]


def test_a_refused_shell_tool_waits_for_the_user(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    run, outcome = run_turn(gemini_agent, cwd, "[[tool:shell:touch made-by-tool]]", session_id, model=FAST_MODEL)
    assert run.returncode == 0, run.stderr
    assert outcome.status == "waiting_for_input"
    assert not (cwd / "made-by-tool").exists()
    run, outcome = run_turn(
        gemini_agent, cwd, "[[tool:shell:touch made-by-tool]]", session_id, resume=True, model=FAST_MODEL,
        permission_mode="bypassPermissions",
    )  # fmt: skip
    assert outcome.status == "completed", run.stderr
    assert (cwd / "made-by-tool").exists()


def test_http_500_fails_the_turn_and_the_summary_says_so(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    run, outcome = run_turn(gemini_agent, cwd, "[[http500]]", session_id, model=FAST_MODEL)
    assert run.returncode == 244
    assert result_of(run)["status"] == "error"  # type: ignore[index]
    assert outcome.status == "failed" and "stub: forced failure 500" in (outcome.last_error or "")
    _, summary = session_chat(gemini_agent, session_id)
    assert (summary.ending, summary.first_prompt, summary.message_count) == ("api_error", "[[http500]]", 0)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_turn_exits_0_without_a_result(gemini_agent: GeminiAgent, cwd: Path, signum: int) -> None:
    session_id = sid()
    turn = start_turn(gemini_agent, cwd, "[[slow:30]]", session_id)
    run = stop_mid_turn(turn, signum)
    assert run.returncode == 0 and result_of(run) is None
    monitor = turn.monitor
    for line in run.stdout.splitlines():
        monitor.feed(line.encode())
    assert monitor.outcome(run.returncode, run.stderr, cancelled=False).status == "interrupted"
    assert monitor.outcome(run.returncode, run.stderr, cancelled=True).status == "cancelled"
    _, summary = session_chat(gemini_agent, session_id)
    assert (summary.ending, summary.message_count) == ("prompt", 1)


def test_kill_9_mid_turn_then_resume(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    run = stop_mid_turn(start_turn(gemini_agent, cwd, "[[slow:30]]", session_id), signal.SIGKILL)
    assert run.returncode == -9
    run, outcome = run_turn(gemini_agent, cwd, "continue", session_id, resume=True)
    assert run.returncode == 0 and outcome.status == "completed", run.stderr
    path, summary = session_chat(gemini_agent, session_id)
    assert message_texts(messages_of(path)) == ["[[slow:30]]", "continue", "stub reply #2 to: continue"]
    assert summary.ending == "reply"


@pytest.mark.parametrize("prompt", ["--help", "$(touch pwned)", "-p x\n\n  trailing newline\n", "big"])
def test_prompts_arrive_verbatim(gemini_agent: GeminiAgent, cwd: Path, prompt: str) -> None:
    text = big_prompt() if prompt == "big" else prompt
    session_id = sid()
    run, outcome = run_turn(gemini_agent, cwd, text, session_id, model=FAST_MODEL)
    assert run.returncode == 0 and outcome.status == "completed", run.stderr[-2000:]
    assert not (cwd / "pwned").exists()
    path, _ = session_chat(gemini_agent, session_id)
    assert messages_of(path)[0].content[0].text == text  # type: ignore[union-attr]
    if gemini_agent.stub is not None:
        assert gemini_agent.stub.prompts() == [text]


def test_errors_of_ids(gemini_agent: GeminiAgent, cwd: Path) -> None:
    session_id = sid()
    assert run_turn(gemini_agent, cwd, "hello", session_id, model=FAST_MODEL)[0].returncode == 0
    taken, outcome = run_turn(gemini_agent, cwd, "again", session_id, model=FAST_MODEL)
    assert taken.returncode == 42 and f'Session ID "{session_id}" already exists' in taken.stderr
    assert outcome.status == "failed" and "already exists" in (outcome.last_error or "")
    unknown, outcome = run_turn(gemini_agent, cwd, "x", sid(), resume=True, model=FAST_MODEL)
    assert unknown.returncode == 42 and "Invalid session identifier" in unknown.stderr
    assert outcome.status == "failed" and "Invalid session identifier" in (outcome.last_error or "")
    bad = gemini_agent.run(["--session-id", "my.custom", "-o", "stream-json"], cwd, "x")
    assert bad.returncode == 1 and 'Invalid session ID "my.custom"' in bad.stderr


def test_a_resume_after_a_tool_turn_keeps_one_result_per_call(gemini_agent: GeminiAgent, cwd: Path) -> None:
    """The resume's history rewrite adds a ``<reply id>_response`` copy of the tool results."""
    session_id = sid()
    assert run_turn(gemini_agent, cwd, "[[tool]]", session_id, model=FAST_MODEL)[1].status == "completed"
    run, outcome = run_turn(gemini_agent, cwd, "next", session_id, resume=True, model=FAST_MODEL)
    assert outcome.status == "completed", run.stderr
    path, summary = session_chat(gemini_agent, session_id)
    messages = messages_of(path)
    assert message_shape(messages) == [
        ("user", ["text"], False),
        ("assistant", ["tool_use"], False),
        ("user", ["tool_result"], False),
        ("assistant", ["text"], False),
        ("user", ["text"], False),
        ("assistant", ["text"], False),
    ]
    assert summary.message_count == 6
    assert messages[2].content[0].tool_use_id == messages[1].content[0].id  # type: ignore[union-attr]
