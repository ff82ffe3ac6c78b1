"""Codex and Gemini through the server: one id from start to resume, listed beside Claude's.

Each scenario runs on the agent's fake in the fast tier and on the real CLI (offline, against
its loopback model-API stub) in that agent's real tier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.agents.codex_fixtures import CodexAgent, codex_agent, codex_kind
from tests.agents.gemini_fixtures import GeminiAgent, gemini_agent, gemini_kind
from tests.conftest import install_transcripts
from tests.e2e.harness import ThreadlineClient, start_client, stop_client
from threadline.protocol import is_session_id

__all__ = ["codex_agent", "codex_kind", "gemini_agent", "gemini_kind"]

PROMPT = 'say hi: "quotes", $(touch pwned) and --help'
TURN_TIMEOUT = 120.0


def options(
    claude_home: Path, fake_claude: list[str], agent_id: str, agent: CodexAgent | GeminiAgent
) -> dict[str, Any]:
    home = agent.codex_home if isinstance(agent, CodexAgent) else agent.home
    return {
        "claudeConfigDir": str(claude_home),
        "agents": {
            "claude": {"command": fake_claude},
            agent_id: {"command": agent.argv, "env": agent.extra_env, "home": str(home)},
        },
    }


async def settled(client: ThreadlineClient, session_id: str, start: int = 0) -> dict[str, Any]:
    update = await client.wait_for(
        "session/updated",
        lambda p: p["session"]["sessionId"] == session_id and p["session"]["status"] != "running",
        timeout=TURN_TIMEOUT,
        start=start,
    )
    return dict(update["session"])


async def one_id_scenario(
    client: ThreadlineClient, project: Path, agent_id: str, transcript_of: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Start, list beside Claude's, read, resume under the same id; returns the id and Messages."""
    started = await client.request("workflow/start", {"cwd": str(project), "prompt": PROMPT, "agent": agent_id})
    session_id = started["sessionId"]
    assert is_session_id(session_id) and started["session"]["agent"] == agent_id
    first = await settled(client, session_id)
    assert first["status"] == "completed", first
    transcript = transcript_of(session_id)
    assert transcript is not None, "the agent wrote no transcript for the id the server answered with"
    listed = await client.request("session/list", {"cwd": str(project)})
    agents = {s["sessionId"]: s["agent"] for s in listed["sessions"]}
    assert agents[session_id] == agent_id and "claude" in agents.values()
    only = await client.request("session/list", {"cwd": str(project), "agent": [agent_id]})
    assert [s["sessionId"] for s in only["sessions"]] == [session_id]
    got = (await client.request("session/get", {"sessionId": session_id}))["session"]
    assert got["source"] == "workflow" and got["transcriptPath"] == str(transcript)
    mark = len(client.received)
    resumed = await client.request("session/resume", {"sessionId": session_id, "prompt": "and once more"})
    assert resumed["sessionId"] == session_id
    assert (await settled(client, session_id, mark))["status"] == "completed"
    assert transcript_of(session_id) == transcript  # the same conversation, the same file
    page = await client.request("session/messages", {"sessionId": session_id, "limit": 1000})
    turns = json.loads((project / ".threadline" / "workflows" / session_id / "metadata.json").read_text())["turns"]
    assert [t["prompt"] for t in turns] == [PROMPT, "and once more"]
    assert not (project / "pwned").exists()
    return session_id, page["messages"]


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [
        b["text"]
        for m in messages
        if m["role"] == "user" and not m.get("isMeta")
        for b in m["content"]
        if b["type"] == "text"
    ]


@pytest.mark.codex
async def test_codex_workflow_has_one_id_from_start_to_resume(
    codex_agent: CodexAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    install_transcripts(claude_home, project, ["11111111-1111-4111-8111-111111111111"])
    client = await start_client([project], options(claude_home, fake_claude, "codex", codex_agent))
    try:
        assert "codex" in client.init_result.capabilities.experimental["threadline"]["agents"]  # type: ignore[attr-defined]
        _, messages = await one_id_scenario(client, project, "codex", codex_agent.rollout)
        texts = user_texts(messages)
        assert PROMPT in texts and "and once more" in texts
    finally:
        await stop_client(client)


@pytest.mark.gemini
async def test_gemini_workflow_has_one_id_from_start_to_resume(
    gemini_agent: GeminiAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    install_transcripts(claude_home, project, ["11111111-1111-4111-8111-111111111111"])
    client = await start_client([project], options(claude_home, fake_claude, "gemini", gemini_agent))

    def chat_of(session_id: str) -> Path | None:
        chats = [p for p in gemini_agent.chats(session_id) if p.stat().st_size > 0]
        return max(chats, key=lambda p: p.stat().st_size) if chats else None

    try:
        session_id, messages = await one_id_scenario(client, project, "gemini", chat_of)
        texts = user_texts(messages)
        assert any(PROMPT in t for t in texts) and any("and once more" in t for t in texts)
        with pytest.raises(Exception) as refused:
            await client.request("session/resume", {"sessionId": session_id, "prompt": "x", "fork": True})
        assert getattr(refused.value, "code", None) == -32602
    finally:
        await stop_client(client)


@pytest.mark.codex
async def test_codex_fork_cancel_and_a_1mb_prompt_through_the_server(
    codex_agent: CodexAgent, project: Path, claude_home: Path, fake_claude: list[str]
) -> None:
    client = await start_client([project], options(claude_home, fake_claude, "codex", codex_agent))
    try:
        # 1 MB; Codex itself refuses more than 1,048,576 characters (the turn then fails with
        # its message as lastError).
        big = "".join(f"line {n:06d}: the quick brown fox jumps over the lazy dog\n" for n in range(18_000))[:1_000_000]
        assert len(big) == 1_000_000
        started = await client.request("workflow/start", {"cwd": str(project), "prompt": big, "agent": "codex"})
        parent = started["sessionId"]
        assert (await settled(client, parent))["status"] == "completed"
        page = await client.request("session/messages", {"sessionId": parent, "limit": 1000})
        assert big in user_texts(page["messages"])  # 1 MB, verbatim, through stdin
        mark = len(client.received)
        forked = await client.request("session/resume", {"sessionId": parent, "prompt": "a branch", "fork": True})
        child = forked["sessionId"]
        assert child != parent and is_session_id(child)
        done = await settled(client, child, mark)
        assert done["status"] == "completed" and done["parentSessionId"] == parent
        assert codex_agent.rollout(child) is not None and codex_agent.rollout(child) != codex_agent.rollout(parent)
        slow = await client.request(
            "workflow/start", {"cwd": str(project), "prompt": "take your time [[slow:30]]", "agent": "codex"}
        )
        cancelled = await client.request("workflow/cancel", {"sessionId": slow["sessionId"]})
        assert cancelled["session"]["status"] == "cancelled"
    finally:
        await stop_client(client)
