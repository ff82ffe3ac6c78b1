"""Workflows through ``threadline serve`` on the fake and on the real Claude Code CLI.

Every scenario runs once per ``agent_kind``: ``fake`` (fast, in the default tier) and
``real-<version>`` (``pytest -m real_agent``, the real CLI offline against the
Messages-API stub). The conformance tests at the end run a scenario on the fake and on
the real CLI of one version in the same test and compare what the server derived from
each: the SessionInfo fields, the Messages' roles and block types in order, and the
texts of user and system Messages.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pygls.exceptions import JsonRpcException

from tests.agents.fixtures import Agent, fake_and_real_agents, wanted_versions
from tests.agents.transcripts import user_prompts
from tests.real_agent.server_scenarios import TURN_TIMEOUT, Served, blocks, main_chain_problems, serve, texts

REPLY = re.compile(r"stub reply #\d+ to: (?P<prompt>.*)", re.S)
FAKE_START_DELAY_MS = "400"
"""Start-up time given to the fake where the start is checked: the real CLI takes
0.4-0.7 s to print ``system/init``, the fake a few ms, too little to tell "answered at
once" from "answered once the agent spoke"."""


def slow(agent: Agent) -> int:
    """Seconds of a slow reply that must outlast a few requests: the real CLI needs its margin,
    the fake answers those requests at once."""
    return 3 if agent.is_real else 1


def new_project(base: Path) -> Path:
    folder = base / "project"
    folder.mkdir(parents=True)
    return Path(os.path.realpath(folder))


@pytest_asyncio.fixture
async def served(claude_agent: Agent, tmp_path: Path) -> AsyncIterator[Served]:
    """A server watching a fresh project and running the agent of ``agent_kind``."""
    async with serve(claude_agent, new_project(tmp_path)) as s:
        yield s


def reply_to(message: dict[str, Any]) -> str:
    """The prompt a plain stub (or fake) reply answers."""
    found = REPLY.fullmatch(texts(message)[-1])
    assert found, f"not a stub reply: {message}"
    return found["prompt"]


# --------------------------------------------------------------------------- scenarios
# Each scenario asserts what must hold on any agent and returns the shapes of what the
# server derived, by step, for the conformance tests.
Shapes = dict[str, dict[str, Any]]


async def basic(s: Served, timing: dict[str, Any] | None = None) -> Shapes:
    prompt = "hello there"
    mark = s.mark()
    started = await s.start(prompt)
    answered_at = time.time()
    session_id = started["sessionId"]
    s.names[session_id] = "first"
    # The answer comes before the agent has done anything: no request, no transcript.
    transcript_then = s.transcript(session_id).exists()
    requests_then = None if s.agent.stub is None else len(s.agent.stub.message_requests())
    assert started["session"]["sessionId"] == session_id
    assert started["session"]["status"] == "running" and started["session"]["source"] == "workflow"
    assert started["session"]["transcriptPath"] is None and started["session"]["pid"] > 0
    assert not transcript_then, "the transcript existed when workflow/start answered"
    assert requests_then in (None, 0), f"the stub had {requests_then} requests when workflow/start answered"

    detected = await s.detected(session_id, start=mark)
    assert detected["transcriptPath"] == str(s.transcript(session_id))
    done = await s.ended(started, start=mark)
    assert done["status"] == "completed", done["lastError"]
    assert done["usage"]["inputTokens"] > 0 and done["usage"]["outputTokens"] > 0
    assert done["usage"]["costUsd"] is not None and done["model"]
    assert done["transcriptPath"] == str(s.transcript(session_id)) and done["pid"] is None

    assert s.transcripts() == [f"{session_id}.jsonl"]
    assert {r["sessionId"] for r in s.records(session_id)} == {session_id}
    messages = await s.messages(session_id)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert texts(messages[0]) == [prompt]
    assert reply_to(messages[1]) == prompt
    if s.agent.stub is not None:
        requests = s.agent.stub.message_requests(session_id)
        assert requests, "the CLI never called the stub under the session id"
        assert requests[0]["time"] > answered_at
        if timing is not None:
            timing["first_request_after_answer"] = requests[0]["time"] - answered_at
        assert s.stub_prompts(session_id) == [prompt]
    assert len(s.client.notifications("session/detected", session_id)) == 1
    return {"done": s.shape(done, messages)}


