"""Never two writers, no lost turn: concurrent and alternating resumes on one and several servers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcException

from tests.e2e.conftest import options_for
from tests.e2e.harness import ThreadlineClient, start_client, stop_client

ROUNDS = 20
SLOW = "[[slow:60]]"
"""A racing turn lasts until the test cancels it (the fake streams for up to 60 s)."""


def metadata_of(project: Path, session_id: str) -> dict[str, Any]:
    return json.loads((project / ".threadline" / "workflows" / session_id / "metadata.json").read_text())


async def settled(client: ThreadlineClient, session_id: str, start: int, since: str = "") -> dict[str, Any]:
    """The first update after ``start`` that shows the turn begun at ``since`` ended (an update of
    the previous turn, still in flight, may say "completed" after a resume was answered)."""
    update = await client.wait_for(
        "session/updated",
        lambda p: (
            p["session"]["sessionId"] == session_id
            and p["session"]["status"] != "running"
            and (p["session"]["updatedAt"] or "") > since
        ),
        start=start,
        timeout=30,
    )
    return update["session"]


async def attempt(client: ThreadlineClient, session_id: str, prompt: str) -> dict[str, Any] | JsonRpcException:
    try:
        return await client.request("session/resume", {"sessionId": session_id, "prompt": prompt})
    except JsonRpcException as exc:
        return exc


async def race(
    clients: list[ThreadlineClient], session_id: str, round_no: int
) -> tuple[list[dict[str, Any]], list[JsonRpcException]]:
    marks = [len(c.received) for c in clients]
    # The turn runs until it is cancelled, so every attempt lands while it runs, however late a
    # loaded machine lets a server read its request (a quick turn could end in between, and a
    # later resume would then rightly be accepted).
    results = await asyncio.gather(
        *(attempt(c, session_id, f"round {round_no} from client {n} {SLOW}") for n, c in enumerate(clients))
    )
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, JsonRpcException)]
    winners = [n for n, r in enumerate(results) if isinstance(r, dict)]
    assert winners, f"round {round_no}: every resume was refused: {[(r.message, r.data) for r in refused]}"
    winner = winners[0]
    answer = results[winner]
    assert isinstance(answer, dict)
    cancelled = await clients[winner].request("workflow/cancel", {"sessionId": session_id})
    assert cancelled["session"]["status"] == "cancelled", cancelled
    await settled(clients[winner], session_id, marks[winner], answer["session"]["updatedAt"])
    return accepted, refused


async def start_settled(client: ThreadlineClient, project: Path) -> str:
    mark = len(client.received)
    started = await client.request("workflow/start", {"cwd": str(project), "prompt": "first"})
    await settled(client, started["sessionId"], mark)
    return str(started["sessionId"])


async def test_concurrent_resumes_on_one_server_start_exactly_one(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        session_id = await start_settled(client, project)
        for round_no in range(ROUNDS):
            accepted, refused = await race([client, client, client], session_id, round_no)
            assert len(accepted) == 1, round_no
            assert [r.code for r in refused] == [-32002, -32002]
            assert all(r.data["sessionId"] == session_id and isinstance(r.data["pid"], int) for r in refused)
        turns = metadata_of(project, session_id)["turns"]
        assert len(turns) == 1 + ROUNDS and all(t["status"] == "cancelled" for t in turns[1:])
    finally:
        await stop_client(client)


async def test_concurrent_resumes_on_several_servers_start_exactly_one(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    clients = [await start_client([project], options_for(claude_home, fake_claude)) for _ in range(3)]
    try:
        session_id = await start_settled(clients[0], project)
        for round_no in range(ROUNDS):
            accepted, refused = await race(clients, session_id, round_no)
            assert len(accepted) == 1, round_no
            assert [r.code for r in refused] == [-32002, -32002], round_no
        turns = metadata_of(project, session_id)["turns"]
        assert len(turns) == 1 + ROUNDS and all(t["status"] == "cancelled" for t in turns[1:])
        prompts = [t["prompt"] for t in turns[1:]]
        assert [p.split(" from ")[0] for p in prompts] == [f"round {n}" for n in range(ROUNDS)]
    finally:
        for client in clients:
            await stop_client(client)


async def test_alternating_resumes_on_two_servers_keep_every_turn(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    first = await start_client([project], options_for(claude_home, fake_claude))
    second = await start_client([project], options_for(claude_home, fake_claude))
    try:
        session_id = await start_settled(first, project)
        for turn in range(10):
            client = (second, first)[turn % 2]
            mark = len(client.received)
            answer = await client.request("session/resume", {"sessionId": session_id, "prompt": f"turn {turn}"})
            await settled(client, session_id, mark, answer["session"]["updatedAt"])
        turns = metadata_of(project, session_id)["turns"]
        assert [t["prompt"] for t in turns] == ["first", *(f"turn {n}" for n in range(10))]
        assert all(t["status"] == "completed" and t["endedAt"] for t in turns)
        for client in (first, second):
            got = await client.request("session/get", {"sessionId": session_id})
            assert got["session"]["status"] == "completed" and got["session"]["source"] == "workflow"
    finally:
        await stop_client(first)
        await stop_client(second)
