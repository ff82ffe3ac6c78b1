"""A pytest-lsp client for Threadline's own methods: JSON in, JSON out, every push recorded.

pygls hands custom params and results over as namedtuples; this client keeps them as the
plain JSON a real editor sees, records every notification in order, and lets a test await
the first one that matches a condition (no sleeps, no lost notifications).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import register_lsp_features
from pytest_lsp.protocol import LanguageClientProtocol

NOTIFICATIONS = ("session/detected", "session/updated", "session/removed")
OUR_METHODS = (
    "workflow/start",
    "workflow/cancel",
    "session/list",
    "session/messages",
    "session/resume",
    "session/get",
    "session/activate",
    "session/unfollow",
)


@attrs.define
class RawNotification:
    method: str
    jsonrpc: str
    params: Any = None


@attrs.define
class RawResponse:
    id: int | str
    jsonrpc: str
    result: Any = None


class RawProtocol(LanguageClientProtocol):
    def get_message_type(self, method: str) -> Any:
        if method in NOTIFICATIONS:
            return RawNotification
        return super().get_message_type(method)

    def get_result_type(self, method: str) -> Any:
        if method in OUR_METHODS:
            return RawResponse
        return super().get_result_type(method)


class ThreadlineClient(LanguageClient):
    """Records ``session/detected`` and ``session/updated`` and waits on them."""

    def __init__(self) -> None:
        super().__init__(converter_factory=default_converter, protocol_cls=RawProtocol)
        register_lsp_features(self)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Event()
        for method in NOTIFICATIONS:
            self.feature(method)(self._recorder(method))

    def _recorder(self, method: str) -> Callable[[Any], None]:
        def record(params: Any) -> None:
            self.received.append((method, params))
            self._changed.set()

        return record

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.protocol.send_request_async(method, params or {})

    def notifications(self, method: str, session_id: str | None = None) -> list[dict[str, Any]]:
        return [
            p
            for m, p in self.received
            if m == method and (session_id is None or p["session"]["sessionId"] == session_id)
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 20.0,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first notification (from index ``start``) of ``method`` matching ``predicate``."""

        async def scan() -> dict[str, Any]:
            index = start
            while True:
                while index < len(self.received):
                    m, params = self.received[index]
                    index += 1
                    if m == method and predicate(params):
                        return params
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)


def server_config(env: dict[str, str] | None = None, verbose: bool = True) -> ClientServerConfig:
    command = [sys.executable, "-m", "threadline", *(["-v"] if verbose else []), "serve"]
    return ClientServerConfig(server_command=command, client_factory=ThreadlineClient, server_env=env)


async def start_client(
    workspace: list[Path],
    options: dict[str, Any],
    env: dict[str, str] | None = None,
    capabilities: lsp.ClientCapabilities | None = None,
    verbose: bool = True,
) -> ThreadlineClient:
    client = await server_config(env, verbose).start()
    assert isinstance(client, ThreadlineClient)
    client.init_result = await client.initialize_session(  # type: ignore[attr-defined]
        lsp.InitializeParams(
            capabilities=capabilities or lsp.ClientCapabilities(),
            workspace_folders=[lsp.WorkspaceFolder(uri=p.as_uri(), name=p.name) for p in workspace],
            initialization_options=options,
        )
    )
    return client


async def stop_client(client: ThreadlineClient) -> None:
    try:
        await asyncio.wait_for(client.shutdown_session(), 5)
    except Exception:
        pass
    await client.stop()
