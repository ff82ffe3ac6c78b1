"""One server watching one project, seen the way a scenario test uses it (Codex, Gemini)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.harness import ThreadlineClient

TURN_TIMEOUT = 60.0


@dataclass
class ServedProject:
    """Requests and awaited pushes of one client; the agent's scenario adds ``start``."""

    client: ThreadlineClient
    project: Path

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        return await self.client.request(method, params)

    async def get(self, session_id: str) -> dict[str, Any]:
        return dict((await self.request("session/get", {"sessionId": session_id}))["session"])

    async def messages(self, session_id: str) -> list[dict[str, Any]]:
        page = await self.request("session/messages", {"sessionId": session_id, "limit": 1000})
        return list(page["messages"])

    def mark(self) -> int:
        """Where the pushes received so far end: wait for later ones from here."""
        return len(self.client.received)

    async def update(self, session_id: str, test: Callable[[dict[str, Any]], bool], start: int = 0) -> dict[str, Any]:
        """The first ``session/updated`` of ``session_id`` (from ``start``) whose SessionInfo passes ``test``."""
        params = await self.client.wait_for(
            "session/updated",
            lambda p: p["session"]["sessionId"] == session_id and test(p["session"]),
            timeout=TURN_TIMEOUT,
            start=start,
        )
        return dict(params["session"])

    async def ended(self, answer: dict[str, Any], start: int = 0) -> dict[str, Any]:
        """The first update after ``answer`` (a start or resume result) that shows its turn over."""
        since = answer["session"]["updatedAt"]
        return await self.update(
            answer["sessionId"], lambda s: s["status"] != "running" and s["updatedAt"] > since, start
        )

    def metadata(self, session_id: str) -> dict[str, Any]:
        path = self.project / ".threadline" / "workflows" / session_id / "metadata.json"
        return dict(json.loads(path.read_text(encoding="utf-8")))
