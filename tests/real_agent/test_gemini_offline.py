"""The real Gemini CLI, run as the tests run it, connects to 127.0.0.1 only: every
``connect`` / ``sendto`` with an address, traced with strace over a tool turn with the router
(default model ``auto``) and a resume. Needs the real CLI and strace (installed by ``.ci/run``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.gemini_fixtures import GeminiAgent, real_gemini

pytestmark = [pytest.mark.real_agent, pytest.mark.gemini]
__all__ = ["real_gemini"]

ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6?, "([^"]+)"')
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


@pytest.fixture
def strace() -> Iterator[str]:
    found = shutil.which("strace")
    if found is None:
        pytest.fail("strace is not installed (.ci/run installs it)")
    yield found


def traced(strace: str, agent: GeminiAgent, cwd: Path, log: Path, args: list[str], prompt: str) -> str:
    done = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(log), *agent.argv, *args],
        cwd=cwd,
        env=agent.env,
        input=prompt.encode(),
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return log.read_text()


def test_only_loopback_connections(real_gemini: GeminiAgent, strace: str, tmp_path: Path) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    session_id = str(uuid.uuid4())
    trace = traced(
        strace, real_gemini, cwd, tmp_path / "a.log", ["-o", "stream-json", "--session-id", session_id], "[[tool]]"
    )
    trace += traced(strace, real_gemini, cwd, tmp_path / "b.log", ["-o", "stream-json", "--resume", session_id], "more")
    addresses = [v4 or v6 for v4, v6 in ADDRESS.findall(trace)]
    assert addresses, "strace saw no connection at all"
    assert set(addresses) <= LOOPBACK, sorted(set(addresses) - LOOPBACK)
    assert real_gemini.stub is not None
    actions = [e["action"] for e in real_gemini.stub.requests]
    assert actions.count("generateContent") == 2 and actions.count("streamGenerateContent") == 3  # router + turns


def children(pid: int) -> list[str]:
    """Command lines of the processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(cmdline)
    return out


@pytest.mark.parametrize("relaunch", [False, True])
def test_no_relaunch_keeps_the_turn_in_the_process_we_started(
    real_gemini: GeminiAgent, tmp_path: Path, relaunch: bool
) -> None:
    """With ``GEMINI_CLI_NO_RELAUNCH=true`` (the adapter's env) the spawned process runs the
    turn itself; without it, it re-spawns itself as a child node process, which a signal to
    the parent alone would miss."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    if relaunch:  # any value of the variable turns the relaunch off: leave it out
        real_gemini.env = {k: v for k, v in real_gemini.env.items() if k != "GEMINI_CLI_NO_RELAUNCH"}
    process = real_gemini.start(["-o", "stream-json"], cwd, "[[slow:30]]")
    process.wait_for_event(lambda e: e.get("type") == "message" and e.get("role") == "assistant", timeout=90)
    node_children = [c for c in children(process.pid) if "gemini" in c]
    os.killpg(process.pid, signal.SIGINT)
    run = process.finish(60)
    assert run.returncode == 0
    assert bool(node_children) == relaunch, node_children
