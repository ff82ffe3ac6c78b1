"""Gemini CLI through ``threadline serve``: tools, failures, cancel, kill -9, a restart of the
server, two servers racing, big prompts.

Each scenario runs on the fake ``gemini`` (fast tier) and on the real CLI offline against its
loopback Gemini-API stub (``pytest -m "real_agent and gemini"``). Gemini keeps no lock or
registry of its running sessions and lets two processes append to one chat, so the busy guard
(the claim of protocol §3) is all that keeps a second writer out: the race and the restart
scenarios check it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pygls.exceptions import JsonRpcException

from tests.agents.gemini_fixtures import GeminiAgent, gemini_agent, gemini_kind
from tests.agents.gemini_scenarios import FAST_MODEL, big_prompt, session_chat
from tests.e2e.harness import start_client, stop_client
from tests.e2e.served import TURN_TIMEOUT, ServedProject

__all__ = ["gemini_agent", "gemini_kind"]
pytestmark = pytest.mark.gemini

BUSY = -32002
INVALID_PARAMS = -32602
REPLY = re.compile(r"(?:w\d+ )*stub reply #\d+ to: (?P<prompt>.*)", re.S)


def options(claude_home: Path, fake_claude: list[str], agent: GeminiAgent) -> dict[str, Any]:
    return {
        "claudeConfigDir": str(claude_home),
        "agents": {
            "claude": {"command": fake_claude},
            "gemini": {"command": agent.argv, "env": agent.extra_env, "home": str(agent.home)},
        },
    }


@dataclass
class Served(ServedProject):
    """A server running ``agent`` (Gemini) and watching ``project``."""

    agent: GeminiAgent

    async def start(self, prompt: str, **params: Any) -> dict[str, Any]:
        params = {"cwd": str(self.project), "prompt": prompt, "agent": "gemini", "model": FAST_MODEL, **params}
        return dict(await self.request("workflow/start", params))

    async def resume(self, session_id: str, prompt: str, **params: Any) -> dict[str, Any]:
        params = {"sessionId": session_id, "prompt": prompt, "model": FAST_MODEL, **params}
        return dict(await self.request("session/resume", params))

    async def mid_turn(self, session_id: str, start: int = 0) -> None:
        """Until the chat holds the prompt: Gemini writes it just before it calls the model."""

        def prompted(params: dict[str, Any]) -> bool:
            info = params["session"]
            return info["sessionId"] == session_id and info["messageCount"] >= 1 and info["status"] == "running"

        await self.client.wait_for("session/updated", prompted, TURN_TIMEOUT, start)

    def chat(self, session_id: str) -> Path:
        """The one chat file that is the session (a resume's stray header file is not)."""
        return session_chat(self.agent, session_id)[0]


@contextlib.asynccontextmanager
async def serve(agent: GeminiAgent, project: Path, claude_home: Path, fake_claude: list[str]) -> AsyncIterator[Served]:
    client = await start_client([project], options(claude_home, fake_claude, agent))
    served = Served(client=client, agent=agent, project=project)
    try:
        yield served
    finally:
        with contextlib.suppress(Exception):
            listed = await client.request("session/list", {"cwd": str(project)})
            for info in listed["sessions"]:
                if info["status"] == "running" and info["source"] == "workflow":
                    await client.request("workflow/cancel", {"sessionId": info["sessionId"]})
        await stop_client(client)


@pytest_asyncio.fixture
async def served(gemini_agent: GeminiAgent, project: Path, claude_home: Path, fake_claude: list[str]) -> Any:
    async with serve(gemini_agent, project, claude_home, fake_claude) as s:
        yield s


def texts(message: dict[str, Any], kind: str = "text") -> list[str]:
    return [b["text"] for b in message["content"] if b["type"] == kind]


def blocks(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [b for m in messages for b in m["content"] if b["type"] == kind]


def prompts(messages: list[dict[str, Any]]) -> list[str]:
    return [t for m in messages if m["role"] == "user" and not m["isMeta"] for t in texts(m)]


def reply_to(message: dict[str, Any]) -> str:
    assert message["role"] == "assistant", message
    found = REPLY.fullmatch(texts(message)[-1])
    assert found, f"not a stub reply: {message}"
    return found["prompt"]


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------- tools
async def test_a_tool_call_runs_and_shows_as_a_tool_use_and_its_result(served: Served) -> None:
    s = served
    (s.project / "marker.txt").write_text("here\n")
    started = await s.start("what is here? [[tool]]")
    done = await s.ended(started)
    assert done["status"] == "completed", done["lastError"]
    messages = await s.messages(started["sessionId"])
    assert [(m["role"], [b["type"] for b in m["content"]]) for m in messages] == [
        ("user", ["text"]),
        ("assistant", ["tool_use"]),
        ("user", ["tool_result"]),
        ("assistant", ["text"]),
    ]
    (use,) = blocks(messages, "tool_use")
    (result,) = blocks(messages, "tool_result")
    assert (use["name"], use["input"]) == ("list_directory", {"dir_path": "."})
    assert result["toolUseId"] == use["id"] and result["isError"] is False
    # The listing is of the real folder: the tool ran there.
    assert result["text"] == f"Directory listing for {s.project}:\n[DIR] .threadline\nmarker.txt (5 bytes)"
    assert texts(messages[3])[0].startswith("stub saw list_directory result: Directory listing for")


async def test_a_refused_shell_tool_waits_for_input_then_runs_once_allowed(served: Served) -> None:
    s = served
    prompt = "please [[tool:shell:touch made-by-tool]]"
    started = await s.start(prompt)
    session_id = started["sessionId"]
    waiting = await s.ended(started)
    assert waiting["status"] == "waiting_for_input" and waiting["lastError"] is None, waiting
    assert not (s.project / "made-by-tool").exists(), "the refused command ran"
    chat = s.chat(session_id)
    # A rule that does not cover the command: Gemini refuses it "by policy", still a refusal.
    mark = s.mark()
    narrow = await s.resume(session_id, prompt, allowedTools=["run_shell_command(ls)"])
    assert (await s.ended(narrow, mark))["status"] == "waiting_for_input"
    assert not (s.project / "made-by-tool").exists(), "a command no rule covers ran"
    mark = s.mark()
    resumed = await s.resume(session_id, prompt, allowedTools=["run_shell_command(touch)"])
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed", done
    assert (s.project / "made-by-tool").is_file(), "the allowed command did not run"
    assert s.chat(session_id) == chat
    messages = await s.messages(session_id)
    uses = blocks(messages, "tool_use")
    results = blocks(messages, "tool_result")
    assert [u["input"] for u in uses] == [{"command": "touch made-by-tool"}] * 3
    assert [r["toolUseId"] for r in results] == [u["id"] for u in uses]
    assert [r["isError"] for r in results] == [True, True, False], results
    assert results[1]["text"] == "Tool execution denied by policy."
    assert "Output: (empty)" in results[2]["text"]
    turns = s.metadata(session_id)["turns"]
    assert [t["status"] for t in turns] == ["waiting_for_input", "waiting_for_input", "completed"]


# --------------------------------------------------------------------------- failures
async def test_an_http_500_fails_with_the_agents_message_and_a_resume_completes(served: Served) -> None:
    s = served
    started = await s.start("hello")
    session_id = started["sessionId"]
    assert (await s.ended(started))["status"] == "completed"
    chat = s.chat(session_id)
    mark = s.mark()
    failing = await s.resume(session_id, "boom [[http500]]")
    failed = await s.ended(failing, mark)
    assert failed["status"] == "failed"
    assert failed["lastError"] and "stub: forced failure 500" in failed["lastError"], failed["lastError"]
    assert s.metadata(session_id)["turns"][-1]["exitCode"] == 244  # 500 mod 256, as Gemini exits
    if s.agent.stub is not None:
        assert [r["status"] for r in s.agent.stub.turn_requests()] == [200, 500]
    mark = s.mark()
    resumed = await s.resume(session_id, "try again")
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed" and done["lastError"] is None, done
    assert s.chat(session_id) == chat
    messages = await s.messages(session_id)
    assert prompts(messages) == ["hello", "try again"]  # Gemini drops a failed prompt from its history
    assert reply_to(messages[-1]) == "try again"
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["completed", "failed", "completed"]
    # A session whose only turn failed keeps no prompt: Gemini itself cannot resume it, and the
    # turn fails with its message.
    lone = await s.start("[[http500]]")
    assert (await s.ended(lone))["status"] == "failed"
    mark = s.mark()
    again = await s.resume(lone["sessionId"], "once more")
    refused = await s.ended(again, mark)
    assert refused["status"] == "failed" and "Error resuming session" in (refused["lastError"] or ""), refused


async def test_cancel_stops_every_gemini_process_then_a_resume_completes(served: Served) -> None:
    s = served
    mark = s.mark()
    started = await s.start("take your time [[slow:30]]")
    session_id, pid = started["sessionId"], started["session"]["pid"]
    await s.mid_turn(session_id, mark)
    began = time.monotonic()
    cancelled = (await s.request("workflow/cancel", {"sessionId": session_id}))["session"]
    took = time.monotonic() - began
    assert cancelled["status"] == "cancelled" and cancelled["pid"] is None, cancelled
    assert took < 2.5, f"cancelling took {took:.1f} s: SIGINT alone should end the turn"
    assert group_gone(pid), "a process of the cancelled turn's group is still running"
    assert s.metadata(session_id)["turns"][-1]["status"] == "cancelled"
    chat = s.chat(session_id)
    mark = s.mark()
    resumed = await s.resume(session_id, "after cancel")
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed", done["lastError"]
    assert s.chat(session_id) == chat
    messages = await s.messages(session_id)
    assert prompts(messages) == ["take your time [[slow:30]]", "after cancel"]
    assert reply_to(messages[-1]) == "after cancel"
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["cancelled", "completed"]


async def test_kill_9_mid_turn_then_a_resume_completes_in_the_same_chat(served: Served) -> None:
    s = served
    mark = s.mark()
    started = await s.start("take your time [[slow:30]]")
    session_id, pid = started["sessionId"], started["session"]["pid"]
    await s.mid_turn(session_id, mark)
    chat = s.chat(session_id)
    os.kill(pid, signal.SIGKILL)
    killed = await s.ended(started, mark)
    assert killed["status"] == "interrupted" and killed["pid"] is None, killed
    assert "signal 9" in (killed["lastError"] or ""), killed["lastError"]
    mark = s.mark()
    resumed = await s.resume(session_id, "continue")
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed", done["lastError"]
    assert s.chat(session_id) == chat
    messages = await s.messages(session_id)
    assert prompts(messages) == ["take your time [[slow:30]]", "continue"]
    assert reply_to(messages[-1]) == "continue"
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["interrupted", "completed"]


async def test_a_session_run_in_a_terminal_is_detected_and_resumed_under_its_id(served: Served) -> None:
    s = served
    session_id = str(uuid.uuid4())
    mark = s.mark()
    run = s.agent.run(
        ["--output-format=stream-json", f"--session-id={session_id}", f"--model={FAST_MODEL}"], s.project, "by hand"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    detected = (
        await s.client.wait_for(
            "session/detected", lambda p: p["session"]["sessionId"] == session_id, TURN_TIMEOUT, mark
        )
    )["session"]
    assert (detected["agent"], detected["source"], detected["cwd"]) == ("gemini", "external", str(s.project))
    chat = s.chat(session_id)
    mark = s.mark()
    resumed = await s.resume(session_id, "and from threadline")
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, mark)
    assert done["status"] == "completed", done["lastError"]
    assert s.chat(session_id) == chat
    messages = await s.messages(session_id)
    assert prompts(messages) == ["by hand", "and from threadline"]
    assert reply_to(messages[-1]) == "and from threadline"


# --------------------------------------------------------------------------- one writer
async def test_two_servers_racing_resumes_run_one_gemini_per_round(
    gemini_agent: GeminiAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    """Gemini itself lets two processes append to one chat: only the claim keeps them apart.

    Each turn streams for a second, so the loser's request arrives while the winner runs even
    on a loaded machine (a quick turn could end first and let it in, one after the other)."""
    rounds = 3 if gemini_agent.is_real else 8
    async with (
        serve(gemini_agent, project, claude_home, fake_claude) as first,
        serve(gemini_agent, project, claude_home, fake_claude) as second,
    ):
        started = await first.start("the first turn")
        session_id = started["sessionId"]
        assert (await first.ended(started))["status"] == "completed"
        accepted_prompts = ["the first turn"]
        for round_no in range(rounds):
            marks = [first.mark(), second.mark()]
            results = await asyncio.gather(
                first.resume(session_id, f"round {round_no} from the first [[slow:1]]"),
                second.resume(session_id, f"round {round_no} from the second [[slow:1]]"),
                return_exceptions=True,
            )
            accepted = [n for n, r in enumerate(results) if isinstance(r, dict)]
            refused = [r for r in results if isinstance(r, JsonRpcException)]
            assert len(accepted) == 1 and len(refused) == 1, results
            assert refused[0].code == BUSY and refused[0].data["sessionId"] == session_id
            winner = accepted[0]
            server, answer = (first, second)[winner], results[winner]
            assert isinstance(answer, dict)
            assert (await server.ended(answer, marks[winner]))["status"] == "completed"
            accepted_prompts.append(f"round {round_no} from the {('first', 'second')[winner]} [[slow:1]]")
        messages = await first.messages(session_id)
        # One Gemini per turn: each prompt once, each answered once, in order, in one chat.
        assert prompts(messages) == accepted_prompts
        assert [m["role"] for m in messages] == ["user", "assistant"] * len(accepted_prompts)
        assert [reply_to(m) for m in messages[1::2]] == accepted_prompts
        first.chat(session_id)
        if gemini_agent.stub is not None:
            assert gemini_agent.stub.prompts() == accepted_prompts
        turns = first.metadata(session_id)["turns"]
        assert [t["prompt"] for t in turns] == accepted_prompts
        assert all(t["status"] == "completed" for t in turns)


async def test_a_restarted_server_shows_the_running_turn_then_its_end(
    gemini_agent: GeminiAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    """The turn outlives its server: the next server finds it running (the agent holds the
    claim), refuses a resume as busy, and sees it end on its own."""
    prompt = "take your time [[slow:6]]"
    client = await start_client([project], options(claude_home, fake_claude, gemini_agent))
    before = Served(client=client, agent=gemini_agent, project=project)
    try:
        started = await before.start(prompt)
        session_id, pid = started["sessionId"], started["session"]["pid"]
        await before.mid_turn(session_id)
    finally:
        await stop_client(before.client)  # the editor reloads: the server exits mid-turn
    async with serve(gemini_agent, project, claude_home, fake_claude) as after:
        got = await after.get(session_id)
        assert (got["status"], got["pid"]) == ("running", pid), got
        with pytest.raises(JsonRpcException) as busy:
            await after.resume(session_id, "me too")
        assert busy.value.code == BUSY and busy.value.data == {"sessionId": session_id, "pid": pid}

        def over(params: dict[str, Any]) -> bool:
            info = params["session"]
            return info["sessionId"] == session_id and info["status"] != "running"

        done = (await after.client.wait_for("session/updated", over, TURN_TIMEOUT))["session"]
        assert done["status"] == "completed", done
        messages = await after.messages(session_id)
        assert prompts(messages) == [prompt] and reply_to(messages[-1]) == prompt
        assert after.metadata(session_id)["turns"][-1]["status"] == "completed"
        mark = after.mark()
        resumed = await after.resume(session_id, "after the restart")
        assert (await after.ended(resumed, mark))["status"] == "completed"


# --------------------------------------------------------------------------- prompts
async def test_a_1mb_prompt_arrives_verbatim_and_over_8mib_is_refused(served: Served) -> None:
    s = served
    big = big_prompt()
    started = await s.start(big)
    done = await s.ended(started)
    assert done["status"] == "completed", done["lastError"]
    messages = await s.messages(started["sessionId"])
    assert prompts(messages) == [big]
    if s.agent.stub is not None:
        assert s.agent.stub.prompts() == [big]
    chats = s.agent.chats()
    with pytest.raises(JsonRpcException) as refused:
        await s.start("x" * (8 * 1024 * 1024 + 1))
    assert refused.value.code == INVALID_PARAMS and "8 MiB" in refused.value.message
    assert s.agent.chats() == chats, "a refused prompt started Gemini"
    listed = await s.request("session/list", {"cwd": str(s.project)})
    assert [i["sessionId"] for i in listed["sessions"]] == [started["sessionId"]]
