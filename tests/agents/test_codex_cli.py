"""Codex scenarios, each run on the fake ``codex`` (fast tier) and on the real CLI offline
against the Responses-API stub (``-m 'real_agent and codex'``, versions from
``THREADLINE_CODEX_VERSION``), always through the adapter: its argv, its stdin, its turn
monitor, its Summary and Messages, its liveness check. The same assertions hold for both,
which is what keeps the fake honest.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.agents.codex_fixtures import CodexAgent, outcome_of
from tests.agents.responses_stub import newest_user_text

pytestmark = pytest.mark.codex


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return Path(os.path.realpath(folder))


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll a file-system condition (no event announces a lock being taken or dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def start_turn(agent: CodexAgent, project: Path, prompt: str) -> str:
    """Run one whole new turn; returns the thread id."""
    run = agent.turn(project, prompt).finish()
    thread_id, outcome = outcome_of(run)
    assert outcome.status == "completed", (run.stdout, run.stderr)
    assert thread_id is not None
    return thread_id


def user_texts(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        block.text
        for m in messages
        if m.role == "user" and not m.is_meta
        for block in m.content
        if block.type == "text"
    ]


def test_start_reports_the_id_first_and_names_the_rollout_by_it(codex_agent: CodexAgent, project: Path) -> None:
    run = codex_agent.turn(project, "hello codex").finish()
    assert run.returncode == 0, run.stderr
    assert run.events[0]["type"] == "thread.started"
    thread_id, outcome = outcome_of(run)
    assert outcome.status == "completed"
    assert thread_id == run.events[0]["thread_id"]
    assert uuid.UUID(thread_id).version == 7
    path = codex_agent.rollout(thread_id)
    assert path is not None and path.name.endswith(f"-{thread_id}.jsonl")
    assert codex_agent.adapter.is_transcript(path)
    assert codex_agent.adapter.session_id_from_path(path) == thread_id
    summary, messages = codex_agent.summary(thread_id)
    assert summary.session_id == thread_id
    assert summary.cwd == str(project)
    assert summary.first_prompt == "hello codex"
    assert summary.model == "gpt-5.5"
    assert summary.ending == "reply"
    assert summary.input_tokens > 0 and summary.output_tokens > 0
    assert [m.role for m in messages if not m.is_meta] == ["user", "assistant"]
    assert messages[-1].content[0].text.endswith("to: hello codex")  # type: ignore[union-attr]
    assert summary.message_count == len(messages)
    wait_until(lambda: codex_agent.adapter.live_sessions() == {}, timeout=10, what="the lock of a clean exit to go")


def test_resume_keeps_the_id_and_the_file(codex_agent: CodexAgent, project: Path) -> None:
    thread_id = start_turn(codex_agent, project, "first turn")
    path = codex_agent.rollout(thread_id)
    assert path is not None
    size = path.stat().st_size
    run = codex_agent.turn(project, "second turn", session_id=thread_id, resume=True).finish()
    again, outcome = outcome_of(run)
    assert outcome.status == "completed", run.stderr
    assert again == thread_id
    assert codex_agent.rollout(thread_id) == path and path.stat().st_size > size
    assert len(list(codex_agent.adapter.iter_transcripts())) == 1
    summary, messages = codex_agent.summary(thread_id)
    assert user_texts(messages) == ["first turn", "second turn"]
    assert summary.first_prompt == "first turn"
    assert summary.ending == "reply"


def test_fork_makes_a_new_thread_that_names_its_parent(codex_agent: CodexAgent, project: Path) -> None:
    parent = start_turn(codex_agent, project, "parent turn")
    parent_path = codex_agent.rollout(parent)
    assert parent_path is not None
    parent_bytes = parent_path.read_bytes()
    run = codex_agent.turn(project, "forked turn", fork_from=parent).finish()
    child, outcome = outcome_of(run)
    assert outcome.status == "completed", run.stderr
    assert child is not None and child != parent
    assert parent_path.read_bytes() == parent_bytes, "a fork wrote to its parent"
    summary, messages = codex_agent.summary(child)
    assert summary.session_id == child
    assert summary.parent_session_id == parent
    assert user_texts(messages) == ["forked turn"]
    assert summary.ending == "reply"


def test_a_tool_call_is_a_paired_tool_use_and_result(codex_agent: CodexAgent, project: Path) -> None:
    thread_id = start_turn(codex_agent, project, "run it [[tool:bash:echo hi-from-tool]]")
    _summary, messages = codex_agent.summary(thread_id)
    uses = [b for m in messages if m.role == "assistant" for b in m.content if b.type == "tool_use"]
    results = [b for m in messages if m.role == "user" for b in m.content if b.type == "tool_result"]
    assert len(uses) == 1 and len(results) == 1
    assert uses[0].name == "exec_command"  # type: ignore[union-attr]
    assert uses[0].input == {"cmd": "echo hi-from-tool"}  # type: ignore[union-attr]
    assert results[0].tool_use_id == uses[0].id  # type: ignore[union-attr]
    assert "hi-from-tool" in results[0].text  # type: ignore[union-attr]
    assert messages[-1].role == "assistant"
    assert "stub saw tool result" in messages[-1].content[0].text  # type: ignore[union-attr]


def test_an_http_500_fails_the_turn_with_the_agents_message(codex_agent: CodexAgent, project: Path) -> None:
    run = codex_agent.turn(project, "boom [[http500]]").finish()
    assert run.returncode == 1
    thread_id, outcome = outcome_of(run)
    assert outcome.status == "failed"
    assert outcome.last_error and "high demand" in outcome.last_error
    assert thread_id is not None
    summary, messages = codex_agent.summary(thread_id)
    assert summary.ending == "api_error"
    assert summary.ending_error and "high demand" in summary.ending_error
    assert messages[-1].role == "system" and "internal_server_error" in messages[-1].content[0].text  # type: ignore[union-attr]


def test_reasoning_is_thinking(codex_agent: CodexAgent, project: Path) -> None:
    thread_id = start_turn(codex_agent, project, "ponder [[thinking]]")
    _summary, messages = codex_agent.summary(thread_id)
    reply = messages[-1]
    assert reply.role == "assistant"
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].text == "stub thinking about: ponder [[thinking]]"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "prompt",
    ["--help", "$(touch pwned)", "-", "line one\nline two\n\n", ("x" * 1023 + "\n") * 1024],
    ids=["dash-dash-help", "shell-substitution", "lone-dash", "newlines", "1MB"],
)
def test_a_prompt_arrives_verbatim(codex_agent: CodexAgent, project: Path, prompt: str) -> None:
    thread_id = start_turn(codex_agent, project, prompt)
    _summary, messages = codex_agent.summary(thread_id)
    assert user_texts(messages) == [prompt]
    assert not (project / "pwned").exists()
    if codex_agent.is_real:
        requests = codex_agent.stub.response_requests(thread_id)
        assert newest_user_text(requests[-1]["body"]["input"]) == prompt


def test_kill_9_mid_turn_leaves_a_resumable_thread(codex_agent: CodexAgent, project: Path) -> None:
    process = codex_agent.turn(project, "take your time [[slow:30]]")
    thread_id = process.wait_for_event(lambda e: e.get("type") == "thread.started")["thread_id"]
    adapter = codex_agent.adapter
    live = wait_until(lambda: adapter.live_sessions().get(thread_id), what="the writer lock")
    assert live == process.pid
    wait_until(lambda: _user_prompt_on_disk(codex_agent, thread_id), what="the prompt in the rollout")
    os.killpg(process.pid, signal.SIGKILL)
    run = process.finish()
    assert run.returncode == -signal.SIGKILL
    lock = adapter.paths.lock_path(thread_id)
    assert lock.exists(), "the lock file should outlive a SIGKILL (only the flock dies)"
    wait_until(lambda: thread_id not in adapter.live_sessions(), timeout=10, what="the flock to die with Codex")
    _id, outcome = outcome_of(run)
    assert outcome.status == "interrupted"
    summary, _messages = codex_agent.summary(thread_id)
    assert summary.ending == "prompt"
    again = codex_agent.turn(project, "are you there?", session_id=thread_id, resume=True).finish()
    resumed, outcome = outcome_of(again)
    assert outcome.status == "completed", again.stderr
    assert resumed == thread_id
    summary, messages = codex_agent.summary(thread_id)
    assert user_texts(messages) == ["take your time [[slow:30]]", "are you there?"]
    assert summary.ending == "reply"


def test_sigint_mid_tool_is_an_interrupted_turn(codex_agent: CodexAgent, project: Path) -> None:
    process = codex_agent.turn(project, "wait [[tool:bash:sleep 30]]")
    process.wait_for_event(lambda e: e.get("type") == "item.started")
    thread_id = json.loads(process.stdout_lines[0])["thread_id"]
    os.killpg(process.pid, signal.SIGINT)
    run = process.finish()
    assert run.returncode == 1
    assert not [e for e in run.events if e["type"] in ("turn.completed", "turn.failed")]
    tid, outcome = outcome_of(run)
    assert tid == thread_id
    assert outcome.status == "interrupted"
    _tid, cancelled = outcome_of(run, cancelled=True)
    assert cancelled.status == "cancelled"
    summary, messages = codex_agent.summary(tid)
    assert summary.ending == "interrupted"
    results = [b for m in messages for b in m.content if b.type == "tool_result"]
    assert results and "aborted by user" in results[-1].text  # type: ignore[union-attr]
    assert messages[-1].role == "system" and messages[-1].content[0].text == "The turn was interrupted."  # type: ignore[union-attr]
    wait_until(lambda: tid not in codex_agent.adapter.live_sessions(), timeout=10, what="the lock to be dropped")


def test_a_second_writer_is_refused_while_the_first_runs(codex_agent: CodexAgent, project: Path) -> None:
    first = codex_agent.turn(project, "hold on [[slow:30]]")
    thread_id = first.wait_for_event(lambda e: e.get("type") == "thread.started")["thread_id"]
    wait_until(lambda: thread_id in codex_agent.adapter.live_sessions(), what="the writer lock")
    second = codex_agent.turn(project, "me too", session_id=thread_id, resume=True).finish()
    assert second.returncode == 1
    _tid, outcome = outcome_of(second)
    assert outcome.status == "failed"
    assert outcome.last_error and "already has an active writer" in outcome.last_error
    assert thread_id in codex_agent.adapter.live_sessions(), "the refused writer broke the first one's lock"
    os.killpg(first.pid, signal.SIGKILL)
    first.finish()


def test_an_unknown_id_is_refused(codex_agent: CodexAgent, project: Path) -> None:
    missing = "01a22b9d-0000-7000-8000-000000000000"
    run = codex_agent.turn(project, "hi", session_id=missing, resume=True).finish()
    assert run.returncode == 1 and run.stdout.strip() == ""
    _tid, outcome = outcome_of(run)
    assert outcome.status == "failed"
    assert outcome.last_error and f"no rollout found for thread id {missing}" in outcome.last_error
    assert list(codex_agent.adapter.iter_transcripts()) == []


def test_outside_a_git_repo_the_check_must_be_skipped(codex_agent: CodexAgent, project: Path) -> None:
    run = codex_agent.run(["exec", "--json", "-"], project, "hi")
    assert run.returncode == 1
    assert "Not inside a trusted directory and --skip-git-repo-check was not specified." in run.stderr
    run = codex_agent.run(["exec", "--json", "--skip-git-repo-check", "--no-such-flag", "-"], project, "hi")
    assert run.returncode == 2
    assert "unexpected argument '--no-such-flag' found" in run.stderr


def _user_prompt_on_disk(agent: CodexAgent, thread_id: str) -> bool:
    path = agent.rollout(thread_id)
    if path is None:
        return False
    summary, _ = agent.summary(thread_id)
    return summary.ending == "prompt"


EXEC = ["exec", "--json", "--skip-git-repo-check"]


def test_version(codex_agent: CodexAgent, project: Path) -> None:
    run = codex_agent.run(["--version"], project)
    assert run.returncode == 0 and run.stdout.strip() == f"codex-cli {codex_agent.version}"


def test_a_positional_prompt_gets_stdin_appended(codex_agent: CodexAgent, project: Path) -> None:
    """Why the adapter passes ``-``: with a PROMPT argument, a piped stdin is added to it."""
    run = codex_agent.run([*EXEC, "first"], project, "more")
    thread_id, outcome = outcome_of(run)
    assert outcome.status == "completed" and thread_id
    assert "Reading additional input from stdin..." in run.stderr
    _summary, messages = codex_agent.summary(thread_id)
    assert user_texts(messages) == ["first\n\n<stdin>\nmore\n</stdin>"]


def test_resume_by_a_name_that_is_not_an_id_starts_a_new_thread(codex_agent: CodexAgent, project: Path) -> None:
    """Why the adapter refuses a non-UUID id: Codex looks it up as a thread name."""
    run = codex_agent.run(["exec", "resume", "--json", "--skip-git-repo-check", "no-such-name", "-"], project, "hi")
    thread_id, outcome = outcome_of(run)
    assert run.returncode == 0 and outcome.status == "completed"
    assert thread_id and thread_id != "no-such-name"
    assert len(list(codex_agent.adapter.iter_transcripts())) == 1


def test_sigterm_leaves_the_lock_file_unlocked(codex_agent: CodexAgent, project: Path) -> None:
    process = codex_agent.turn(project, "slowly [[slow:30]]")
    thread_id = process.wait_for_event(lambda e: e.get("type") == "thread.started")["thread_id"]
    wait_until(lambda: thread_id in codex_agent.adapter.live_sessions(), what="the writer lock")
    os.killpg(process.pid, signal.SIGTERM)
    run = process.finish()
    assert run.returncode == -signal.SIGTERM
    assert codex_agent.adapter.paths.lock_path(thread_id).exists()
    # The kernel drops the lock when the last descriptor closes; a helper process of Codex
    # can outlive the main one by a moment (seen once in CI), so the lock goes shortly after.
    wait_until(lambda: codex_agent.adapter.live_sessions() == {}, timeout=10, what="the lock to be dropped")
    assert outcome_of(run)[1].status == "interrupted"


def test_the_rollout_folder_and_name_are_in_local_time(codex_agent: CodexAgent, project: Path) -> None:
    zone = "Etc/GMT-14"  # UTC+14: a different date from UTC for ten hours of each day
    os.environ["TZ"], saved = zone, os.environ.get("TZ")
    time.tzset()
    try:
        before = time.strftime("%Y/%m/%d")
        run = codex_agent.run([*EXEC, "-"], project, "hello", env={"TZ": zone})
        after = time.strftime("%Y/%m/%d")
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    thread_id, _ = outcome_of(run)
    path = codex_agent.rollout(str(thread_id))
    assert path is not None
    folder = path.parent.relative_to(codex_agent.codex_home / "sessions").as_posix()
    assert folder in (before, after)
    assert path.name.startswith(f"rollout-{folder.replace('/', '-')}T")


def test_the_id_comes_first_and_soon(codex_agent: CodexAgent, project: Path) -> None:
    started = time.monotonic()
    process = codex_agent.turn(project, "hello")
    process.wait_for_event(lambda e: e.get("type") == "thread.started", timeout=15)
    seconds = time.monotonic() - started
    run = process.finish()
    assert run.events[0]["type"] == "thread.started"
    assert seconds < 2.0, f"thread.started after {seconds:.2f} s"


@pytest.mark.parametrize(
    ("mode", "written"),
    [(None, False), ("plan", False), ("acceptEdits", True), ("bypassPermissions", True)],
)
def test_permission_mode_is_the_sandbox(
    codex_agent: CodexAgent, project: Path, mode: str | None, written: bool
) -> None:
    """``codex exec`` never asks: a write outside its sandbox fails inside the tool."""
    run = codex_agent.turn(project, "[[tool:bash:touch made-it]]", permission_mode=mode).finish()
    thread_id, outcome = outcome_of(run)
    assert outcome.status == "completed", run.stderr
    assert (project / "made-it").exists() is written
    _summary, messages = codex_agent.summary(str(thread_id))
    result = next(b for m in messages for b in m.content if b.type == "tool_result")
    assert ("Read-only file system" in result.text) is not written  # type: ignore[union-attr]


def test_a_sigint_right_after_the_id_is_ignored_or_aborts_the_turn(codex_agent: CodexAgent, project: Path) -> None:
    """Why a cancel must escalate: for the first ~20-50 ms after ``thread.started`` (until
    the turn runs) Codex ignores SIGINT and completes the turn; later it aborts it. Which
    one happens is a race. Under load the signal can also land before the rollout is written,
    and then nothing is recorded and the turn does not complete."""
    process = codex_agent.turn(project, "soon [[slow:1]]")
    process.wait_for_event(lambda e: e.get("type") == "thread.started")
    os.killpg(process.pid, signal.SIGINT)
    run = process.finish()
    thread_id, outcome = outcome_of(run)
    assert outcome_of(run, cancelled=True)[1].status == "cancelled"
    if codex_agent.rollout(str(thread_id)) is None:
        # Seen with the real CLI on a loaded machine: the signal arrived before Codex wrote
        # its rollout, and it stopped there. Nothing was recorded, and the turn is not done.
        assert run.returncode != 0 and outcome.status != "completed", (run.returncode, outcome, run.stderr[-500:])
        return
    ending = codex_agent.summary(str(thread_id))[0].ending
    assert (run.returncode, outcome.status, ending) in (
        (0, "completed", "reply"),
        (1, "interrupted", "interrupted"),
    )
