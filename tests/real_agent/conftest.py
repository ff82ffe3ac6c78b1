"""The real Claude Code CLI, offline against the loopback Messages-API stub.

Tests here are marked ``real_agent`` (deselected by default); run them with
``pytest -m real_agent`` and choose versions with ``THREADLINE_CLAUDE_VERSION``
(``2.1.197`` by default, comma separated for several).
"""

from __future__ import annotations

import pytest

from tests.agents.fixtures import agent_kind, claude_agent, fake_agent, messages_stub, real_agent

__all__ = ["agent_kind", "claude_agent", "fake_agent", "messages_stub", "real_agent"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_agent: runs the real Claude Code CLI against a loopback Messages-API stub")
