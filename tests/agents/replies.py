"""The reply shapes the Messages-API stub sends and the fake agent answers with, in one place.

Stdlib only and import-light: the fake ``claude`` imports it on every start.
"""

from __future__ import annotations

from typing import Any

TOOL_TEXT = "I will run a command."
WRITE_CONTENT = "written by the stub\n"
DEFAULT_BASH = "echo stub-tool-ok"


def tool_use_block(spec: str | None, tool_id: str) -> dict[str, Any]:
    """The ``tool_use`` block a ``[[tool:KIND:ARG]]`` marker asks for (bash, write or read)."""
    kind, _, arg = (spec or "bash").partition(":")
    if kind == "write":
        return {
            "type": "tool_use",
            "id": tool_id,
            "name": "Write",
            "input": {"file_path": arg, "content": WRITE_CONTENT},
        }
    if kind == "read":
        return {"type": "tool_use", "id": tool_id, "name": "Read", "input": {"file_path": arg}}
    command = {"command": arg or DEFAULT_BASH, "description": "Stub-requested command"}
    return {"type": "tool_use", "id": tool_id, "name": "Bash", "input": command}


def thinking_block(prompt: str) -> dict[str, Any]:
    """The thinking block of a ``[[thinking]]`` reply (any signature string is accepted)."""
    return {"type": "thinking", "thinking": "stub thinking about: " + prompt, "signature": "c3R1Yi1zaWduYXR1cmU="}
