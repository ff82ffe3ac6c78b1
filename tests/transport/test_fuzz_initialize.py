"""Fuzzed ``initialize`` requests (issue 9 §5: "a failed initialize sent a traceback").

Each example is a new TCP client of one server (each connection is its own client, so each
gets its own ``initialize``): the token is right, everything else is drawn. Every
``initialize`` is answered within 5 s, without traceback text; a client whose ``initialize``
succeeded can list sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.transport.rawclient import ANSWER_SECONDS, TcpServer, connect
from tests.transport.strategies import json_values

pytestmark = pytest.mark.timeout(300)
NUL_URI = "file:///tmp/a%00b"


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TcpServer]:
    tmp = tmp_path_factory.mktemp("tcp-init")
    (tmp / "claude-home").mkdir()
    server = TcpServer(tmp, tmp / "claude-home")
    yield server
    assert server.stop() == 0
    log = server.stderr()
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:4000]


def options() -> st.SearchStrategy[Any]:
    agent = st.fixed_dictionaries(
        {}, optional={"command": json_values | st.lists(st.text(max_size=10)), "env": json_values, "home": json_values}
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "claudeConfigDir": json_values,
            "agents": st.dictionaries(st.sampled_from(["claude", "codex", "gemini", "x"]), agent) | json_values,
            "cacheDir": json_values,
            "watch": st.booleans() | json_values,
            "other": json_values,
        },
    )


def params() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"initializationOptions": options()},
        optional={
            "capabilities": st.just({}) | json_values,
            "processId": st.none() | st.integers() | json_values,
            "rootUri": st.none() | st.text(max_size=30) | json_values,
            "rootPath": st.none() | st.text(max_size=30),
            "workspaceFolders": st.none()
            | st.lists(st.fixed_dictionaries({"uri": st.text(max_size=30), "name": st.text(max_size=5)}), max_size=2)
            | json_values,
            "trace": st.sampled_from(["off", "verbose", "bogus"]),
        },
    )


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=params())
# Folders no path can name (a NUL byte): drawn once in about 10 runs, so always tried.
@example(drawn={"initializationOptions": {}, "capabilities": {}, "rootPath": "/tmp/a\x00b"})
@example(drawn={"initializationOptions": {}, "capabilities": {}, "workspaceFolders": [{"uri": NUL_URI, "name": "x"}]})
def test_every_initialize_is_answered(tcp_server: TcpServer, drawn: dict[str, Any]) -> None:
    client, sock = connect(tcp_server.port)
    try:
        drawn["initializationOptions"]["authToken"] = tcp_server.token()
        answer = client.request("initialize", drawn, timeout=ANSWER_SECONDS)
        assert "result" in answer or answer["error"]["code"] in (-32602, -32603), answer
        if "result" in answer:
            listing = client.request("session/list", {"cwd": "/does/not/exist"})
            assert "result" in listing or listing["error"]["code"] == -32602, listing
        assert not client.tracebacks(), client.tracebacks()
    finally:
        sock.close()
