"""Threadline: one id for a workflow, a session and an agent conversation."""

__version__ = "0.1.0"
