"""Codex CLI through ``threadline serve``: the scenarios of the Claude real-agent tier.

Each runs on the fake ``codex`` (fast tier) and on the real CLI offline against the
Responses-API stub (``-m "real_agent and codex"``): a tool call, an HTTP 500 then a resume,
kill -9 and a cancel mid-turn, each then a resume, a Codex run in a terminal, a second writer
refused (one server and two), a restart of the server while a turn runs, and input over
Codex's limit. (Start, list, resume, fork, a 1 MB prompt: ``test_other_agents.py``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from tests.agents.codex_fixtures import CodexAgent, codex_agent, codex_kind
from tests.e2e.harness import start_client, stop_client
from tests.e2e.served import TURN_TIMEOUT, ServedProject
from tests.e2e.test_other_agents import options, user_texts
from threadline.store import ProjectStore, TurnRecord, WorkflowMetadata

__all__ = ["codex_agent", "codex_kind"]

pytestmark = pytest.mark.codex

SLOW = "take your time [[slow:30]]"
"""A reply streamed over 30 s: the turn is mid-stream for as long as a scenario needs."""


@dataclass
class Served(ServedProject):
    agent: CodexAgent

    async def start(self, prompt: str, **params: Any) -> dict[str, Any]:
        return await self.request(
            "workflow/start", {"cwd": str(self.project), "prompt": prompt, "agent": "codex", **params}
        )

    async def resume(self, session_id: str, prompt: str) -> dict[str, Any]:
        return await self.request("session/resume", {"sessionId": session_id, "prompt": prompt})

    async def mid_turn(self, session_id: str, start: int = 0) -> None:
        """The prompt is in the rollout and (real CLI) sent to the stub: the model is answering."""
        await self.update(session_id, lambda s: s["messageCount"] >= 1, start)
        deadline = time.monotonic() + TURN_TIMEOUT
        while not self._answering(session_id):
            assert time.monotonic() < deadline, "the turn never got to the model"
            await asyncio.sleep(0.02)  # neither the rollout's end nor the stub announces itself: poll

    def _answering(self, session_id: str) -> bool:
        if self.agent.rollout(session_id) is None or self.agent.summary(session_id)[0].ending != "prompt":
            return False
        return not self.agent.is_real or bool(self.agent.stub.response_requests(session_id))


@contextlib.asynccontextmanager
async def serve(
    agent: CodexAgent, project: Path, claude_home: Path, fake_claude: list[str], cancel: bool = True
) -> AsyncIterator[Served]:
    """A server running ``agent`` in ``project``; on the way out (with ``cancel``) it cancels
    the turns still running, so a failed test leaves no Codex behind."""
    client = await start_client([project], options(claude_home, fake_claude, "codex", agent))
    served = Served(client=client, agent=agent, project=project)
    try:
        yield served
    finally:
        if cancel:
            with contextlib.suppress(Exception):
                listed = await client.request("session/list", {"cwd": str(project), "status": ["running"]})
                for info in listed["sessions"]:
                    await client.request("workflow/cancel", {"sessionId": info["sessionId"]})
        await stop_client(client)


@pytest.fixture
async def served(
    codex_agent: CodexAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> AsyncIterator[Served]:
    async with serve(codex_agent, project, claude_home, fake_claude) as s:
        yield s


def writers_of(session_id: str) -> list[int]:
    """Processes whose command line names the session: a resume of it (a start does not)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if session_id.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
    return found


# --------------------------------------------------------------------------- scenarios
async def test_a_tool_call_is_paired_and_its_command_runs(served: Served) -> None:
    s = served
    # workspace-write, so that the command's effect lands in the project.
    started = await s.start(
        "run it [[tool:bash:touch made-by-tool && echo hi-from-tool]]", permissionMode="acceptEdits"
    )
    session_id = started["sessionId"]
    done = await s.ended(started)
    assert done["status"] == "completed", done["lastError"]
    assert (s.project / "made-by-tool").is_file(), "the command did not run"
    messages = await s.messages(session_id)
    uses = [b for m in messages if m["role"] == "assistant" for b in m["content"] if b["type"] == "tool_use"]
    results = [b for m in messages if m["role"] == "user" for b in m["content"] if b["type"] == "tool_result"]
    assert len(uses) == 1 and len(results) == 1, messages
    assert uses[0]["name"] == "exec_command"
    assert uses[0]["input"] == {"cmd": "touch made-by-tool && echo hi-from-tool"}
    assert results[0]["toolUseId"] == uses[0]["id"] and results[0]["isError"] is False
    assert "hi-from-tool" in results[0]["text"]
    last = messages[-1]
    assert last["role"] == "assistant" and last["content"][-1]["text"].startswith("stub saw tool result: ")
    assert "hi-from-tool" in last["content"][-1]["text"]


