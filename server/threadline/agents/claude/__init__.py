"""Claude Code behind the :mod:`threadline.agents.base` interface."""

from threadline.agents.claude.adapter import ClaudeAdapter

__all__ = ["ClaudeAdapter"]
