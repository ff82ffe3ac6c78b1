"""Plumbing for driving ``threadline serve`` with the fake or the real ``claude``.

:func:`serve` starts a server over stdio that runs one :class:`~tests.agents.fixtures.Agent`
(its argv, its environment, its config folder) and watches one project; :class:`Served`
wraps the client with the few requests and waits the scenarios need. :func:`shape` reduces
what the server derives (a SessionInfo and its Messages) to what must be the same whether
the agent is the fake or the real CLI.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.agents.fixtures import Agent
from tests.agents.transcripts import read_records
from tests.e2e.conftest import options_for
from tests.e2e.harness import ThreadlineClient, start_client, stop_client

TURN_TIMEOUT = 60.0
"""Seconds to await one notification: the real CLI takes 0.5-0.7 s a turn, more under load."""


@dataclass
class Served:
    """A server running ``agent`` and watching ``project``."""

    client: ThreadlineClient
    agent: Agent
    project: Path
    names: dict[str, str] = field(default_factory=dict)
    """Session id → a label, so shapes name sessions the same way on every agent."""

    # -- requests ---------------------------------------------------------------------------
    async def request(self, method: str, params: dict[str, Any]) -> Any:
        return await self.client.request(method, params)

    async def start(self, prompt: str, **params: Any) -> dict[str, Any]:
        return await self.request("workflow/start", {"cwd": str(self.project), "prompt": prompt, **params})

    async def resume(self, session_id: str, prompt: str, fork: bool = False, **params: Any) -> dict[str, Any]:
        return await self.request("session/resume", {"sessionId": session_id, "prompt": prompt, "fork": fork, **params})

    async def get(self, session_id: str) -> dict[str, Any]:
        return (await self.request("session/get", {"sessionId": session_id}))["session"]

    async def messages(self, session_id: str) -> list[dict[str, Any]]:
        page = await self.request("session/messages", {"sessionId": session_id, "limit": 1000})
        assert page["total"] == len(page["messages"]), page
        return list(page["messages"])

    # -- notifications ----------------------------------------------------------------------
    def mark(self) -> int:
        """The index of the next notification (to await only what comes after it)."""
        return len(self.client.received)

    async def detected(self, session_id: str, start: int = 0) -> dict[str, Any]:
        params = await self.client.wait_for(
            "session/detected", lambda p: p["session"]["sessionId"] == session_id, timeout=TURN_TIMEOUT, start=start
        )
        return dict(params["session"])

    async def ended(self, answer: dict[str, Any], start: int = 0) -> dict[str, Any]:
        """The SessionInfo of the first ``session/updated`` that shows the turn started by
        ``answer`` (a ``workflow/start`` or ``session/resume`` result) no longer running.

        Updates are coalesced and describe the session when sent, so an update still in
        flight from an earlier turn can say ``completed`` after a resume: only an update
        newer than the answer counts (the end of a turn moves ``updatedAt`` past it).
        """
        session_id = answer["sessionId"]
        since = answer["session"]["updatedAt"]

        def over(params: dict[str, Any]) -> bool:
            info = params["session"]
            return info["sessionId"] == session_id and info["status"] != "running" and info["updatedAt"] > since

        params = await self.client.wait_for("session/updated", over, timeout=TURN_TIMEOUT, start=start)
        return dict(params["session"])

    # -- files ------------------------------------------------------------------------------
    def transcript(self, session_id: str) -> Path:
        return self.agent.transcript(self.project, session_id)

    def records(self, session_id: str) -> list[dict[str, Any]]:
        return read_records(self.transcript(session_id))

    def transcripts(self) -> list[str]:
        """The transcript files in the project's folder of the agent's config."""
        folder = self.agent.project_dir(self.project)
        return sorted(p.name for p in folder.glob("*.jsonl")) if folder.exists() else []

    def metadata(self, session_id: str) -> dict[str, Any]:
        path = self.project / ".threadline" / "workflows" / session_id / "metadata.json"
        return dict(json.loads(path.read_text(encoding="utf-8")))

    # -- the stub (real CLI only) -----------------------------------------------------------
    def stub_prompts(self, session_id: str) -> list[str] | None:
        """The newest user text of each request the CLI of ``session_id`` sent to the stub,
        or ``None`` for the fake (it has no stub)."""
        return None if self.agent.stub is None else self.agent.stub.user_texts(session_id)

    # -- shapes -----------------------------------------------------------------------------
    def shape(self, info: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        return shape(info, messages, self.names, self.project)


@contextlib.asynccontextmanager
async def serve(
    agent: Agent, project: Path, extra_env: dict[str, str] | None = None, fresh_config: bool = False
) -> AsyncIterator[Served]:
    """A ``threadline serve`` that runs ``agent`` (with ``extra_env`` on top of its own)
    and watches ``project``. On the way out, turns still running are cancelled through the
    server, so a failed test leaves no agent behind.

    The agent's config folder gets its ``projects/`` and ``sessions/`` first, as in any
    ``~/.claude`` used before, unless ``fresh_config``: the server must then notice them
    appear, one after the other (a separate test covers that).
    """
    if not fresh_config:
        for name in ("projects", "sessions"):
            (agent.config_dir / name).mkdir(parents=True, exist_ok=True)
    env = {**agent.extra_env, **(extra_env or {})}
    client = await start_client([project], options_for(agent.config_dir, agent.argv, env))
    served = Served(client, agent, project)
    try:
        yield served
    finally:
        with contextlib.suppress(Exception):
            listed = await client.request("session/list", {"cwd": str(project)})
            for info in listed["sessions"]:
                if info["status"] == "running" and info["source"] == "workflow":
                    await client.request("workflow/cancel", {"sessionId": info["sessionId"]})
        await stop_client(client)


def texts(message: dict[str, Any], kind: str = "text") -> list[str]:
    """The texts of the ``kind`` blocks of one Message."""
    return [b["text"] for b in message["content"] if b["type"] == kind]


def blocks(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [b for m in messages for b in m["content"] if b["type"] == kind]


def shape(info: dict[str, Any], messages: list[dict[str, Any]], names: dict[str, str], project: Path) -> dict[str, Any]:
    """What the server derived, reduced to what does not depend on ids, times, paths or
    token counts: it must be the same for the fake and the real CLI. Of the texts, only
    those of user and system Messages are kept (the prompts, tool results and API-error
    notes, with the project shown as ``<project>``); the stub numbers its replies
    differently from the fake."""
    usage = info["usage"]
    parent = info["parentSessionId"]
    return {
        "status": info["status"],
        "source": info["source"],
        "title": info["title"],
        "messageCount": info["messageCount"],
        "model": info["model"] is not None,
        "usage": {
            "tokens": usage["inputTokens"] > 0 and usage["outputTokens"] > 0,
            "costUsd": usage["costUsd"] is not None,
        },
        "lastError": info["lastError"] is not None,
        "parentSessionId": None if parent is None else names.get(parent, "(unknown id)"),
        "messages": [
            (m["role"], tuple(b["type"] for b in m["content"]), bool(m["isMeta"]), bool(m["isSidechain"]))
            for m in messages
        ],
        "userAndSystemTexts": [
            [b["text"].replace(str(project), "<project>") for b in m["content"] if b["type"] in ("text", "tool_result")]
            for m in messages
            if m["role"] != "assistant"
        ],
    }


def main_chain_problems(records: list[dict[str, Any]]) -> list[str]:
    """Why the conversation records (those with ``uuid`` and ``parentUuid``) of a
    transcript do not form one line from one root, or ``[]``.

    Two processes appending to one file would give two roots (two ``parentUuid: null``
    prompts) or a record with two children (two turns hanging from one leaf).
    """
    chained = [r for r in records if isinstance(r.get("uuid"), str) and "parentUuid" in r]
    main = [r for r in chained if not r.get("isSidechain")]
    problems = []
    roots = [r for r in main if r["parentUuid"] is None]
    if len(roots) != 1:
        problems.append(f"{len(roots)} roots: {[(r['type'], r['uuid']) for r in roots]}")
    seen: set[str] = set()
    children: dict[str, list[str]] = {}
    for record in main:
        parent = record["parentUuid"]
        if parent is not None:
            if parent not in seen:
                problems.append(f"{record['type']} {record['uuid']} hangs from unknown or later {parent}")
            children.setdefault(parent, []).append(record["uuid"])
        seen.add(record["uuid"])
    for parent, kids in children.items():
        if len(kids) > 1:
            problems.append(f"{parent} has {len(kids)} children: {kids}")
    return problems
