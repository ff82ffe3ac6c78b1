"""The Gemini adapter's argv, stdin, env and paths, and its turn monitor on real stdout of
Gemini CLI 0.61.0 (tests/data/gemini/0.61.0/gemini-stream-json.*)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from threadline.agents.base import AgentCommand, TurnRequest
from threadline.agents.gemini import GeminiAdapter
from threadline.agents.gemini.events import GeminiTurnMonitor
from threadline.agents.gemini.paths import GeminiPaths, project_hash, slugify

DATA = Path(__file__).resolve().parent.parent / "data" / "gemini" / "0.61.0"
SID = "0a0a0a0a-1111-4222-8333-444455556666"


@pytest.fixture
def adapter(tmp_path: Path) -> GeminiAdapter:
    return GeminiAdapter(tmp_path / "home", AgentCommand(argv=["gemini"], env={"X": "1"}))


def test_start_and_resume_argv_carry_the_id_and_never_the_prompt(adapter: GeminiAdapter) -> None:
    start = TurnRequest(session_id=SID, cwd="/p", prompt="--help")
    assert adapter.argv(start) == ["gemini", "--output-format=stream-json", f"--session-id={SID}"]
    resume = TurnRequest(session_id=SID, cwd="/p", prompt="x", resume=True, model="-m", permission_mode="plan")
    assert adapter.argv(resume) == [
        "gemini",
        "--output-format=stream-json",
        f"--resume={SID}",
        "--model=-m",
        "--approval-mode=plan",
    ]
    assert adapter.stdin_bytes(start) == b"--help"


@pytest.mark.parametrize(
    ("mode", "flag"),
    [("default", "default"), ("acceptEdits", "auto_edit"), ("bypassPermissions", "yolo"), ("yolo", "yolo")],
)
def test_permission_modes_map_to_approval_modes(adapter: GeminiAdapter, mode: str, flag: str) -> None:
    argv = adapter.argv(TurnRequest(session_id=SID, cwd="/p", prompt="x", permission_mode=mode))
    assert argv[-1] == f"--approval-mode={flag}"


def test_what_gemini_cannot_do_is_refused_in_one_sentence(adapter: GeminiAdapter) -> None:
    with pytest.raises(ValueError, match="cannot fork"):
        adapter.argv(TurnRequest(session_id=SID, cwd="/p", prompt="x", fork_from="other"))
    with pytest.raises(ValueError, match="no permission mode"):
        adapter.argv(TurnRequest(session_id=SID, cwd="/p", prompt="x", permission_mode="dontAsk"))
    with pytest.raises(ValueError, match="not a Gemini session id"):
        adapter.argv(TurnRequest(session_id="../x", cwd="/p", prompt="x"))
    with pytest.raises(ValueError, match="8 MiB"):
        adapter.stdin_bytes(TurnRequest(session_id=SID, cwd="/p", prompt="x" * (8 * 1024 * 1024 + 1)))


def test_allowed_tools_and_skill(adapter: GeminiAdapter) -> None:
    # ADAPTER.md's TurnRequest has allowed_tools; base.py's does not have it yet
    fields = {"session_id": SID, "cwd": "/p", "prompt": "go", "skill": "review", "resume": False}
    fields |= {"fork_from": None, "model": None, "permission_mode": None}
    turn: Any = SimpleNamespace(**fields, allowed_tools=["run_shell_command(git)", "--yolo"])
    argv = adapter.argv(turn)
    assert argv[-2:] == ["--allowed-tools=run_shell_command(git)", "--allowed-tools=--yolo"]
    assert adapter.stdin_bytes(turn) == b"/review go"


def test_env_points_at_the_home_and_turns_off_the_relaunch(adapter: GeminiAdapter, tmp_path: Path) -> None:
    env = adapter.env()
    assert env["GEMINI_CLI_HOME"] == str(tmp_path / "home")
    assert env["GEMINI_CLI_NO_RELAUNCH"] == "true" and env["X"] == "1"
    assert adapter.live_sessions() == {} and adapter.mints_session_id and not adapter.supports_fork


def test_paths(tmp_path: Path) -> None:
    paths = GeminiPaths(tmp_path)
    chats = tmp_path / ".gemini" / "tmp" / "proj" / "chats"
    chats.mkdir(parents=True)
    good = chats / "session-2026-11-30T08-41-021f0f91.jsonl"
    good.write_text("")
    (chats / "notes.jsonl").write_text("")
    subagent = chats / "021f0f91-3723-4b80-a78b-98a76aecaadd" / "b5e6c1d2-0000-4000-8000-000000000001.jsonl"
    subagent.parent.mkdir()
    subagent.write_text("")  # a subagent's chat: chats/<parent id>/<id>.jsonl
    (chats.parent / "logs.json").write_text("")
    assert paths.iter_chats() == [good]
    assert paths.is_chat(good) and not paths.is_chat(chats / "notes.jsonl") and not paths.is_chat(subagent)
    assert not paths.is_chat(tmp_path / "session-2026-11-30T08-41-021f0f91.jsonl")
    assert paths.chats_of("021f0f91-3723-4b80-a78b-98a76aecaadd") == [good]
    assert [slugify(p) for p in ("/a/projA", "/a/My Project!", "/a/---", "/")] == [
        "proja",
        "my-project",
        "project",
        "project",
    ]
    # as the real CLI wrote it for a project at /tmp/gem-try/w1/proj
    assert project_hash("/tmp/gem-try/w1/proj") == "79d5f5b78e585db2beaceb0d1ca647adb46702eba7bda662d629177f0c9093bc"


def feed(name: str, monitor: GeminiTurnMonitor | None = None) -> tuple[GeminiTurnMonitor, int | None]:
    monitor = monitor or GeminiTurnMonitor()
    exit_code = None
    for line in (DATA / f"gemini-stream-json.{name}.stdout.jsonl").read_bytes().splitlines():
        if line.startswith(b'{"_exit_code"'):
            exit_code = int(line.split(b":")[1].rstrip(b"}"))
            continue
        monitor.feed(line)
    return monitor, exit_code


def test_monitor_completed_turn_with_usage_and_streaming_text() -> None:
    monitor, _ = feed("hello")
    assert monitor.session_id == "021f0f91-3723-4b80-a78b-98a76aecaadd"
    assert monitor.streaming_text is None  # the result: it is all on disk now
    outcome = monitor.outcome(0, "", cancelled=False)
    assert outcome.status == "completed"
    assert outcome.usage is not None and (outcome.usage.input_tokens, outcome.usage.output_tokens) == (285, 17)


def test_monitor_streaming_text_grows_with_the_deltas() -> None:
    monitor = GeminiTurnMonitor()
    lines = (DATA / "gemini-stream-json.hello.stdout.jsonl").read_bytes().splitlines()
    assert monitor.feed(lines[0]) and not monitor.feed(lines[1])
    for line in lines[2:4]:
        assert monitor.feed(line)
    assert monitor.streaming_text == "stub reply 2"
    assert not monitor.feed(b"not json") and not monitor.feed(b"[1]")


def test_monitor_http_500_is_a_failure_with_the_api_message() -> None:
    monitor, exit_code = feed("http500")
    assert exit_code == 244
    outcome = monitor.outcome(244, "", cancelled=False)
    assert outcome.status == "failed" and "stub: forced failure 500" in (outcome.last_error or "")


@pytest.mark.parametrize("name", ["sigint-mid-stream", "sigterm-mid-stream", "killed-mid-stream", "killed-mid-tool"])
def test_monitor_no_result_is_an_interruption_or_a_cancel(name: str) -> None:
    monitor, _ = feed(name)
    assert monitor.outcome(0, "", cancelled=False).status == "interrupted"
    assert monitor.outcome(-9, "", cancelled=False).status == "interrupted"
    assert monitor.outcome(0, "", cancelled=True).status == "cancelled"


def test_monitor_refusals_before_any_turn_are_failures_with_the_reason() -> None:
    monitor = GeminiTurnMonitor()
    stderr = (
        "Warning: 256-color support not detected.\n"
        'Error resuming session: Invalid session identifier "nope".\n  Searched for sessions in /x/errors/chats.\n'
        "  Use --list-sessions to see available sessions.\n"
    )
    outcome = monitor.outcome(42, stderr, cancelled=False)
    assert outcome.status == "failed"
    assert outcome.last_error == 'Error resuming session: Invalid session identifier "nope".'
    assert monitor.outcome(55, "", cancelled=False).last_error == "Gemini CLI exited with code 55 without a result."


def test_monitor_tool_turn_and_a_refused_shell_tool() -> None:
    monitor, _ = feed("tool")
    assert monitor.outcome(0, "", cancelled=False).status == "completed"
    refused = GeminiTurnMonitor()
    refused.feed(b'{"type":"tool_use","tool_name":"run_shell_command","tool_id":"t1","parameters":{}}')
    refused.feed(b'{"type":"tool_result","tool_id":"t1","status":"error","error":{"type":"tool_not_registered"}}')
    refused.feed(b'{"type":"result","status":"success","stats":{}}')
    assert refused.outcome(0, "", cancelled=False).status == "waiting_for_input"
