"""Detection across 5 servers when the agent's folders do not exist at start-up (issue 9, item 3).

The probe: 5 servers watching one project with a fresh ``CLAUDE_CONFIG_DIR`` (no
``projects/``, no ``sessions/``); sessions appear the way the CLI writes them. Non-polling
servers missed 8 to 45 of 200 ``session/detected``, because rebuilding the watch when a root
appeared rescanned only that root. Now every server must detect every session exactly once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from tests.e2e.conftest import options_for
from tests.e2e.harness import ThreadlineClient, start_client, stop_client
from threadline.agents.claude.paths import encode_project_dir

SERVERS = 5
SESSIONS = 40


def record(project: Path, session_id: str, index: int) -> str:
    return json.dumps(
        {
            "type": "user",
            "message": {"role": "user", "content": f"prompt {index}"},
            "uuid": str(uuid.uuid4()),
            "timestamp": "2026-11-30T10:00:00.000Z",
            "cwd": str(project),
            "sessionId": session_id,
        }
    )


def write_sessions_like_the_cli(claude_home: Path, project: Path, ids: list[str]) -> None:
    """``sessions/`` first, then the project folder, then each transcript written once."""
    (claude_home / "sessions").mkdir()
    folder = claude_home / "projects" / encode_project_dir(str(project))
    for index, session_id in enumerate(ids):
        (claude_home / "sessions" / f"{10_000 + index}.json").write_text(
            json.dumps({"pid": 10_000 + index, "sessionId": session_id})
        )
        if index == 0:
            folder.mkdir(parents=True)
        (folder / f"{session_id}.jsonl").write_text(record(project, session_id, index) + "\n")


async def detected_ids(client: ThreadlineClient) -> list[str]:
    return [p["session"]["sessionId"] for p in client.notifications("session/detected")]


async def wait_for_all(client: ThreadlineClient, wanted: set[str], timeout: float = 30.0) -> None:
    async def until() -> None:
        while not wanted <= set(await detected_ids(client)):
            await client.wait_for("session/detected", start=len(client.received), timeout=timeout)

    try:
        await asyncio.wait_for(until(), timeout)
    except TimeoutError:
        missing = wanted - set(await detected_ids(client))
        raise AssertionError(f"missed {len(missing)} of {len(wanted)} session/detected") from None


async def test_five_servers_detect_every_session_once_when_the_roots_appear_late(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    assert not (claude_home / "projects").exists() and not (claude_home / "sessions").exists()
    clients = await asyncio.gather(
        *(start_client([project], options_for(claude_home, fake_claude), verbose=False) for _ in range(SERVERS))
    )
    try:
        # No waiting for the watches to be in place: what is written before they are is found
        # by each server's first rescan. The round trip only makes sure `initialized` ran.
        for client in clients:
            await client.request("session/list", {"cwd": str(project)})
        ids = [str(uuid.uuid4()) for _ in range(SESSIONS)]
        await asyncio.to_thread(write_sessions_like_the_cli, claude_home, project, ids)
        await asyncio.gather(*(wait_for_all(client, set(ids)) for client in clients))
        for client in clients:
            # A round trip after the last detection: no duplicate may still be on its way.
            await client.request("session/list", {"cwd": str(project)})
            found = await detected_ids(client)
            assert sorted(found) == sorted(ids), "every session detected exactly once by every server"
    finally:
        await asyncio.gather(*(stop_client(client) for client in clients))
