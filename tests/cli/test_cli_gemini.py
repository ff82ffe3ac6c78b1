"""Gemini CLI sessions from the ``threadline`` command line, on the fake ``gemini`` and on the
real CLI offline (``pytest -m "real_agent and gemini"``): start prints the id Gemini records,
list shows it beside Claude's with its agent, resume keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agents.gemini_fixtures import GeminiAgent, gemini_agent, gemini_kind
from tests.agents.gemini_scenarios import FAST_MODEL, session_chat
from tests.cli.test_cli import ANSI, Cli
from tests.conftest import install_transcripts
from threadline.protocol import is_session_id

__all__ = ["gemini_agent", "gemini_kind"]
pytestmark = pytest.mark.gemini


@pytest.fixture
def cli(gemini_agent: GeminiAgent, project: Path, claude_home: Path) -> Cli:
    """The command line with Claude's sample sessions and the ``gemini`` of ``gemini_kind``."""
    install_transcripts(claude_home, project)
    cli = Cli(project, claude_home)
    cli.env.update(gemini_agent.extra_env)
    cli.env["THREADLINE_GEMINI_COMMAND"] = json.dumps(gemini_agent.argv)
    return cli


def test_start_list_and_resume_a_gemini_session(cli: Cli, gemini_agent: GeminiAgent) -> None:
    started = cli.run("start", "--agent", "gemini", "--model", FAST_MODEL, "hello from the shell")
    assert started.returncode == 0, started.stderr
    session_id = started.stdout.splitlines()[0]
    assert is_session_id(session_id)
    assert started.stderr.strip().endswith(f"{session_id} completed"), started.stderr
    chat, _ = session_chat(gemini_agent, session_id)  # Gemini recorded the id Threadline printed

    rows = [line.split("\t") for line in cli.run("list").stdout.splitlines()]
    agents = {row[0]: row[6] for row in rows}
    assert agents.pop(session_id) == "gemini" and set(agents.values()) == {"claude"}
    code, output = cli.tty("list", width=120, colour=False)
    assert code == 0, output
    header, *lines = ANSI.sub("", output).rstrip("\n").split("\n")
    mine = next(line for line in lines if session_id[:8] in line)
    assert mine[header.index("AGENT") :].startswith("gemini")
    only = json.loads(cli.run("list", "--agent", "gemini", "--json").stdout)
    assert [s["sessionId"] for s in only["sessions"]] == [session_id]

    resumed = cli.run("resume", session_id[:8], "and again", "--model", FAST_MODEL, "--json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["sessionId"] == session_id
    assert (result["session"]["status"], result["session"]["messageCount"]) == ("completed", 4)
    assert session_chat(gemini_agent, session_id)[0] == chat
    shown = json.loads(cli.run("show", session_id, "--json").stdout)
    prompts = [b["text"] for m in shown["messages"] if m["role"] == "user" for b in m["content"]]
    assert prompts == ["hello from the shell", "and again"]


def test_a_refused_shell_tool_is_allowed_from_the_shell(cli: Cli, gemini_agent: GeminiAgent) -> None:
    prompt = "please [[tool:shell:touch approved.txt]]"
    denied = cli.run("start", "--agent", "gemini", "--model", FAST_MODEL, prompt)
    assert denied.returncode == 4, denied.stderr  # waiting for input
    session_id = denied.stdout.splitlines()[0]
    assert not (cli.project / "approved.txt").exists()
    done = cli.run("resume", session_id[:8], prompt, "--allow", "run_shell_command(touch)", "--model", FAST_MODEL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == session_id
    assert (cli.project / "approved.txt").is_file()
