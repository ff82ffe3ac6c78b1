"""End-to-end fixtures: a real ``threadline serve`` over stdio, driven by pytest-lsp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.harness import ThreadlineClient, start_client, stop_client


def options_for(claude_home: Path, command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    return {"claudeConfigDir": str(claude_home), "agents": {"claude": {"command": command, "env": env or {}}}}


@pytest.fixture
def agent_env() -> dict[str, str]:
    """Extra environment for the agent (tests override it to script the fake)."""
    return {}


@pytest_asyncio.fixture
async def threadline(
    project: Path, claude_home: Path, fake_claude: list[str], agent_env: dict[str, str]
) -> AsyncIterator[ThreadlineClient]:
    """A server watching ``project``, running the fake agent, reading ``claude_home``."""
    client = await start_client([project], options_for(claude_home, fake_claude, agent_env))
    yield client
    await stop_client(client)