async def test_an_http_500_fails_the_turn_and_a_resume_recovers(served: Served) -> None:
    s = served
    started = await s.start("boom [[http500]]")
    session_id = started["sessionId"]
    failed = await s.ended(started)
    assert failed["status"] == "failed"
    assert failed["lastError"] and "high demand" in failed["lastError"], failed["lastError"]
    rollout = s.agent.rollout(session_id)
    assert rollout is not None and failed["transcriptPath"] == str(rollout)
    before = rollout.read_bytes()
    assert s.metadata(session_id)["turns"][-1]["status"] == "failed"
    if s.agent.is_real:
        assert [r["status"] for r in s.agent.stub.response_requests(session_id)] == [500]
    mark = s.mark()
    resumed = await s.resume(session_id, "try again")
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed" and done["lastError"] is None, done
    assert s.agent.rollout(session_id) == rollout and rollout.read_bytes().startswith(before)
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["failed", "completed"]
    messages = await s.messages(session_id)
    assert user_texts(messages) == ["boom [[http500]]", "try again"]
    assert messages[-1]["role"] == "assistant" and "to: try again" in messages[-1]["content"][-1]["text"]


async def test_kill_9_mid_turn_then_resume_under_the_same_id(served: Served) -> None:
    s = served
    mark = s.mark()
    started = await s.start(SLOW)
    session_id, pid = started["sessionId"], started["session"]["pid"]
    assert pid > 0
    await s.mid_turn(session_id, mark)
    rollout = s.agent.rollout(session_id)
    assert rollout is not None
    os.kill(pid, signal.SIGKILL)
    over = await s.ended(started, mark)
    assert over["status"] == "interrupted" and over["pid"] is None, over
    assert over["lastError"] and "signal 9" in over["lastError"], over["lastError"]
    assert s.metadata(session_id)["turns"][-1]["status"] == "interrupted"
    before = rollout.read_bytes()
    mark = s.mark()
    resumed = await s.resume(session_id, "are you there?")
    assert resumed["sessionId"] == session_id and resumed["session"]["status"] == "running"
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed", done["lastError"]
    assert s.agent.rollout(session_id) == rollout and done["transcriptPath"] == str(rollout)
    assert rollout.read_bytes().startswith(before) and rollout.stat().st_size > len(before)
    messages = await s.messages(session_id)
    assert user_texts(messages) == [SLOW, "are you there?"]
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["interrupted", "completed"]


async def test_cancel_mid_turn_then_resume_under_the_same_id(served: Served) -> None:
    s = served
    mark = s.mark()
    started = await s.start(SLOW)
    session_id, pid = started["sessionId"], started["session"]["pid"]
    await s.mid_turn(session_id, mark)
    rollout = s.agent.rollout(session_id)
    assert rollout is not None
    began = time.monotonic()
    cancelled = (await s.request("workflow/cancel", {"sessionId": session_id}))["session"]
    took = time.monotonic() - began
    assert cancelled["status"] == "cancelled" and cancelled["pid"] is None
    assert took < 2.5, f"cancelling took {took:.1f} s: SIGINT alone should end the turn, well before SIGTERM"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert s.metadata(session_id)["turns"][-1]["status"] == "cancelled"
    mark = s.mark()
    resumed = await s.resume(session_id, "after cancel")
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed", done["lastError"]
    assert s.agent.rollout(session_id) == rollout
    messages = await s.messages(session_id)
    assert user_texts(messages)[0] == SLOW and user_texts(messages)[-1] == "after cancel"
    assert "to: after cancel" in messages[-1]["content"][-1]["text"]
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["cancelled", "completed"]


async def test_a_codex_run_in_a_terminal_is_detected_running_then_completed(served: Served) -> None:
    """Codex run directly in the watched project, not through Threadline."""
    s = served
    mark = s.mark()
    process = s.agent.start(
        ["exec", "--json", "--skip-git-repo-check", "-"], s.project, "typed in a terminal [[slow:5]]"
    )
    session_id = await asyncio.to_thread(
        lambda: process.wait_for_event(lambda e: e.get("type") == "thread.started")["thread_id"]
    )
    detected = (
        await s.client.wait_for(
            "session/detected", lambda p: p["session"]["sessionId"] == session_id, timeout=TURN_TIMEOUT, start=mark
        )
    )["session"]
    assert detected["source"] == "external" and detected["agent"] == "codex"
    got = await s.update(session_id, lambda i: i["status"] == "running" and i["pid"] == process.pid, mark)
    assert got["source"] == "external"
    with pytest.raises(JsonRpcException) as busy:
        await s.resume(session_id, "me too")
    assert busy.value.code == -32002 and busy.value.data == {"sessionId": session_id, "pid": process.pid}
    done = await s.update(session_id, lambda i: i["status"] != "running", mark)
    assert (done["status"], done["source"], done["pid"]) == ("completed", "external", None)
    assert (await asyncio.to_thread(process.finish)).returncode == 0
    assert not (s.project / ".threadline").exists()


