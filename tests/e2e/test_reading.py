"""Reading sessions over stdio: initialize, session/list, session/get, session/messages, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from tests.conftest import install_transcripts
from tests.e2e.harness import ThreadlineClient

TOOL_SESSION = "33333333-3333-4333-8333-333333333333"
BASIC_SESSION = "11111111-1111-4111-8111-111111111111"


async def test_initialize_announces_the_protocol(threadline: ThreadlineClient) -> None:
    result = threadline.init_result  # type: ignore[attr-defined]
    assert result.server_info.name == "threadline"
    assert result.capabilities.experimental["threadline"] == {"protocolVersion": 1, "agents": ["claude"]}


async def test_list_shows_external_sessions_newest_first(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    installed = install_transcripts(claude_home, project)
    result = await threadline.request("session/list", {"cwd": str(project)})
    ids = [s["sessionId"] for s in result["sessions"]]
    assert set(ids) == set(installed)
    stamps = [s["updatedAt"] for s in result["sessions"]]
    assert stamps == sorted(stamps, reverse=True)
    tool = next(s for s in result["sessions"] if s["sessionId"] == TOOL_SESSION)
    assert tool["source"] == "external"
    assert tool["title"] == "run the marker [[tool:bash]]"
    assert tool["cwd"] == str(project)
    assert tool["status"] == "completed"
    assert tool["messageCount"] == 4
    assert tool["transcriptPath"] == str(installed[TOOL_SESSION])
    assert tool["model"] == "claude-opus-4-8"
    assert tool["gitBranch"] == "HEAD"
    # Two records share one API message (text + tool_use): its usage counts once.
    assert tool["usage"]["outputTokens"] == 54 + 13 and tool["usage"]["inputTokens"] == 19469 + 19557
    assert result["nextCursor"] is None and result["activeSessionId"] is None


async def test_list_pages_with_an_opaque_cursor_and_filters(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    installed = install_transcripts(claude_home, project)
    seen: list[str] = []
    cursor = None
    while True:
        page = await threadline.request("session/list", {"cwd": str(project), "limit": 3, "cursor": cursor})
        assert len(page["sessions"]) <= 3
        seen += [s["sessionId"] for s in page["sessions"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(installed) and len(seen) == len(set(seen))
    found = await threadline.request("session/list", {"cwd": str(project), "query": "STUB SAW TOOL"})
    assert [s["sessionId"] for s in found["sessions"]] == [TOOL_SESSION]
    failed = await threadline.request("session/list", {"cwd": str(project), "status": ["failed"]})
    assert failed["sessions"] == []


async def test_messages_page_from_the_end_and_pair_tools(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    install_transcripts(claude_home, project)
    page = await threadline.request("session/messages", {"sessionId": TOOL_SESSION, "fromEnd": True, "limit": 3})
    assert page["total"] == 4 and page["offset"] == 1
    roles = [m["role"] for m in page["messages"]]
    assert roles == ["assistant", "user", "assistant"]
    tool_use = page["messages"][0]["content"][1]
    tool_result = page["messages"][1]["content"][0]
    assert tool_use["type"] == "tool_use" and tool_use["name"] == "Bash"
    assert tool_result == {"type": "tool_result", "toolUseId": tool_use["id"], "text": "stub-tool-ok", "isError": False}
    first = await threadline.request("session/messages", {"sessionId": TOOL_SESSION, "offset": 0, "limit": 1})
    assert first["messages"][0]["content"] == [{"type": "text", "text": "run the marker [[tool:bash]]"}]


async def test_get_and_errors(threadline: ThreadlineClient, project: Path, claude_home: Path) -> None:
    install_transcripts(claude_home, project)
    got = await threadline.request("session/get", {"sessionId": BASIC_SESSION})
    assert got["session"]["title"] == "hello there"
    with pytest.raises(JsonRpcException) as missing:
        await threadline.request("session/get", {"sessionId": "00000000-0000-4000-8000-000000000000"})
    assert missing.value.code == -32001
    assert missing.value.data == {"sessionId": "00000000-0000-4000-8000-000000000000"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"sessionId": "../../etc/passwd"}, "sessionId"),
        ({}, "sessionId"),
        ({"sessionId": 7}, "sessionId"),
    ],
)
async def test_malformed_ids_are_refused_before_any_file_is_touched(
    threadline: ThreadlineClient, params: dict, field: str
) -> None:
    for method in ("session/get", "session/messages", "session/resume", "workflow/cancel"):
        with pytest.raises(JsonRpcException) as refused:
            await threadline.request(method, {**params, "prompt": "x"})
        assert refused.value.code == -32602, method
        assert refused.value.data == {"field": field}
        assert "Traceback" not in refused.value.message


async def test_a_corrupt_line_does_not_break_a_session(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    installed = install_transcripts(claude_home, project, [BASIC_SESSION])
    path = installed[BASIC_SESSION]
    lines = path.read_text().splitlines()
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps(["an", "array"]))
    path.write_text("\n".join(lines) + "\n")
    got = await threadline.request("session/get", {"sessionId": BASIC_SESSION})
    assert got["session"]["messageCount"] == 4
    page = await threadline.request("session/messages", {"sessionId": BASIC_SESSION})
    assert [m["role"] for m in page["messages"]] == ["user", "assistant", "user", "assistant"]


async def test_first_listing_of_a_large_history_reports_progress(
    project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    from lsprotocol import types as lsp

    from tests.e2e.conftest import options_for
    from tests.e2e.harness import start_client, stop_client

    source = install_transcripts(claude_home, project, [BASIC_SESSION])[BASIC_SESSION]
    data = source.read_text()
    for n in range(60):
        session_id = f"{n:08d}-0000-4000-8000-000000000000"
        (source.parent / f"{session_id}.jsonl").write_text(data.replace(BASIC_SESSION, session_id))
    capabilities = lsp.ClientCapabilities(window=lsp.WindowClientCapabilities(work_done_progress=True))
    client = await start_client([project], options_for(claude_home, fake_claude), capabilities=capabilities)
    try:
        listed = await client.request("session/list", {"cwd": str(project), "limit": 1000})
        assert len(listed["sessions"]) == 61
        reports = [p for values in client.progress_reports.values() for p in values]
        kinds = [r.kind for r in reports]
        assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
        assert reports[-2].percentage == 100
        again = await client.request("session/list", {"cwd": str(project)})
        assert len(again["sessions"]) == 61
        assert len([p for values in client.progress_reports.values() for p in values]) == len(reports)
    finally:
        await stop_client(client)