async def resume(s: Served) -> Shapes:
    started = await s.start("first turn")
    session_id = started["sessionId"]
    s.names[session_id] = "first"
    first = await s.ended(started)
    assert first["status"] == "completed", first["lastError"]
    before = s.transcript(session_id).read_bytes()
    mark = s.mark()
    resumed = await s.resume(session_id, "second turn")
    assert resumed["sessionId"] == session_id and resumed["session"]["status"] == "running"
    done = await s.ended(resumed, start=mark)
    assert done["status"] == "completed", done["lastError"]

    assert s.transcripts() == [f"{session_id}.jsonl"]
    after = s.transcript(session_id).read_bytes()
    assert after.startswith(before) and len(after) > len(before), "the resume did not append to the transcript"
    assert user_prompts(s.records(session_id)) == ["first turn", "second turn"]
    messages = await s.messages(session_id)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [texts(messages[0]), texts(messages[2])] == [["first turn"], ["second turn"]]
    assert [reply_to(messages[1]), reply_to(messages[3])] == ["first turn", "second turn"]
    turns = s.metadata(session_id)["turns"]
    assert [(t["prompt"], t["status"], t["exitCode"]) for t in turns] == [
        ("first turn", "completed", 0),
        ("second turn", "completed", 0),
    ]
    # Each turn records its own cost, and the session's is their sum, whether the CLI
    # reports each process's cost (2.1.197) or a running total (2.1.3xx).
    costs = [t["costUsd"] for t in turns]
    assert all(cost > 0 for cost in costs), costs
    assert first["usage"]["costUsd"] == pytest.approx(costs[0])
    assert done["usage"]["costUsd"] == pytest.approx(sum(costs)), costs
    if s.agent.stub is not None:
        assert s.stub_prompts(session_id) == ["first turn", "second turn"]
    return {"first": s.shape(first, messages[:2]), "done": s.shape(done, messages)}


async def tool(s: Served) -> Shapes:
    started = await s.start("run it [[tool:bash:echo hi-from-tool]]")
    session_id = started["sessionId"]
    done = await s.ended(started)
    assert done["status"] == "completed", done["lastError"]
    messages = await s.messages(session_id)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [b["type"] for b in messages[1]["content"]] == ["text", "tool_use"]
    (use,) = blocks(messages, "tool_use")
    (result,) = blocks(messages, "tool_result")
    assert use["name"] == "Bash" and use["input"]["command"] == "echo hi-from-tool"
    assert result["toolUseId"] == use["id"]
    assert result["text"].strip() == "hi-from-tool" and result["isError"] is False
    assert texts(messages[3]) == ["stub saw tool result: hi-from-tool"]
    return {"done": s.shape(done, messages)}


async def denied(s: Served) -> Shapes:
    started = await s.start("please [[tool:bash:touch x]]")
    session_id = started["sessionId"]
    done = await s.ended(started)
    assert done["status"] == "waiting_for_input", done
    assert done["lastError"] is None
    assert not (s.project / "x").exists(), "the denied command ran"
    messages = await s.messages(session_id)
    (use,) = blocks(messages, "tool_use")
    (result,) = blocks(messages, "tool_result")
    assert use["input"]["command"] == "touch x"
    assert result["toolUseId"] == use["id"] and result["isError"] is True
    assert s.metadata(session_id)["turns"][-1]["status"] == "waiting_for_input"
    return {"done": s.shape(done, messages)}


async def approve(s: Served) -> Shapes:
    """A denied tool, granted by a resume with its rule: it runs, under the same id.

    The stub (like the fake) calls a tool only when the prompt asks for it, so the
    follow-up prompt repeats the request; what it shows is that the grant reaches the
    agent: the same command was refused before and runs now."""
    started = await s.start("please [[tool:bash:touch x]]")
    session_id = started["sessionId"]
    s.names[session_id] = "first"
    waiting = await s.ended(started)
    assert waiting["status"] == "waiting_for_input", waiting
    assert not (s.project / "x").exists(), "the denied command ran"
    waiting_messages = await s.messages(session_id)
    mark = s.mark()
    resumed = await s.resume(session_id, "go ahead [[tool:bash:touch x]]", allowedTools=["Bash(touch:*)"])
    assert resumed["sessionId"] == session_id and resumed["session"]["status"] == "running"
    done = await s.ended(resumed, start=mark)
    assert done["status"] == "completed", done
    assert (s.project / "x").is_file(), "the approved command did not run"
    assert s.transcripts() == [f"{session_id}.jsonl"]
    messages = await s.messages(session_id)
    results = blocks(messages, "tool_result")
    assert [r["isError"] for r in results] == [True, False], results
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["waiting_for_input", "completed"]
    return {"waiting": s.shape(waiting, waiting_messages), "done": s.shape(done, messages)}