async def test_a_second_writer_is_refused_by_this_server_and_another(
    served: Served, claude_home: Path, fake_claude: list[str]
) -> None:
    s = served
    mark = s.mark()
    started = await s.start(SLOW)
    session_id, pid = started["sessionId"], started["session"]["pid"]
    await s.mid_turn(session_id, mark)
    with pytest.raises(JsonRpcException) as busy:
        await s.resume(session_id, "me too")
    assert busy.value.code == -32002 and busy.value.data == {"sessionId": session_id, "pid": pid}
    async with serve(s.agent, s.project, claude_home, fake_claude, cancel=False) as other:
        assert (await other.get(session_id))["status"] == "running"
        with pytest.raises(JsonRpcException) as refused:
            await other.resume(session_id, "me too, from elsewhere")
        assert refused.value.code == -32002 and refused.value.data == {"sessionId": session_id, "pid": pid}
    assert writers_of(session_id) == [], "a refused resume started a second codex"
    cancelled = (await s.request("workflow/cancel", {"sessionId": session_id}))["session"]
    assert cancelled["status"] == "cancelled"
    assert len(s.metadata(session_id)["turns"]) == 1
    assert user_texts(await s.messages(session_id)) == [SLOW]
    if s.agent.is_real:
        assert len(s.agent.stub.response_requests(session_id)) == 1


async def test_a_restarted_server_finds_the_running_turn_and_its_end(
    codex_agent: CodexAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    # Long enough to outlast two server starts on a loaded machine; it ends on its own.
    prompt = "take your time [[slow:10]]"
    client = await start_client([project], options(claude_home, fake_claude, "codex", codex_agent))
    first = Served(client=client, agent=codex_agent, project=project)
    try:
        started = await first.start(prompt)
        session_id, pid = started["sessionId"], started["session"]["pid"]
        await first.mid_turn(session_id)
    finally:
        await stop_client(first.client)  # a server's exit leaves its turns running
    os.kill(pid, 0)  # Codex outlived the server
    async with serve(codex_agent, project, claude_home, fake_claude) as second:
        mark = second.mark()
        got = await second.get(session_id)
        assert (got["status"], got["pid"]) == ("running", pid), got
        listed = await second.request("session/list", {"cwd": str(project)})
        assert [(i["sessionId"], i["status"]) for i in listed["sessions"]] == [(session_id, "running")]
        with pytest.raises(JsonRpcException) as busy:  # Codex still holds the session's claim
            await second.resume(session_id, "me too")
        assert busy.value.code == -32002 and busy.value.data == {"sessionId": session_id, "pid": pid}
        done = await second.update(session_id, lambda i: i["status"] != "running", mark)
        assert done["status"] == "completed" and done["pid"] is None, done
        assert (await second.get(session_id))["status"] == "completed"
        messages = await second.messages(session_id)
        assert user_texts(messages) == [prompt]
        assert messages[-1]["role"] == "assistant" and "to: take your time" in messages[-1]["content"][-1]["text"]
        assert second.metadata(session_id)["turns"][-1]["status"] == "completed"


async def test_input_over_codexs_limit_is_a_failed_turn_with_its_message(served: Served) -> None:
    s = served
    started = await s.start("x" * 1_048_577)
    session_id = started["sessionId"]
    # Codex refuses the turn within milliseconds of naming the thread: the answer may say so.
    failed = started["session"] if started["session"]["status"] != "running" else await s.ended(started)
    assert failed["status"] == "failed" and (await s.get(session_id))["status"] == "failed"
    assert failed["lastError"] and "Input exceeds the maximum length of 1048576 characters" in failed["lastError"]
    assert s.agent.rollout(session_id) is None  # Codex wrote nothing
    assert s.metadata(session_id)["turns"][-1]["status"] == "failed"
    if s.agent.is_real:
        assert s.agent.stub.response_requests(session_id) == []


async def test_a_turn_that_failed_while_no_server_ran_reads_as_failed(
    codex_agent: CodexAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    """A store entry left ``running`` (its server gone) whose rollout ends with the model
    API's error: the restarted server records the failure and its message, as it would for
    a session it never ran, not an interruption."""
    run = codex_agent.turn(project, "boom [[http500]]").finish()
    session_id = json.loads(run.stdout.splitlines()[0])["thread_id"]
    rollout = codex_agent.rollout(session_id)
    assert rollout is not None
    gone = subprocess.Popen(["true"])
    gone.wait()
    store = ProjectStore(project)
    store.ensure()
    store.write_metadata(
        WorkflowMetadata(
            session_id=session_id,
            agent="codex",
            cwd=str(project),
            title="boom",
            status="running",
            pid=gone.pid,
            transcript_path=str(rollout),
            turns=[TurnRecord(prompt="boom [[http500]]", status="running")],
        )
    )
    async with serve(codex_agent, project, claude_home, fake_claude) as s:
        got = await s.get(session_id)
        assert got["status"] == "failed" and got["source"] == "workflow", got
        assert got["lastError"] and "high demand" in got["lastError"], got["lastError"]
        assert s.metadata(session_id)["turns"][-1]["status"] == "failed"
