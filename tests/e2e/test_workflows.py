"""Workflows over stdio with the fake agent: start, resume, fork, cancel, busy, errors."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from tests.conftest import FAKE_CLAUDE
from tests.e2e.conftest import options_for
from tests.e2e.harness import ThreadlineClient, start_client, stop_client
from threadline.agents.claude.paths import encode_project_dir


def transcript_of(claude_home: Path, project: Path, session_id: str) -> Path:
    return claude_home / "projects" / encode_project_dir(str(project)) / f"{session_id}.jsonl"


def metadata_of(project: Path, session_id: str) -> dict:
    return json.loads((project / ".threadline" / "workflows" / session_id / "metadata.json").read_text())


async def finished(client: ThreadlineClient, session_id: str, start: int = 0) -> dict:
    """The first session/updated of ``session_id`` whose status is no longer running."""
    params = await client.wait_for(
        "session/updated",
        lambda p: p["session"]["sessionId"] == session_id and p["session"]["status"] != "running",
        start=start,
    )
    return params["session"]


def user_texts(path: Path) -> list[str]:
    texts = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "user" and isinstance(record["message"]["content"], str):
            texts.append(record["message"]["content"])
    return texts


async def test_start_answers_with_the_id_and_the_agent_writes_under_it(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    result = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "hello there"})
    session_id = result["sessionId"]
    assert result["session"]["sessionId"] == session_id
    assert result["session"]["status"] == "running" and result["session"]["source"] == "workflow"
    assert result["session"]["pid"] > 0
    detected = await threadline.wait_for("session/detected", lambda p: p["session"]["sessionId"] == session_id)
    path = transcript_of(claude_home, project, session_id)
    assert detected["session"]["transcriptPath"] == str(path)
    done = await finished(threadline, session_id)
    assert done["status"] == "completed"
    assert done["usage"]["inputTokens"] > 0 and done["usage"]["costUsd"] is not None
    page = await threadline.request("session/messages", {"sessionId": session_id})
    assert [m["role"] for m in page["messages"]] == ["user", "assistant"]
    assert page["messages"][0]["content"][0]["text"] == "hello there"
    assert "hello there" in page["messages"][1]["content"][0]["text"]
    meta = metadata_of(project, session_id)
    assert meta["status"] == "completed" and meta["transcriptPath"] == str(path)
    assert [t["prompt"] for t in meta["turns"]] == ["hello there"]
    assert meta["turns"][0]["exitCode"] == 0 and meta["turns"][0]["costUsd"] is not None
    index = json.loads((project / ".threadline" / "workflows" / "index.json").read_text())
    assert [e["sessionId"] for e in index["sessions"]] == [session_id]
    assert (project / ".threadline" / ".gitignore").read_text().strip() == "*"
    assert len(threadline.notifications("session/detected", session_id)) == 1


async def test_ten_workflows_started_at_once_never_cross(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    prompts = [f"workflow number {n}" for n in range(10)]
    results = await asyncio.gather(
        *(threadline.request("workflow/start", {"cwd": str(project), "prompt": p}) for p in prompts)
    )
    ids = [r["sessionId"] for r in results]
    assert len(set(ids)) == 10
    for session_id in ids:
        await finished(threadline, session_id)
    for session_id, prompt in zip(ids, prompts, strict=True):
        assert user_texts(transcript_of(claude_home, project, session_id)) == [prompt]
    index = json.loads((project / ".threadline" / "workflows" / "index.json").read_text())
    assert sorted(e["sessionId"] for e in index["sessions"]) == sorted(ids)
    for session_id in ids:
        assert len(threadline.notifications("session/detected", session_id)) == 1
    listed = await threadline.request("session/list", {"cwd": str(project)})
    assert sorted(s["sessionId"] for s in listed["sessions"]) == sorted(ids)


async def test_resume_keeps_the_id_and_the_file(threadline: ThreadlineClient, project: Path, claude_home: Path) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "first turn"})
    session_id = started["sessionId"]
    await finished(threadline, session_id)
    mark = len(threadline.received)
    resumed = await threadline.request("session/resume", {"sessionId": session_id, "prompt": "second turn"})
    assert resumed["sessionId"] == session_id and resumed["session"]["status"] == "running"
    await finished(threadline, session_id, start=mark)
    path = transcript_of(claude_home, project, session_id)
    assert user_texts(path) == ["first turn", "second turn"]
    assert sorted(p.name for p in path.parent.glob("*.jsonl")) == [path.name]
    page = await threadline.request("session/messages", {"sessionId": session_id})
    assert [m["role"] for m in page["messages"]] == ["user", "assistant", "user", "assistant"]
    assert [t["prompt"] for t in metadata_of(project, session_id)["turns"]] == ["first turn", "second turn"]


async def test_fork_gives_a_new_id_and_leaves_the_original(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "original"})
    parent = started["sessionId"]
    await finished(threadline, parent)
    before = transcript_of(claude_home, project, parent).read_bytes()
    forked = await threadline.request("session/resume", {"sessionId": parent, "prompt": "branch", "fork": True})
    child = forked["sessionId"]
    assert child != parent and forked["session"]["parentSessionId"] == parent
    done = await finished(threadline, child)
    assert done["parentSessionId"] == parent and done["status"] == "completed"
    assert transcript_of(claude_home, project, parent).read_bytes() == before
    assert user_texts(transcript_of(claude_home, project, child)) == ["original", "branch"]


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("--help", id="a-flag"),
        pytest.param("$(touch pwned) `touch pwned2`; touch pwned3", id="shell"),
        pytest.param("line one\n\"quoted\" and 'single'\n\ttabbed --resume x", id="multi-line"),
        pytest.param("x" * (1024 * 1024), id="one-megabyte"),
    ],
)
async def test_prompts_reach_the_agent_verbatim(
    threadline: ThreadlineClient, project: Path, claude_home: Path, prompt: str
) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": prompt})
    session_id = started["sessionId"]
    done = await finished(threadline, session_id)
    assert done["status"] == "completed", done["lastError"]
    assert user_texts(transcript_of(claude_home, project, session_id)) == [prompt]
    assert not list(project.glob("pwned*"))


async def test_skill_is_sent_as_a_slash_command(threadline: ThreadlineClient, project: Path, claude_home: Path) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "tidy up", "skill": "review"})
    assert started["session"]["skill"] == "review"
    await finished(threadline, started["sessionId"])
    assert user_texts(transcript_of(claude_home, project, started["sessionId"])) == ["/review tidy up"]


async def test_busy_session_refuses_a_second_resume(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "slow [[slow:3]]"})
    session_id = started["sessionId"]
    with pytest.raises(JsonRpcException) as busy:
        await threadline.request("session/resume", {"sessionId": session_id, "prompt": "again"})
    assert busy.value.code == -32002
    assert busy.value.data == {"sessionId": session_id, "pid": started["session"]["pid"]}
    # Cancel mid-reply: once the agent has written the prompt and sent its request.
    await threadline.wait_for("session/detected", lambda p: p["session"]["sessionId"] == session_id)
    cancelled = await threadline.request("workflow/cancel", {"sessionId": session_id})
    assert cancelled["session"]["status"] == "cancelled"
    assert metadata_of(project, session_id)["turns"][-1]["status"] == "cancelled"
    mark = len(threadline.received)
    resumed = await threadline.request("session/resume", {"sessionId": session_id, "prompt": "after cancel"})
    assert resumed["sessionId"] == session_id
    # An update of the cancelled turn can still be on its way (they are coalesced): only one
    # newer than the resume's answer tells how the resumed turn ended.
    since = resumed["session"]["updatedAt"]
    done = await threadline.wait_for(
        "session/updated",
        lambda p: (
            p["session"]["sessionId"] == session_id
            and p["session"]["status"] != "running"
            and p["session"]["updatedAt"] > since
        ),
        start=mark,
    )
    assert done["session"]["status"] == "completed"


async def test_denied_tool_waits_for_input_and_api_error_fails(threadline: ThreadlineClient, project: Path) -> None:
    denied = await threadline.request(
        "workflow/start", {"cwd": str(project), "prompt": "please [[tool:bash:touch marker.txt]]"}
    )
    failing = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "boom [[http500]]"})
    assert (await finished(threadline, denied["sessionId"]))["status"] == "waiting_for_input"
    failed = await finished(threadline, failing["sessionId"])
    assert failed["status"] == "failed"
    assert "500" in failed["lastError"]


async def test_approve_and_continue_runs_the_denied_tool_under_the_same_id(
    threadline: ThreadlineClient, project: Path
) -> None:
    started = await threadline.request(
        "workflow/start", {"cwd": str(project), "prompt": "please [[tool:bash:touch ok]]"}
    )
    session_id = started["sessionId"]
    assert (await finished(threadline, session_id))["status"] == "waiting_for_input"
    assert not (project / "ok").exists()
    mark = len(threadline.received)
    resumed = await threadline.request(
        "session/resume",
        {
            "sessionId": session_id,
            "prompt": "go ahead [[tool:bash:touch ok]]",
            "allowedTools": ["Bash(touch:*)"],
            "permissionMode": "default",
            "model": "sonnet",
        },
    )
    assert resumed["sessionId"] == session_id
    assert (await finished(threadline, session_id, start=mark))["status"] == "completed"
    assert (project / "ok").is_file()
    assert [t["status"] for t in metadata_of(project, session_id)["turns"]] == ["waiting_for_input", "completed"]


async def test_invalid_resume_options_start_nothing(threadline: ThreadlineClient, project: Path) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "first"})
    session_id = started["sessionId"]
    await finished(threadline, session_id)
    cases = [
        ({"permissionMode": "bogus"}, "permissionMode", "acceptEdits, auto, bypassPermissions"),
        ({"allowedTools": ["--dangerously-skip-permissions"]}, "allowedTools", "not a tool rule"),
        ({"allowedTools": "Bash"}, "allowedTools", "list"),
        ({"model": "a model; rm -rf"}, "model", "model name"),
    ]
    for extra, field, words in cases:
        with pytest.raises(JsonRpcException) as refused:
            await threadline.request("session/resume", {"sessionId": session_id, "prompt": "again", **extra})
        assert refused.value.code == -32602 and refused.value.data == {"field": field}, extra
        assert field.split(".")[0] in refused.value.message and words in refused.value.message
    assert len(metadata_of(project, session_id)["turns"]) == 1
    assert (await threadline.request("session/get", {"sessionId": session_id}))["session"]["status"] == "completed"


async def test_follow_delivers_appended_messages(threadline: ThreadlineClient, project: Path) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "first"})
    session_id = started["sessionId"]
    await finished(threadline, session_id)
    page = await threadline.request("session/messages", {"sessionId": session_id, "follow": True})
    assert page["total"] == 2
    mark = len(threadline.received)
    await threadline.request("session/resume", {"sessionId": session_id, "prompt": "second"})
    update = await threadline.wait_for(
        "session/updated", lambda p: p["session"]["sessionId"] == session_id and p["appended"], start=mark
    )
    assert update["appendedFrom"] == 2
    assert update["appended"][0]["content"][0]["text"] == "second"
    await finished(threadline, session_id, start=mark)
    await threadline.request("session/unfollow", {"sessionId": session_id})


async def test_activate_moves_the_single_marker(threadline: ThreadlineClient, project: Path) -> None:
    first = (await threadline.request("workflow/start", {"cwd": str(project), "prompt": "one"}))["sessionId"]
    second = (await threadline.request("workflow/start", {"cwd": str(project), "prompt": "two"}))["sessionId"]
    assert (await threadline.request("session/activate", {"cwd": str(project), "sessionId": first})) == {
        "activeSessionId": first
    }
    await threadline.request("session/activate", {"cwd": str(project), "sessionId": second})
    markers = sorted(p.name for p in (project / ".threadline" / "workflows").glob(".active-*"))
    assert markers == [f".active-{second}"]
    listed = await threadline.request("session/list", {"cwd": str(project)})
    assert listed["activeSessionId"] == second
    assert {s["sessionId"]: s["active"] for s in listed["sessions"]} == {first: False, second: True}
    await threadline.request("session/activate", {"cwd": str(project), "sessionId": None})
    assert not list((project / ".threadline" / "workflows").glob(".active-*"))


async def test_invalid_start_params(threadline: ThreadlineClient, project: Path) -> None:
    cases = [
        ({"cwd": "relative/path", "prompt": "x"}, "cwd"),
        ({"cwd": str(project / "missing"), "prompt": "x"}, "cwd"),
        ({"cwd": str(project), "prompt": "   "}, "prompt"),
        ({"cwd": str(project)}, "prompt"),
        ({"cwd": str(project), "prompt": "x", "agent": "nope"}, "agent"),
        ({"cwd": str(project), "prompt": "x", "permissionMode": "bogus"}, "permissionMode"),
        ({"cwd": str(project), "prompt": "x", "model": "--dangerously-skip-permissions"}, "model"),
        ({"cwd": f"{project}\x00/x", "prompt": "x"}, "cwd"),
    ]
    for params, field in cases:
        with pytest.raises(JsonRpcException) as refused:
            await threadline.request("workflow/start", params)
        assert refused.value.code == -32602 and refused.value.data == {"field": field}, params
    with pytest.raises(JsonRpcException) as refused:  # no path holds a NUL: not a traceback
        await threadline.request("session/list", {"cwd": f"{project}\x00/x"})
    assert refused.value.code == -32602 and refused.value.data == {"field": "cwd"}
    assert not (project / ".threadline").exists()


async def test_missing_agent_binary_names_the_setting(project: Path, claude_home: Path) -> None:
    client = await start_client([project], options_for(claude_home, ["/nonexistent/claude-binary"]))
    try:
        with pytest.raises(JsonRpcException) as unavailable:
            await client.request("workflow/start", {"cwd": str(project), "prompt": "hi"})
        assert unavailable.value.code == -32003
        assert "agents.claude.command" in unavailable.value.message
        assert unavailable.value.data == {"agent": "claude", "command": ["/nonexistent/claude-binary"]}
        assert not (project / ".threadline").exists()
    finally:
        await stop_client(client)


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr to make a folder read-only as root")
async def test_read_only_project_gives_a_store_error(threadline: ThreadlineClient, project: Path) -> None:
    made = subprocess.run(["chattr", "+i", str(project)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.decode().strip()}")
    try:
        with pytest.raises(JsonRpcException) as refused:
            await threadline.request("workflow/start", {"cwd": str(project), "prompt": "hi"})
        assert refused.value.code == -32004
        assert refused.value.data["path"].startswith(str(project))
    finally:
        subprocess.run(["chattr", "-i", str(project)], check=True)
    assert os.listdir(project) == []


async def test_external_session_is_detected_and_running_while_its_process_lives(
    threadline: ThreadlineClient, project: Path, claude_home: Path
) -> None:
    session_id = "9a9a9a9a-1111-4222-8333-444455556666"
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude_home)}
    process = subprocess.Popen(
        [
            sys.executable,
            str(FAKE_CLAUDE),
            "-p",
            "--session-id",
            session_id,
            "--output-format",
            "stream-json",
            "--verbose",
        ],
        cwd=project,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(b"typed in a terminal [[slow:2]]")
    process.stdin.close()
    try:
        detected = await threadline.wait_for("session/detected", lambda p: p["session"]["sessionId"] == session_id)
        assert detected["session"]["source"] == "external"
        got = await threadline.request("session/get", {"sessionId": session_id})
        assert got["session"]["status"] == "running" and got["session"]["pid"] == process.pid
        with pytest.raises(JsonRpcException) as busy:
            await threadline.request("session/resume", {"sessionId": session_id, "prompt": "me too"})
        assert busy.value.code == -32002 and busy.value.data["pid"] == process.pid
        done = await finished(threadline, session_id)
        assert done["status"] == "completed" and done["source"] == "external"
    finally:
        process.wait(timeout=30)


async def test_a_followed_turn_streams_its_reply_before_it_is_saved(
    threadline: ThreadlineClient, project: Path
) -> None:
    started = await threadline.request("workflow/start", {"cwd": str(project), "prompt": "tell me [[slow:3]]"})
    session_id = started["sessionId"]
    await threadline.request("session/messages", {"sessionId": session_id, "follow": True})

    def streaming(params: dict) -> bool:
        return params["session"]["sessionId"] == session_id and bool((params.get("streaming") or {}).get("text"))

    first = await threadline.wait_for("session/updated", streaming)
    assert first["session"]["status"] == "running"
    texts = [first["streaming"]["text"]]
    done = await finished(threadline, session_id)
    updates = threadline.notifications("session/updated", session_id)
    texts += [u["streaming"]["text"] for u in updates if u.get("streaming")]
    assert len(set(texts)) > 1, "the reply should grow over several updates"
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))  # it only grows
    reply = [m for u in updates for m in u["appended"] if m["role"] == "assistant"][-1]
    final_text = "".join(b["text"] for b in reply["content"] if b["type"] == "text")
    assert final_text.startswith(texts[-1]) and done["status"] == "completed"
    assert updates[-1]["streaming"] is None  # the final Message replaced it