async def http500(s: Served) -> Shapes:
    started = await s.start("boom [[http500]]")
    session_id = started["sessionId"]
    s.names[session_id] = "first"
    failed = await s.ended(started)
    assert failed["status"] == "failed"
    assert failed["lastError"] and "500" in failed["lastError"], failed["lastError"]
    failed_messages = await s.messages(session_id)
    turn = s.metadata(session_id)["turns"][-1]
    assert turn["status"] == "failed" and turn["exitCode"] == 1
    if s.agent.stub is not None:
        attempts = int(s.agent.extra_env["CLAUDE_CODE_MAX_RETRIES"]) + 1
        assert [r["status"] for r in s.agent.stub.message_requests(session_id)] == [500] * attempts
    mark = s.mark()
    resumed = await s.resume(session_id, "try again")
    done = await s.ended(resumed, start=mark)
    assert done["status"] == "completed", done["lastError"]
    assert done["lastError"] is None
    messages = await s.messages(session_id)
    assert messages[-1]["role"] == "assistant" and reply_to(messages[-1]) == "try again"
    if s.agent.stub is not None:
        prompts = s.stub_prompts(session_id)
        assert prompts and prompts[-1] == "try again", prompts
    return {"failed": s.shape(failed, failed_messages), "done": s.shape(done, messages)}


async def fork(s: Served) -> Shapes:
    started = await s.start("original")
    parent = started["sessionId"]
    s.names[parent] = "original"
    assert (await s.ended(started))["status"] == "completed"
    original = s.transcript(parent).read_bytes()
    mark = s.mark()
    forked = await s.resume(parent, "branch", fork=True)
    child = forked["sessionId"]
    s.names[child] = "fork"
    assert child != parent and forked["session"]["parentSessionId"] == parent
    assert forked["session"]["status"] == "running" and forked["session"]["source"] == "workflow"
    detected = await s.detected(child, start=mark)
    assert detected["transcriptPath"] == str(s.transcript(child))
    done = await s.ended(forked, start=mark)
    assert done["status"] == "completed", done["lastError"]
    assert done["parentSessionId"] == parent
    assert s.transcript(parent).read_bytes() == original, "the fork changed the original transcript"
    assert s.transcripts() == sorted([f"{parent}.jsonl", f"{child}.jsonl"])
    assert user_prompts(s.records(child)) == ["original", "branch"]
    assert {r["sessionId"] for r in s.records(child)} == {child}
    messages = await s.messages(child)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert reply_to(messages[-1]) == "branch"
    parent_messages = await s.messages(parent)
    assert len(parent_messages) == 2
    assert s.metadata(child)["parentSessionId"] == parent
    if s.agent.stub is not None:
        assert s.stub_prompts(child) == ["branch"]
    return {"fork": s.shape(done, messages), "original": s.shape(await s.get(parent), parent_messages)}


SCENARIOS: dict[str, Callable[[Served], Awaitable[Shapes]]] = {
    "basic": basic,
    "resume": resume,
    "fork": fork,
    "tool": tool,
    "denied": denied,
    "approve": approve,
    "http500": http500,
}


# --------------------------------------------------------------------------- one agent each
async def test_start_answers_first_and_the_agent_writes_under_the_id(claude_agent: Agent, tmp_path: Path) -> None:
    # The fake gets the real CLI's start-up time, so that answering late would show here.
    extra = {} if claude_agent.is_real else {"FAKE_CLAUDE_DELAY_MS": FAKE_START_DELAY_MS}
    timing: dict[str, Any] = {}
    async with serve(claude_agent, new_project(tmp_path), extra) as s:
        await basic(s, timing)
    if claude_agent.is_real:
        # system/init comes about 50 ms before the first request: an answer sent only after
        # the agent printed it would leave far less than this.
        assert timing["first_request_after_answer"] > 0.15, timing


async def test_resume_keeps_the_id_and_appends_to_the_same_file(served: Served) -> None:
    await resume(served)


async def test_fork_gives_a_new_id_and_leaves_the_original_alone(served: Served) -> None:
    await fork(served)


async def test_bash_tool_round_trip(served: Served) -> None:
    await tool(served)


