"""The Codex CLI adapter (``@openai/codex`` 0.169 and 0.171): rollouts, liveness, argv, stdout."""

from threadline.agents.codex.adapter import CodexAdapter

__all__ = ["CodexAdapter"]
