"""``threadline serve --tcp`` is safe to leave running (protocol §1, issue 9 §6).

A real server process on an OS-chosen port; clients are raw sockets speaking JSON-RPC.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.transport.rawclient import RawClient, TcpServer, connect, initialize_params

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TcpServer]:
    """One server for the module: every test is its own client, which is the point."""
    tmp = tmp_path_factory.mktemp("tcp")
    (tmp / "claude-home").mkdir()
    server = TcpServer(tmp, tmp / "claude-home")
    yield server
    assert server.stop() == 0
    log = server.stderr()
    assert "Traceback" not in log, log


def open_client(server: TcpServer, project: Path, claude_home: Path, **options: Any) -> tuple[RawClient, socket.socket]:
    client, sock = connect(server.port)
    params = initialize_params(project, claude_home, ["unused"])
    params["initializationOptions"] = {"authToken": server.token(), **options}
    answer = client.request("initialize", params)
    assert "result" in answer, answer
    client.notify("initialized", {})
    return client, sock


def test_the_token_file_is_private_and_named_on_stderr(tcp_server: TcpServer) -> None:
    assert tcp_server.where == f"token in {tcp_server.token_file}"
    assert stat.S_IMODE(tcp_server.token_file.stat().st_mode) == 0o600
    assert len(tcp_server.token()) >= 32


def test_the_token_file_is_removed_when_the_server_stops(tmp_path: Path, claude_home: Path) -> None:
    server = TcpServer(tmp_path, claude_home)
    assert server.token_file.exists()
    assert server.stop() == 0
    assert not server.token_file.exists()


@pytest.mark.parametrize("token", [None, "", "wrong", 12345])
def test_initialize_without_the_right_token_is_refused_and_closed(
    tcp_server: TcpServer, project: Path, token: Any
) -> None:
    client, sock = connect(tcp_server.port)
    params = initialize_params(project, tcp_server.claude_home, ["unused"])
    if token is not None:
        params["initializationOptions"]["authToken"] = token
    answer = client.request("initialize", params)
    assert answer["error"] == {"code": -32600, "message": "authentication required"}
    assert client.wait_closed(5), "the connection stayed open"
    sock.close()


def test_requests_before_authenticating_are_refused_and_closed(tcp_server: TcpServer) -> None:
    client, sock = connect(tcp_server.port)
    answer = client.request("session/list", {})
    assert answer["error"]["message"] == "authentication required"
    assert client.wait_closed(5)
    sock.close()


def test_the_token_can_come_from_the_environment(tmp_path: Path, project: Path, claude_home: Path) -> None:
    server = TcpServer(tmp_path, claude_home, env={"THREADLINE_TOKEN": "from-the-environment"})
    try:
        assert server.where == "token from THREADLINE_TOKEN"
        assert not server.token_file.exists()
        client, sock = connect(server.port)
        params = initialize_params(project, claude_home, ["unused"])
        params["initializationOptions"] = {"authToken": "from-the-environment"}
        assert "result" in client.request("initialize", params)
        sock.close()
    finally:
        assert server.stop() == 0


def test_a_client_cannot_choose_the_agent_command(tcp_server: TcpServer, project: Path, tmp_path: Path) -> None:
    """The CVE-2025-52882 class: a local client must not run its own command through the server."""
    planted = tmp_path / "planted"
    client, sock = open_client(
        tcp_server,
        project,
        tmp_path / "elsewhere",
        claudeConfigDir=str(tmp_path / "elsewhere"),
        agents={"claude": {"command": ["/bin/sh", "-c", f"id > {planted}"], "env": {"X": "1"}}},
    )
    warning = client.wait(lambda m: m.get("method") == "window/showMessage")
    assert "agents" in warning["params"]["message"]
    started = client.request("workflow/start", {"cwd": str(project), "prompt": "hello"}, timeout=15)
    assert "result" in started, started
    session_id = started["result"]["sessionId"]
    detected = client.wait(
        lambda m: m.get("method") == "session/detected" and m["params"]["session"]["sessionId"] == session_id, 20
    )
    # The server's own agent (the fake) wrote the transcript in the server's own config folder.
    assert detected["params"]["session"]["transcriptPath"].startswith(str(tcp_server.claude_home))
    assert not planted.exists()
    sock.close()


def test_two_clients_are_independent(tcp_server: TcpServer, project: Path) -> None:
    first, first_sock = open_client(tcp_server, project, tcp_server.claude_home)
    second, second_sock = open_client(tcp_server, project, tcp_server.claude_home)
    for round_ in range(5):
        a = first.request("session/list", {"cwd": str(project)})
        b = second.request("session/list", {"cwd": str(project)})
        assert "result" in a and "result" in b, round_
    # Each got only its own replies: as many responses as it sent requests (initialize + 5).
    assert first.count(lambda m: "method" not in m) == 6
    assert second.count(lambda m: "method" not in m) == 6
    # One's follow is its own: the other never receives its session/updated appended messages.
    first_sock.close()
    second_sock.close()


def test_a_disconnect_ends_only_that_client(tcp_server: TcpServer, project: Path) -> None:
    staying, staying_sock = open_client(tcp_server, project, tcp_server.claude_home)
    for _ in range(3):
        _leaving, leaving_sock = open_client(tcp_server, project, tcp_server.claude_home)
        leaving_sock.shutdown(socket.SHUT_RDWR)
        leaving_sock.close()
    rude, rude_sock = connect(tcp_server.port)
    rude.send_raw(b'Content-Length: 500\r\n\r\n{"jsonrpc"')
    rude_sock.close()
    exiting, exiting_sock = open_client(tcp_server, project, tcp_server.claude_home)
    assert "result" in exiting.request("shutdown")
    exiting.notify("exit")
    assert exiting.wait_closed(5)
    exiting_sock.close()
    for _ in range(5):
        assert "result" in staying.request("session/list", {"cwd": str(project)})
    assert tcp_server.process.poll() is None
    late, late_sock = open_client(tcp_server, project, tcp_server.claude_home)
    assert "result" in late.request("session/list", {"cwd": str(project)})
    late_sock.close()
    staying_sock.close()


def test_a_port_in_use_is_one_sentence_and_exit_1(tmp_path: Path, claude_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "threadline", "serve", "--tcp", "--port", str(port), "--cache-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert done.stderr == f"threadline: port {port} on 127.0.0.1 is already in use; choose another with --port.\n"
    assert not list(tmp_path.glob("serve-*.token"))


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the listening sockets on ``port`` (Linux ``/proc/net/tcp*``)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table, encoding="ascii") as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                address, hex_port = fields[1].split(":")
                if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.append(address)
    return found


def test_the_server_listens_on_loopback_only(tcp_server: TcpServer) -> None:
    assert listening_addresses(tcp_server.port) == ["0100007F"]  # 127.0.0.1, little-endian hex


def test_a_failed_initialize_over_tcp_can_be_retried(tcp_server: TcpServer, project: Path) -> None:
    client, sock = connect(tcp_server.port)
    bad = {"capabilities": "none", "processId": "x", "initializationOptions": {"authToken": tcp_server.token()}}
    assert client.request("initialize", bad)["error"]["code"] == -32602
    good = initialize_params(project, tcp_server.claude_home, ["unused"])
    good["initializationOptions"] = {"authToken": tcp_server.token()}
    assert "result" in client.request("initialize", good)
    assert "Traceback" not in str(client.messages)
    sock.close()


def test_a_connection_that_never_authenticates_is_closed(tmp_path: Path, claude_home: Path) -> None:
    server = TcpServer(tmp_path, claude_home, env={"THREADLINE_TCP_AUTH_SECONDS": "1"})
    try:
        idle, idle_sock = connect(server.port)
        assert idle.wait_closed(10), "an idle, unauthenticated connection stayed open"
        idle_sock.close()
    finally:
        assert server.stop() == 0


def test_a_large_or_broken_frame_before_authenticating_is_refused_and_closed(tcp_server: TcpServer) -> None:
    for raw in (b"Content-Length: 2000000\r\n\r\n", b"Content-Length: 3\r\n\r\n{{{"):
        client, sock = connect(tcp_server.port)
        client.send_raw(raw)
        error = client.wait(lambda m: "error" in m)["error"]
        assert error["code"] in (-32600, -32700)
        assert client.wait_closed(5)
        sock.close()


def test_follows_are_per_client(tcp_server: TcpServer, project: Path) -> None:
    """Only the client that follows a session receives its appended Messages."""
    follower, follower_sock = open_client(tcp_server, project, tcp_server.claude_home)
    other, other_sock = open_client(tcp_server, project, tcp_server.claude_home)
    started = follower.request("workflow/start", {"cwd": str(project), "prompt": "hello [[slow:2]]"}, timeout=15)
    session_id = started["result"]["sessionId"]
    assert "result" in follower.request("session/messages", {"sessionId": session_id, "follow": True})

    def update_of(message: dict[str, Any]) -> bool:
        return message.get("method") == "session/updated" and message["params"]["session"]["sessionId"] == session_id

    follower.wait(lambda m: update_of(m) and bool(m["params"]["appended"]), 30)
    follower.wait(lambda m: update_of(m) and m["params"]["session"]["status"] == "completed", 30)
    other.wait(lambda m: update_of(m) and m["params"]["session"]["status"] == "completed", 30)
    others = [m for m in other.messages if update_of(m)]
    assert others and all(m["params"]["appended"] == [] for m in others)
    follower_sock.close()
    other_sock.close()