async def test_denied_tool_waits_for_input(served: Served) -> None:
    await denied(served)


async def test_a_denied_tool_runs_once_allowed_on_resume(served: Served) -> None:
    await approve(served)


async def test_api_error_fails_and_a_resume_recovers(served: Served) -> None:
    await http500(served)


async def test_cancel_a_slow_reply_then_resume(served: Served) -> None:
    s = served
    mark = s.mark()
    started = await s.start("stream slowly [[slow:20]]")
    session_id, pid = started["sessionId"], started["session"]["pid"]
    await s.detected(session_id, start=mark)  # the transcript exists: the request is out
    began = time.monotonic()
    cancelled = (await s.request("workflow/cancel", {"sessionId": session_id}))["session"]
    took = time.monotonic() - began
    assert cancelled["status"] == "cancelled" and cancelled["pid"] is None
    assert took < 2.5, f"cancelling took {took:.1f} s: SIGINT alone should end the turn, well before SIGTERM"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert s.metadata(session_id)["turns"][-1]["status"] == "cancelled"
    assert (await s.get(session_id))["status"] == "cancelled"
    mark = s.mark()
    resumed = await s.resume(session_id, "after cancel")
    assert resumed["sessionId"] == session_id
    done = await s.ended(resumed, start=mark)
    assert done["status"] == "completed", done["lastError"]
    messages = await s.messages(session_id)
    assert reply_to(messages[-1]) == "after cancel"
    assert [t["status"] for t in s.metadata(session_id)["turns"]] == ["cancelled", "completed"]
    assert s.transcripts() == [f"{session_id}.jsonl"]


async def test_second_resume_while_running_is_refused(served: Served) -> None:
    s = served
    mark = s.mark()
    prompt = f"take your time [[slow:{slow(s.agent)}]]"
    started = await s.start(prompt)
    session_id, pid = started["sessionId"], started["session"]["pid"]
    await s.detected(session_id, start=mark)  # mid-turn: the agent is writing the transcript
    for attempt in ("again", "and again"):
        with pytest.raises(JsonRpcException) as busy:
            await s.resume(session_id, attempt)
        assert busy.value.code == -32002
        assert busy.value.data == {"sessionId": session_id, "pid": pid}
    done = await s.ended(started, start=mark)
    assert done["status"] == "completed", done["lastError"]
    records = s.records(session_id)
    assert main_chain_problems(records) == []
    assert user_prompts(records) == [prompt]
    assert len(s.metadata(session_id)["turns"]) == 1
    assert [m["role"] for m in await s.messages(session_id)] == ["user", "assistant"]
    if s.agent.stub is not None:
        assert s.stub_prompts(session_id) == [prompt]


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("--help", id="a-flag"),
        pytest.param("$(touch pwned) `touch pwned2`; touch pwned3", id="shell"),
        pytest.param("line one\n\"double\" and 'single' quotes\n\ttabbed --resume x", id="multi-line"),
    ],
)
async def test_prompts_arrive_verbatim(served: Served, prompt: str) -> None:
    s = served
    started = await s.start(prompt)
    session_id = started["sessionId"]
    done = await s.ended(started)
    assert done["status"] == "completed", done["lastError"]
    assert user_prompts(s.records(session_id)) == [prompt]
    messages = await s.messages(session_id)
    assert texts(messages[0]) == [prompt]
    assert reply_to(messages[1]) == prompt
    if s.agent.stub is not None:
        assert s.stub_prompts(session_id) == [prompt]
    assert sorted(p.name for p in s.project.iterdir()) == [".threadline"]


