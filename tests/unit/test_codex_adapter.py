"""The Codex adapter's argv, environment, paths, liveness and stdout reading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from threadline.agents.base import AgentCommand
from threadline.agents.codex import CodexAdapter
from threadline.agents.codex import paths as codex_paths
from threadline.agents.codex.interface import TurnRequest

DATA = Path(__file__).resolve().parent.parent / "data" / "codex"
ID = "01a22b9d-6f54-7210-b851-a1a4c4855f68"


@pytest.fixture
def adapter(tmp_path: Path) -> CodexAdapter:
    return CodexAdapter(tmp_path / "codex-home", AgentCommand(argv=["/opt/codex"], env={"X_SET": "1"}))


def turn(**kw: object) -> TurnRequest:
    kw.setdefault("session_id", None)
    return TurnRequest(cwd="/p", prompt="--help", **kw)  # type: ignore[arg-type]


def test_identity(adapter: CodexAdapter) -> None:
    assert (adapter.id, adapter.display_name, adapter.command_setting) == ("codex", "Codex CLI", "agents.codex.command")
    assert adapter.mints_session_id is False


def test_argv_of_start_resume_and_fork(adapter: CodexAdapter) -> None:
    head = ["/opt/codex", "exec"]
    flags = ["--json", "--skip-git-repo-check"]
    assert adapter.argv(turn()) == [*head, *flags, "-"]
    assert adapter.argv(turn(session_id=ID, resume=True)) == [*head, "resume", *flags, ID, "-"]
    assert adapter.argv(turn(fork_from=ID)) == [*head, "fork", *flags, ID, "-"]
    assert adapter.argv(turn(model="o9")) == [*head, *flags, "-m", "o9", "-"]
    assert adapter.argv(turn(permission_mode="acceptEdits"))[-3:] == ["-c", 'sandbox_mode="workspace-write"', "-"]
    assert adapter.argv(turn(permission_mode="plan"))[-3:] == ["-c", 'sandbox_mode="read-only"', "-"]
    assert "--dangerously-bypass-approvals-and-sandbox" in adapter.argv(turn(permission_mode="bypassPermissions"))
    assert adapter.argv(turn(permission_mode="default")) == [*head, *flags, "-"]


def test_the_prompt_never_reaches_argv_and_goes_to_stdin_verbatim(adapter: CodexAdapter) -> None:
    prompt = "--help\n$(touch pwned)\n" + "x" * (1 << 20)
    request = TurnRequest(session_id=None, cwd="/p", prompt=prompt)
    assert all(prompt[:6] not in arg for arg in adapter.argv(request))
    assert adapter.stdin_bytes(request) == prompt.encode()
    assert adapter.stdin_bytes(TurnRequest(session_id=None, cwd="/p", prompt="go", skill="review")) == b"$review go"


@pytest.mark.parametrize("bad", ["--last", "latest", "", "01a22b9d", "-"])
def test_an_id_that_is_not_a_uuid_never_reaches_codex(adapter: CodexAdapter, bad: str) -> None:
    """Codex takes a non-UUID as a thread name and, finding none, starts a new thread."""
    with pytest.raises(ValueError, match="not a Codex session id"):
        adapter.argv(turn(session_id=bad, resume=True))
    with pytest.raises(ValueError):
        adapter.argv(turn(fork_from=bad))


def test_env(adapter: CodexAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_THREAD_ID", "outer")
    monkeypatch.setenv("CODEX_HOME", "/elsewhere")
    env = adapter.env()
    assert env["CODEX_HOME"] == str(adapter.home)
    assert env["X_SET"] == "1"
    assert "CODEX_THREAD_ID" not in env


def test_paths(adapter: CodexAdapter) -> None:
    day = adapter.home / "sessions" / "2026" / "11" / "30"
    day.mkdir(parents=True)
    rollout = day / f"rollout-2026-11-30T08-41-07-{ID}.jsonl"
    rollout.write_bytes(b"")
    other = adapter.home / "sessions" / "2026" / "11" / "29" / f"rollout-2026-11-29T23-59-59-{ID[:-1]}0.jsonl"
    other.parent.mkdir()
    other.write_bytes(b"")
    (day / "notes.jsonl").write_bytes(b"")
    assert adapter.is_transcript(rollout) and adapter.session_id_from_path(rollout) == ID
    assert not adapter.is_transcript(day / "notes.jsonl")
    assert not adapter.is_transcript(adapter.home / f"rollout-2026-11-30T08-41-07-{ID}.jsonl")
    assert list(adapter.iter_transcripts()) == [other, rollout]
    assert adapter.find_transcript(ID) == rollout
    assert adapter.find_transcript(ID.upper()) == rollout
    assert adapter.find_transcript("01a22b9d-6f54-7210-b851-000000000000") is None
    assert adapter.watch_roots() == [adapter.home / "sessions", adapter.home / "thread-writer-locks"]
    assert adapter.is_liveness_path(adapter.home / "thread-writer-locks" / f"{ID}.lock")
    assert not adapter.is_liveness_path(rollout)
    assert not adapter.is_liveness_path(adapter.home / "thread-writer-locks" / ".coordination.lock")
    assert CodexAdapter(tmp := adapter.home / "missing").live_sessions() == {} and not list(
        CodexAdapter(tmp).iter_transcripts()
    )


HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("proc_locks", [True, False], ids=["proc-locks", "flock-probe"])
def test_live_sessions_tests_the_lock_not_the_file(
    adapter: CodexAdapter, proc_locks: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not proc_locks:
        monkeypatch.setattr(codex_paths, "PROC_LOCKS", tmp_path / "no-proc-locks")
    locks = adapter.home / "thread-writer-locks"
    locks.mkdir(parents=True)
    (locks / ".coordination.lock").write_bytes(b"")
    stale = "01a22b9d-0000-7000-8000-00000000dead"
    (locks / f"{stale}.lock").write_bytes(b"")  # left by a killed Codex: no one holds it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(locks / f"{ID}.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert adapter.live_sessions() == {ID: holder.pid if proc_locks else 0}
        # Looking never takes the lock: the holder still has it, and a second look agrees.
        assert adapter.live_sessions() == {ID: holder.pid if proc_locks else 0}
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    assert adapter.live_sessions() == {}


def monitor_of(name: str, exit_code: int, stderr: str = "", cancelled: bool = False):  # type: ignore[no-untyped-def]
    monitor = CodexAdapter(Path("/nonexistent")).new_monitor()
    told = [monitor.feed(line) for line in (DATA / f"codex-exec-json.{name}.stdout.jsonl").read_bytes().splitlines()]
    return monitor, told, monitor.outcome(exit_code, stderr, cancelled)


def test_monitor_on_a_completed_turn() -> None:
    monitor, told, outcome = monitor_of("hello", 0)
    assert monitor.session_id == "01a22b9d-6f54-7210-b851-a1a4c4855f68"
    assert told[0] is True  # thread.started: the id is news
    assert outcome.status == "completed" and outcome.last_error is None
    assert outcome.usage is None, "turn.completed.usage is the thread's running total, not the turn's"
    assert monitor.agent_text == "stub reply 1: hello"
    # The exit code alone decides nothing: a completed turn is completed.
    assert monitor_of("hello", 1)[2].status == "completed"
    assert monitor_of("hello", 0, cancelled=True)[2].status == "cancelled"


def test_monitor_on_a_failed_turn() -> None:
    _m, _t, outcome = monitor_of("http500", 1)
    assert outcome.status == "failed"
    assert outcome.last_error == "We\u2019re currently experiencing high demand, which may cause temporary errors."
    assert monitor_of("http500", 0)[2].status == "failed"


def test_monitor_on_a_turn_without_an_end() -> None:
    # SIGINT: Codex exits 1 and prints no terminal event.
    assert monitor_of("sigint-mid-stream", 1, "Reading additional input from stdin...\n")[2].status == "interrupted"
    assert monitor_of("sigint-mid-stream", 1, cancelled=True)[2].status == "cancelled"
    killed = monitor_of("killed-mid-stream", -9)[2]
    assert killed.status == "interrupted" and killed.last_error == "The agent process ended by signal 9."
    assert monitor_of("shell-tool", 0)[2].status == "completed"


def test_monitor_when_codex_refuses_to_start() -> None:
    monitor = CodexAdapter(Path("/nonexistent")).new_monitor()
    stderr = (
        "ad-store conflict: thread x already has an active writer\n"
        f"Error: thread/resume: thread/resume failed: thread {ID} already has an active writer (code -32600)\n\n"
        "Stack backtrace:\n   0: <unknown>\n"
    )
    outcome = monitor.outcome(1, stderr, False)
    assert monitor.session_id is None
    assert outcome.status == "failed"
    assert (
        outcome.last_error
        == f"thread/resume: thread/resume failed: thread {ID} already has an active writer (code -32600)"
    )
    bare = monitor.outcome(1, "Reading prompt from stdin...\nNo prompt provided via stdin.\n", False)
    assert bare.status == "failed" and bare.last_error == "No prompt provided via stdin."
    silent = monitor.outcome(-9, "", False)
    assert silent.status == "failed" and silent.last_error == "Codex exited with code -9 before starting."


def test_monitor_ignores_noise() -> None:
    monitor = CodexAdapter(Path("/nonexistent")).new_monitor()
    assert monitor.feed(b"not json") is False
    assert monitor.feed(b"[1]") is False
    assert monitor.feed(b'{"type":"thread.started"}') is False
    assert monitor.session_id is None
