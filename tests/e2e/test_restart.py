"""A server that starts and finds store entries left ``running`` by an earlier process."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.conftest import install_transcripts
from tests.e2e.conftest import options_for
from tests.e2e.harness import start_client, stop_client
from threadline.store import ProjectStore, TurnRecord, WorkflowMetadata

FINISHED = "11111111-1111-4111-8111-111111111111"
KILLED = "66666666-6666-4666-8666-666666666666"


def leave_running(project: Path, session_id: str, pid: int, transcript: Path | None) -> None:
    store = ProjectStore(project)
    store.ensure()
    store.write_metadata(
        WorkflowMetadata(
            session_id=session_id,
            cwd=str(project),
            title="left running",
            status="running",
            pid=pid,
            transcript_path=str(transcript) if transcript else None,
            turns=[TurnRecord(prompt="left running", status="running")],
        )
    )


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def test_restart_settles_turns_whose_process_is_gone(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    installed = install_transcripts(claude_home, project, [FINISHED, KILLED])
    # The SIGKILL sample ends at the pre-request batch of its last turn: cut it there.
    killed = installed[KILLED]
    lines = killed.read_text().splitlines()
    cut = max(i for i, line in enumerate(lines) if '"type": "user"' in line or '"type":"user"' in line)
    killed.write_text("\n".join(lines[: cut + 1]) + "\n")
    leave_running(project, FINISHED, dead_pid(), installed[FINISHED])
    leave_running(project, KILLED, dead_pid(), killed)
    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        listed = await client.request("session/list", {"cwd": str(project)})
        status = {s["sessionId"]: s["status"] for s in listed["sessions"]}
        assert status == {FINISHED: "completed", KILLED: "interrupted"}
        store = ProjectStore(project)
        assert store.read_metadata(FINISHED).status == "completed"  # type: ignore[union-attr]
        killed_meta = store.read_metadata(KILLED)
        assert killed_meta is not None and killed_meta.status == "interrupted"
        assert killed_meta.turns[-1].status == "interrupted" and killed_meta.pid is None
    finally:
        await stop_client(client)


async def test_restart_keeps_a_live_turn_running_until_its_process_ends(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    installed = install_transcripts(claude_home, project, [FINISHED])
    holder = subprocess.Popen(["sleep", "60"])
    leave_running(project, FINISHED, holder.pid, installed[FINISHED])
    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        got = await client.request("session/get", {"sessionId": FINISHED})
        assert got["session"]["status"] == "running" and got["session"]["pid"] == holder.pid
        holder.kill()
        holder.wait()
        update = await client.wait_for(
            "session/updated", lambda p: p["session"]["sessionId"] == FINISHED and p["session"]["status"] != "running"
        )
        assert update["session"]["status"] == "completed"
    finally:
        holder.kill()
        await stop_client(client)


async def test_orphaned_active_marker_is_removed_on_start(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    install_transcripts(claude_home, project, [FINISHED])
    workflows = project / ".threadline" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / ".active-00000000-0000-4000-8000-000000000000").touch()
    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        listed = await client.request("session/list", {"cwd": str(project)})
        assert listed["activeSessionId"] is None
        assert not list(workflows.glob(".active-*"))
    finally:
        await stop_client(client)


async def test_temp_files_of_a_writer_killed_mid_write_are_swept_on_start(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    session_id = "3f0c8a52-9d1e-4b7a-8c2f-6e5d4a3b2c1d"
    leave_running(project, session_id, dead_pid(), None)
    folder = project / ".threadline" / "workflows" / session_id
    stale = folder / ".metadata.json.q1w2e3r4.tmp"
    stale.write_text('{"version": 1, "sessionId": "half')
    long_ago = time.time() - 3600
    os.utime(stale, (long_ago, long_ago))
    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        listed = await client.request("session/list", {"cwd": str(project)})
        assert [s["sessionId"] for s in listed["sessions"]] == [session_id]
        assert not stale.exists()
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".metadata.lock")) == ["metadata.json"]
    finally:
        await stop_client(client)
