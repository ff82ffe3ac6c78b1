"""Hostile files through a real server (issue 9, item 4): every other session is still served.

Reproductions of the probes: a ``<uuid>.jsonl`` FIFO created while the server runs (it used
to block the server for good), a ``<uuid>.jsonl`` symlink loop (``initialize`` and every
``session/list`` failed with a traceback), a ``metadata.json`` that is a directory
(``initialize`` failed with -32603).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.conftest import install_transcripts
from tests.e2e.conftest import options_for
from tests.e2e.harness import ThreadlineClient, start_client, stop_client
from tests.unit.test_store import make_meta
from threadline.store import ProjectStore

GOOD = "11111111-1111-4111-8111-111111111111"
TOOL = "33333333-3333-4333-8333-333333333333"
FIFO = "99999999-9999-4999-8999-999999999999"
LOOP = "88888888-8888-4888-8888-888888888888"


async def listed(client: ThreadlineClient, project: Path) -> set[str]:
    result = await asyncio.wait_for(client.request("session/list", {"cwd": str(project)}), 10)
    return {s["sessionId"] for s in result["sessions"]}


async def test_a_fifo_transcript_created_while_serving_never_blocks_the_server(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    installed = install_transcripts(claude_home, project, [GOOD])
    assert await listed(threadline, project) == {GOOD}
    os.mkfifo(installed[GOOD].parent / f"{FIFO}.jsonl")
    # A later change of a good session is reported only once the FIFO's event (earlier, in the
    # same or an earlier batch) has been handled: a server blocked on the FIFO never sends it.
    mark = len(threadline.received)
    with installed[GOOD].open("a") as handle:
        handle.write(installed[GOOD].read_text().splitlines()[-1] + "\n")
    await threadline.wait_for("session/updated", lambda p: p["session"]["sessionId"] == GOOD, timeout=10, start=mark)
    for _ in range(5):
        assert await listed(threadline, project) == {GOOD}
        page = await asyncio.wait_for(threadline.request("session/messages", {"sessionId": GOOD, "limit": 2}), 10)
        assert page["total"] > 0
    tool = install_transcripts(claude_home, project, [TOOL])[TOOL]
    detected = await threadline.wait_for("session/detected", lambda p: p["session"]["sessionId"] == TOOL)
    assert detected["session"]["transcriptPath"] == str(tool)


async def test_a_symlink_loop_and_a_folder_as_metadata_never_fail_initialize(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    installed = install_transcripts(claude_home, project, [GOOD, TOOL])
    folder = installed[GOOD].parent
    os.symlink(f"{LOOP}.jsonl", folder / f"{LOOP}.jsonl")  # a link to itself: ELOOP
    store = ProjectStore(project)
    meta = make_meta(project, TOOL, status="completed", transcript_path=str(installed[TOOL]))
    store.write_metadata(meta)
    other = make_meta(project, status="completed", title="kept")
    store.write_metadata(other)
    path = store.workflows_dir / TOOL / "metadata.json"
    path.unlink()
    path.mkdir()

    client = await start_client([project], options_for(claude_home, fake_claude))
    try:
        assert await listed(client, project) == {GOOD, TOOL, other.session_id}
        assert await listed(client, project) == {GOOD, TOOL, other.session_id}
        session = (await client.request("session/get", {"sessionId": TOOL}))["session"]
        assert session["transcriptPath"] == str(installed[TOOL])
    finally:
        await stop_client(client)
    assert any(p.name.startswith("metadata.json.corrupt-") for p in (store.workflows_dir / TOOL).iterdir())
