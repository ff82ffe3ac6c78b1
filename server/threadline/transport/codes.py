"""The JSON-RPC error codes the transport answers with, and which of them are the client's doing."""

from __future__ import annotations

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CLIENT_ERRORS = frozenset({INVALID_PARAMS, -32001, -32002})
"""Errors that are the client's doing: logged as one line, never with a traceback."""
