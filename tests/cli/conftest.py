"""The agent fixtures (fake, and the real CLI under ``-m real_agent``) for command-line tests."""

from __future__ import annotations

from tests.agents.fixtures import agent_kind, claude_agent

__all__ = ["agent_kind", "claude_agent"]
