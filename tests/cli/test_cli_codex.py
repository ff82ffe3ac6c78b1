"""The ``threadline`` command line with Codex CLI: start, list beside Claude, show, resume,
a failed turn; on the fake ``codex`` (fast tier) and on the real CLI offline against the
Responses-API stub (``-m "real_agent and codex"``)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.agents.codex_fixtures import CodexAgent, codex_agent, codex_kind
from tests.cli.test_cli import ANSI, TIMEOUT, Cli, one_sentence
from tests.conftest import install_transcripts
from threadline.protocol import is_session_id

__all__ = ["codex_agent", "codex_kind"]

pytestmark = pytest.mark.codex

CLAUDE_SESSION = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
def cli(codex_agent: CodexAgent, project: Path, claude_home: Path) -> Cli:
    """The CLI in ``project``, with one Claude session there and ``codex`` the agent's."""
    install_transcripts(claude_home, project, [CLAUDE_SESSION])
    runner = Cli(project, claude_home)
    runner.env.update(codex_agent.extra_env)
    runner.env["THREADLINE_CODEX_COMMAND"] = json.dumps(codex_agent.argv)
    return runner


def test_start_list_show_and_resume_a_codex_session(cli: Cli, codex_agent: CodexAgent) -> None:
    prompt = "say hi: $(touch pwned) --help"
    started = cli.run("start", "--agent", "codex", "--", prompt)
    assert started.returncode == 0, started.stderr
    session_id = started.stdout.splitlines()[0]
    assert is_session_id(session_id) and started.stderr.rstrip().endswith(f"{session_id} completed")
    rollout = codex_agent.rollout(session_id)
    assert rollout is not None, "the id printed is not the thread Codex wrote"
    assert not (cli.project / "pwned").exists()

    code, output = cli.tty("list", width=120, colour=False)
    assert code == 0, output
    header, *rows = ANSI.sub("", output).rstrip("\n").split("\n")
    assert header.split()[:3] == ["ID", "AGENT", "STATUS"]
    agents = {row.split()[0]: row.split()[1] for row in rows}
    assert agents == {session_id[:8]: "codex", CLAUDE_SESSION[:8]: "claude"}
    piped = {r.split("\t")[0]: r.split("\t") for r in cli.run("list").stdout.splitlines()}
    assert piped[session_id][1:2] == ["completed"] and piped[session_id][6] == "codex"
    only = json.loads(cli.run("list", "--json", "--agent", "codex").stdout)
    assert [(s["sessionId"], s["agent"]) for s in only["sessions"]] == [(session_id, "codex")]

    before = rollout.read_bytes()
    resumed = cli.run("resume", session_id[:8], "and once more")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == session_id
    assert codex_agent.rollout(session_id) == rollout and rollout.read_bytes().startswith(before)

    shown = json.loads(cli.run("show", session_id[:8], "--json").stdout)
    assert shown["session"]["status"] == "completed" and shown["session"]["agent"] == "codex"
    you = [
        b["text"]
        for m in shown["messages"]
        if m["role"] == "user" and not m["isMeta"]
        for b in m["content"]
        if b["type"] == "text"
    ]
    assert you == [prompt, "and once more"]
    code, output = cli.tty("show", session_id[:8], width=100, colour=False)
    text = ANSI.sub("", output)
    assert code == 0 and "you:" in text and "agent:" in text and "and once more" in text


def test_a_failed_codex_turn_exits_3_with_the_agents_message(cli: Cli) -> None:
    failed = cli.run("start", "--agent", "codex", "boom [[http500]]")
    assert failed.returncode == 3, failed.stderr
    session_id = failed.stdout.splitlines()[0]
    last = failed.stderr.rstrip().splitlines()[-1]
    assert last.startswith(f"{session_id} failed: ") and "high demand" in last, last
    again = cli.run("resume", session_id[:8], "try again", "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["sessionId"] == session_id and result["session"]["status"] == "completed"


def test_cancel_stops_a_codex_turn_another_cli_runs(cli: Cli) -> None:
    owner = subprocess.Popen(
        cli.argv(["start", "--agent", "codex", "take your time [[slow:30]]"]),
        cwd=cli.project,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert owner.stdout is not None
        session_id = owner.stdout.readline().strip()  # printed once Codex named the thread
        assert is_session_id(session_id), owner.communicate(timeout=TIMEOUT)
        meta = cli.project / ".threadline" / "workflows" / session_id / "metadata.json"
        deadline = time.monotonic() + TIMEOUT
        while json.loads(meta.read_text()).get("pid") is None:  # written just after the id
            assert time.monotonic() < deadline and owner.poll() is None, "the owner never recorded the pid"
            time.sleep(0.02)
        agent_pid = json.loads(meta.read_text())["pid"]
        cancelled = cli.run("cancel", session_id[:8], "--json")
        assert cancelled.returncode == 0, cancelled.stderr
        assert json.loads(cancelled.stdout)["session"]["status"] == "cancelled"
        _, err = owner.communicate(timeout=TIMEOUT)
        # The owner saw its Codex end without a result; the store says what the user did.
        assert owner.returncode == 3 and f"{session_id} interrupted" in err, err
        with pytest.raises(ProcessLookupError):
            os.kill(agent_pid, 0)
        assert json.loads(cli.run("show", session_id, "--json").stdout)["session"]["status"] == "cancelled"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate()


def test_cancel_names_the_agent_of_a_turn_run_in_a_terminal(cli: Cli, codex_agent: CodexAgent) -> None:
    process = codex_agent.start(["exec", "--json", "--skip-git-repo-check", "-"], cli.project, "hold on [[slow:30]]")
    session_id = process.wait_for_event(lambda e: e.get("type") == "thread.started")["thread_id"]
    deadline = time.monotonic() + TIMEOUT
    while session_id not in codex_agent.adapter.live_sessions():  # the writer lock announces nothing
        assert time.monotonic() < deadline, "Codex never took its writer lock"
        time.sleep(0.02)
    shown = json.loads(cli.run("show", session_id[:8], "--json").stdout)["session"]
    assert (shown["status"], shown["pid"], shown["source"]) == ("running", process.pid, "external")
    refused = cli.run("cancel", session_id[:8])
    assert refused.returncode == 1
    assert one_sentence(refused.stderr) == (
        f"threadline: Session {session_id} runs in a Codex CLI process that Threadline did not start "
        f"(pid {process.pid}); stop it where it runs."
    )
    assert process.popen.poll() is None, "the refused cancel stopped Codex"
