"""Tests that run the real Claude Code CLI (marked ``real_agent``)."""
