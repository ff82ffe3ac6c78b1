"""Fixtures of the agent doubles' own tests (the Codex ones; the Claude ones import theirs)."""

from tests.agents.codex_fixtures import codex_agent, codex_kind, fake_codex_agent, real_codex_agent

__all__ = ["codex_agent", "codex_kind", "fake_codex_agent", "real_codex_agent"]
