"""Domain errors of the core, each with its protocol error code (protocol §6).

The core raises these; the JSON-RPC layer turns them into error responses whose message
is one sentence for a person and whose ``data`` carries the machine-readable details.
"""

from __future__ import annotations

from typing import Any


class ThreadlineError(Exception):
    """Base of every error a client may see."""

    code = -32603

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class InvalidParams(ThreadlineError):
    """A missing or ill-typed field (data: ``{field}``)."""

    code = -32602


class SessionNotFound(ThreadlineError):
    """No transcript and no store entry with that id (data: ``{sessionId}``)."""

    code = -32001


class SessionBusy(ThreadlineError):
    """A turn is already running in that session (data: ``{sessionId, pid}``)."""

    code = -32002


class AgentUnavailable(ThreadlineError):
    """The agent's command is missing or not runnable (data: ``{agent, command}``)."""

    code = -32003


class StoreError(ThreadlineError):
    """The project store cannot be written (data: ``{path}``)."""

    code = -32004


class AgentStartFailed(ThreadlineError):
    """The agent exited, or gave no session id in time, before the session existed
    (data: ``{agent, exitCode, stderrTail}``)."""

    code = -32005