async def external(s: Served) -> None:
    """The agent run directly in the watched project, not through Threadline."""
    session_id = str(uuid.uuid4())
    argv = [*s.agent.argv, "-p", "--session-id", session_id, "--output-format", "stream-json", "--verbose"]
    process = subprocess.Popen(
        argv,
        cwd=s.project,
        env=s.agent.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(f"typed in a terminal [[slow:{slow(s.agent)}]]".encode())
        process.stdin.close()
        detection = asyncio.ensure_future(s.detected(session_id))
        exit_code = asyncio.ensure_future(asyncio.to_thread(process.wait))
        await asyncio.wait([detection, exit_code], timeout=TURN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if not detection.done():
            detection.cancel()
            ran = f"ran to the end (exit {exit_code.result()})" if exit_code.done() else "ran for a minute"
            pytest.fail(f"the agent {ran} and the server never announced its session with session/detected")
        detected = detection.result()
        assert detected["source"] == "external"
        assert detected["transcriptPath"] == str(s.transcript(session_id))
        got = await s.get(session_id)
        assert (got["status"], got["pid"], got["source"]) == ("running", process.pid, "external")
        listed = await s.request("session/list", {"cwd": str(s.project)})
        assert [(i["sessionId"], i["status"], i["pid"], i["source"]) for i in listed["sessions"]] == [
            (session_id, "running", process.pid, "external")
        ]
        with pytest.raises(JsonRpcException) as busy:
            await s.resume(session_id, "me too")
        assert busy.value.code == -32002 and busy.value.data == {"sessionId": session_id, "pid": process.pid}

        def over(params: dict[str, Any]) -> bool:
            info = params["session"]
            return info["sessionId"] == session_id and info["status"] != "running" and info["messageCount"] >= 2

        done = (await s.client.wait_for("session/updated", over, timeout=TURN_TIMEOUT))["session"]
        assert (done["status"], done["source"], done["pid"]) == ("completed", "external", None)
        assert await exit_code == 0
        final = await s.get(session_id)
        assert (final["status"], final["source"], final["pid"]) == ("completed", "external", None)
        assert not (s.project / ".threadline").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_external_session_is_detected_running_then_completed(served: Served) -> None:
    await external(served)


async def test_external_session_is_detected_in_a_fresh_config_dir(claude_agent: Agent, tmp_path: Path) -> None:
    # The agent creates sessions/ and projects/ itself; the real CLI makes sessions/ first
    # and projects/ 60-250 ms later, so the server sees its watch roots appear one by one.
    assert not (claude_agent.config_dir / "projects").exists()
    async with serve(claude_agent, new_project(tmp_path), fresh_config=True) as s:
        await external(s)


# --------------------------------------------------------------------------- fake vs real
@pytest.fixture(params=wanted_versions())
def fake_and_real(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Agent, Agent]]:
    """The fake (in the profile of one version) and the real CLI of that version."""
    yield from fake_and_real_agents(str(request.param), tmp_path)


@pytest.mark.real_agent
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_server_derives_the_same_from_the_fake_and_the_real_cli(
    fake_and_real: tuple[Agent, Agent], tmp_path: Path, scenario: str
) -> None:
    shapes = {}
    for agent in fake_and_real:
        extra = {} if agent.is_real else {"FAKE_CLAUDE_DELAY_MS": FAKE_START_DELAY_MS}
        async with serve(agent, new_project(tmp_path / agent.kind), extra) as s:
            shapes[agent.kind] = await SCENARIOS[scenario](s)
    (fake_kind, fake), (real_kind, real) = shapes.items()
    assert list(fake) == list(real)
    for step in real:
        for key in real[step]:
            differs = f"{scenario}/{step}: {key} differs"
            assert fake[step][key] == real[step][key], (
                f"{differs}\n  {fake_kind}: {fake[step][key]!r}\n  {real_kind}: {real[step][key]!r}"
            )


async def test_concurrent_resumes_from_two_servers_run_one_agent(claude_agent: Agent, tmp_path: Path) -> None:
    """Two servers resume one idle session at the same instant: one runs, the other is busy."""
    project = new_project(tmp_path)
    rounds = 5 if claude_agent.is_real else 10
    async with serve(claude_agent, project) as first, serve(claude_agent, project) as second:
        started = await first.start("the first turn")
        await first.ended(started)
        session_id = started["sessionId"]
        for round_no in range(rounds):
            results = await asyncio.gather(
                first.resume(session_id, f"round {round_no} from the first"),
                second.resume(session_id, f"round {round_no} from the second"),
                return_exceptions=True,
            )
            accepted = [(s, r) for s, r in zip((first, second), results, strict=True) if isinstance(r, dict)]
            refused = [r for r in results if isinstance(r, JsonRpcException)]
            assert len(accepted) == 1 and len(refused) == 1, results
            assert refused[0].code == -32002 and refused[0].data["sessionId"] == session_id
            server, answer = accepted[0]
            assert (await server.ended(answer))["status"] == "completed"
        assert not main_chain_problems(first.records(session_id))  # one writer: the chain never branched
        metadata = (project / ".threadline" / "workflows" / session_id / "metadata.json").read_text()
        assert metadata.count('"prompt"') == 1 + rounds  # every accepted turn kept
