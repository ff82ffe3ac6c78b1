"""The adapters the core knows, built from the options and held by agent id.

Adding an agent means one entry here and a package in ``agents/<agent>/``; nothing else in
the core changes.
"""

from __future__ import annotations

from pathlib import Path

from threadline.agents.base import AgentAdapter, AgentCommand
from threadline.agents.claude import ClaudeAdapter
from threadline.agents.codex.adapter import CodexAdapter
from threadline.agents.gemini.adapter import GeminiAdapter
from threadline.protocol import AGENTS

KNOWN_AGENTS = AGENTS
"""The protocol's agent ids (``protocol.AGENTS``), each with an adapter here."""


def make_adapter(agent_id: str, home: Path, command: AgentCommand | None = None) -> AgentAdapter:
    """One adapter (also how an indexing worker process rebuilds the server's adapters)."""
    command = command or AgentCommand([agent_id])
    if agent_id == "claude":
        return ClaudeAdapter(home, command)
    if agent_id == "codex":
        return CodexAdapter(home, command)  # type: ignore[return-value]
    if agent_id == "gemini":
        return GeminiAdapter(home, command)  # type: ignore[return-value]
    raise KeyError(agent_id)


def build_adapters(homes: dict[str, Path], commands: dict[str, AgentCommand]) -> dict[str, AgentAdapter]:
    """Every known agent's adapter: its sessions are listed whether or not its command exists."""
    return {agent_id: make_adapter(agent_id, homes[agent_id], commands.get(agent_id)) for agent_id in homes}
