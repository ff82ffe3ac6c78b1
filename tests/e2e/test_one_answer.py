"""One answer per id: the CLI and the server, with any cwd or none, say the same of a session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import TESTS, install_transcripts
from tests.e2e.conftest import options_for
from tests.e2e.harness import start_client, stop_client

FAKE_BIN = TESTS / "agents" / "bin" / "claude"
FIELDS = ("sessionId", "status", "source", "title", "messageCount", "agent", "cwd", "transcriptPath", "active")


def cli(claude_home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FAKE_CLAUDE_PYTHON": sys.executable}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline",
            "--claude-config-dir",
            str(claude_home),
            "--claude-command",
            str(FAKE_BIN),
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def fields(info: dict[str, Any]) -> dict[str, Any]:
    return {key: info.get(key) for key in FIELDS}


async def test_the_cli_and_the_server_give_one_answer_per_id(
    project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path
) -> None:
    started = cli(claude_home, project, "start", "make a file [[tool:bash:touch x.txt]]")
    assert started.returncode == 4, started.stderr  # the turn ended waiting for input
    session_id = started.stdout.splitlines()[0].strip()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    listed = json.loads(cli(claude_home, project, "list", "--json").stdout)["sessions"]
    listed_all = json.loads(cli(claude_home, elsewhere, "list", "--all", "--json").stdout)["sessions"]
    shown = json.loads(cli(claude_home, elsewhere, "show", session_id, "--json").stdout)["session"]
    answers = {
        "list": next(s for s in listed if s["sessionId"] == session_id),
        "list --all": next(s for s in listed_all if s["sessionId"] == session_id),
        "show": shown,
    }
    client = await start_client([elsewhere], options_for(claude_home, fake_claude))
    try:
        got = await client.request("session/get", {"sessionId": session_id})
        answers["session/get"] = got["session"]
        for params in ({"cwd": str(project)}, {}):
            result = await client.request("session/list", params)
            answers[f"session/list {params}"] = next(s for s in result["sessions"] if s["sessionId"] == session_id)
    finally:
        await stop_client(client)
    expected = fields(answers["list"])
    assert expected["status"] == "waiting_for_input" and expected["source"] == "workflow"
    for name, answer in answers.items():
        assert fields(answer) == expected, name


async def test_a_deleted_transcript_is_removed_and_a_workflow_stays_listed(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    installed = install_transcripts(claude_home, project)
    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        started = await client.request("workflow/start", {"cwd": str(project), "prompt": "hello"})
        workflow_id = started["sessionId"]
        await client.wait_for(
            "session/updated",
            lambda p: p["session"]["sessionId"] == workflow_id and p["session"]["status"] != "running",
        )
        external_id, external_path = next(iter(installed.items()))
        external_path.unlink()  # as the agent's own clean-up of old sessions does
        removed = await client.wait_for("session/removed", lambda p: p["sessionId"] == external_id)
        assert removed == {"sessionId": external_id}
        workflow_path = Path(
            (await client.request("session/get", {"sessionId": workflow_id}))["session"]["transcriptPath"]
        )
        workflow_path.unlink()
        update = await client.wait_for(
            "session/updated",
            lambda p: p["session"]["sessionId"] == workflow_id and p["session"]["transcriptPath"] is None,
        )
        assert update["session"]["source"] == "workflow"
        listed = await client.request("session/list", {"cwd": str(project)})
        ids = {s["sessionId"] for s in listed["sessions"]}
        assert workflow_id in ids and external_id not in ids
        assert not [p for m, p in client.received if m == "session/removed" and p["sessionId"] == workflow_id]
    finally:
        await stop_client(client)
