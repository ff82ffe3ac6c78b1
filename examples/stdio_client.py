#!/usr/bin/env python3
"""A Threadline client in plain Python: list a project's sessions, start a workflow, and print
the server's notifications until the workflow's turn ends.

    python3 examples/stdio_client.py "explain the build"            # in the project folder
    python3 examples/stdio_client.py --cwd ~/src/app --list-only

It speaks JSON-RPC 2.0 with LSP framing (``Content-Length`` headers) to ``threadline serve``
over stdio, with the standard library only; see docs/protocol.md for every method.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from typing import IO, Any


class Server:
    """``threadline serve`` as a child process; one request at a time, notifications queued."""

    def __init__(self, command: list[str]) -> None:
        # stderr is the server's log: let it through to ours.
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.stdin.flush()

    def receive(self) -> dict[str, Any]:
        length = None
        while True:
            line = self.stdout.readline()
            if not line:
                raise SystemExit("threadline serve stopped; see its messages above.")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise SystemExit("threadline serve sent a message without Content-Length.")
        message: dict[str, Any] = json.loads(self.stdout.read(length))
        return message

    def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send a request and return its result; notifications that come first are queued."""
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if "method" in message and "id" in message:  # a request from the server (progress)
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)
            elif message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']['message']}")
                return message.get("result")

    def notification(self) -> dict[str, Any]:
        """The next notification (a request from the server is answered on the way)."""
        while not self.notifications:
            message = self.receive()
            if "id" in message and "method" in message:
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)
        return self.notifications.pop(0)

    def close(self) -> None:
        self.request("shutdown", {})
        self.send({"method": "exit"})
        self.stdin.close()
        self.process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompt", nargs="?", help="the prompt of the workflow to start")
    parser.add_argument("--cwd", default=os.getcwd(), help="the project folder (default: here)")
    parser.add_argument("--server", default="threadline serve", help="the server command (default: %(default)s)")
    parser.add_argument("--options", default="{}", help="initializationOptions as JSON (default: none)")
    parser.add_argument("--list-only", action="store_true", help="list the sessions and stop")
    args = parser.parse_args()
    if not args.list_only and not args.prompt:
        parser.error("give a prompt, or --list-only")
    cwd = os.path.realpath(args.cwd)  # absolute, as the agent records it

    try:
        server = Server(shlex.split(args.server))
    except OSError as error:
        print(f"cannot run {args.server!r}: {error.strerror}", file=sys.stderr)
        return 1
    init = server.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": f"file://{cwd}",
            "capabilities": {},
            "initializationOptions": json.loads(args.options),
        },
    )
    server.send({"method": "initialized", "params": {}})
    print(f"connected to {init['serverInfo']['name']} {init['serverInfo']['version']}")

    listed = server.request("session/list", {"cwd": cwd})
    for session in listed["sessions"]:
        mark = "*" if session["active"] else " "
        print(f"{mark} {session['sessionId']}  {session['status']:<17}  {session['title']}")
    if args.list_only:
        server.close()
        return 0

    started = server.request("workflow/start", {"cwd": cwd, "prompt": args.prompt})
    session_id = started["sessionId"]
    print(f"started {session_id}")
    # Follow it, so session/updated carries its new Messages.
    server.request("session/messages", {"sessionId": session_id, "fromEnd": True, "follow": True})
    while True:
        note = server.notification()
        params = note["params"]
        if note["method"] == "session/removed":
            print(f"session/removed {params['sessionId']}")
            continue
        session = params["session"]
        print(f"{note['method']} {session['sessionId']} {session['status']}")
        for message in params.get("appended") or []:
            for block in message["content"]:
                if block["type"] == "text":
                    print(f"  {message['role']}: {block['text']}")
        # The turn has ended when an update says so (session/detected only says it exists).
        ended = note["method"] == "session/updated" and session["status"] != "running"
        if session["sessionId"] == session_id and ended:
            break
    server.close()
    return 0 if session["status"] in ("completed", "waiting_for_input") else 1


if __name__ == "__main__":
    sys.exit(main())
