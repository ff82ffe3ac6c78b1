"""Codex uses the adapter interface's shapes from ``agents/base.py`` (kept as a module so
imports stay short)."""

from threadline.agents.base import Summary, TurnRequest

__all__ = ["Summary", "TurnRequest"]
