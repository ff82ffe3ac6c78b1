"""Pytest fixtures that provide a ``claude`` to run: the fake, or the real CLI offline.

Load them with ``pytest_plugins = ["tests.agents.fixtures"]`` in the root ``conftest.py``
(or import the fixture names into a ``conftest.py``). The main ones:

``agent_kind``
    parametrized over :data:`AGENT_KINDS`: ``"fake"`` and ``"real-<version>"`` for each
    version in ``THREADLINE_CLAUDE_VERSION`` (comma separated, default ``2.1.197``).
    The real kinds carry the ``real_agent`` marker.
``claude_agent``
    an :class:`Agent` for ``agent_kind``: ``argv`` (the command prefix), ``env`` (the
    full environment to run it with), ``extra_env`` (only the variables set for it, for
    ``initializationOptions.agents.claude.env``), ``config_dir`` (its throw-away
    ``CLAUDE_CONFIG_DIR``), ``stub`` (the Messages-API stub for a real CLI, else ``None``).
``fake_agent`` / ``real_agent``
    the same for one kind (the real one for the first version of ``THREADLINE_CLAUDE_VERSION``).
``messages_stub``
    a started :class:`~tests.agents.messages_stub.MessagesStub`.

The real binary is ``THREADLINE_REAL_CLAUDE`` when set, else a pinned version installed on
first use with npm into ``<repo>/.cache/claude/<version>/`` (ignored by git), under a file
lock so parallel pytest processes install it once.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.agents.fake_claude import encode_project_dir
from tests.agents.messages_stub import MessagesStub
from tests.agents.pinned_cli import (
    RealAgentUnavailable,
    npm_binary,
    npm_installed,
    version_output,
    versions_from_env,
)

AGENTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = AGENTS_DIR.parent.parent
FAKE_CLAUDE = AGENTS_DIR / "fake_claude.py"
FAKE_BIN_DIR = AGENTS_DIR / "bin"
CACHE_DIR = REPO_ROOT / ".cache" / "claude"
NPM_PACKAGE = "@anthropic-ai/claude-code"
DEFAULT_VERSION = "2.1.197"
KNOWN_VERSIONS = ("2.1.197", "2.1.329")


def wanted_versions() -> list[str]:
    """The real CLI versions to test, from ``THREADLINE_CLAUDE_VERSION`` (comma separated)."""
    return versions_from_env("THREADLINE_CLAUDE_VERSION", DEFAULT_VERSION)


AGENT_KINDS = ["fake", *(f"real-{v}" for v in wanted_versions())]

# Variables of the developer's own environment that would change how a CLI behaves.
_LEAKY_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "FAKE_CLAUDE_", "AWS_BEARER_TOKEN_BEDROCK")


# --------------------------------------------------------------------------- install
def _binary_version(binary: Path) -> str | None:
    out = version_output(binary)
    return out.split()[0] if out else None


def real_claude_binary(version: str | None = None) -> Path:
    """The path of a real ``claude`` of ``version``, installing it if needed.

    ``THREADLINE_REAL_CLAUDE`` wins when set (its version must then match, else
    :class:`RealAgentUnavailable`). The install is idempotent and serialized with a lock
    file, so concurrent pytest processes share one install.
    """
    version = version or wanted_versions()[0]
    override = os.environ.get("THREADLINE_REAL_CLAUDE")
    if override:
        path = Path(override)
        found = _binary_version(path)
        if found is None:
            raise RealAgentUnavailable(f"THREADLINE_REAL_CLAUDE={override} does not run")
        if found != version:
            raise RealAgentUnavailable(f"THREADLINE_REAL_CLAUDE is {found}, not {version}")
        return path
    return npm_installed(
        package=NPM_PACKAGE,
        version=version,
        cache_dir=CACHE_DIR,
        find_binary=npm_binary("claude"),
        version_of=_binary_version,
        command="claude",
    )


# --------------------------------------------------------------------------- running
@dataclass
class AgentRun:
    """One finished CLI run."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def events(self) -> list[dict[str, Any]]:
        """The stdout lines that are JSON objects (stream-json events or the json result)."""
        out = []
        for line in self.stdout.splitlines():
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    out.append(obj)
        return out

    @property
    def init(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("type") == "system" and e.get("subtype") == "init"), None)

    @property
    def result(self) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e.get("type") == "result"), None)


class AgentProcess:
    """A running CLI whose stdout lines are collected by a thread (nothing to poll)."""

    def __init__(self, popen: subprocess.Popen[bytes], args: list[str]) -> None:
        self.popen = popen
        self.args = args
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout_lines: list[str] = []
        self._stderr: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self) -> None:
        assert self.popen.stderr is not None
        for raw in self.popen.stderr:
            self._stderr.append(raw)

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """Block until a stdout JSON line matches ``predicate``; fail on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event within {timeout}s; stdout so far: {self.stdout_lines}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the CLI ended before a matching event; stdout: {self.stdout_lines}")
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and predicate(event):
                    return event

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def finish(self, timeout: float = 60) -> AgentRun:
        """Wait for the exit and return everything it printed."""
        started = time.monotonic()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise
        self._reader.join(timeout=10)
        self._err_reader.join(timeout=10)
        return AgentRun(
            self.args,
            self.popen.returncode,
            "\n".join(self.stdout_lines) + "\n",
            b"".join(self._stderr).decode("utf-8", "replace"),
            time.monotonic() - started,
        )

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def spawn(
    argv: list[str], args: list[str], cwd: Path | str, env: dict[str, str], prompt: str | bytes | None
) -> AgentProcess:
    """Start ``argv + args`` in its own process group, its output collected from the start;
    ``prompt`` goes to stdin, which is then closed (a CLI that exits first is no error)."""
    popen = subprocess.Popen(
        [*argv, *args],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.PIPE if prompt is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    process = AgentProcess(popen, args)
    if prompt is not None:
        assert popen.stdin is not None
        data = prompt.encode("utf-8") if isinstance(prompt, str) else prompt
        try:
            popen.stdin.write(data)
            popen.stdin.close()
        except BrokenPipeError:
            pass
    return process


@dataclass
class Agent:
    """A ``claude`` to run in tests, fake or real, with its own throw-away homes."""

    kind: str
    version: str
    argv: list[str]
    env: dict[str, str]
    extra_env: dict[str, str]
    config_dir: Path
    home: Path
    stub: MessagesStub | None = None
    processes: list[AgentProcess] = field(default_factory=list)

    @property
    def is_real(self) -> bool:
        return self.kind.startswith("real")

    def project_dir(self, cwd: Path | str) -> Path:
        """Where the CLI keeps the transcripts of project ``cwd``."""
        return self.config_dir / "projects" / encode_project_dir(os.path.realpath(cwd))

    def transcript(self, cwd: Path | str, session_id: str) -> Path:
        return self.project_dir(cwd) / f"{session_id}.jsonl"

    def registry(self) -> dict[int, dict[str, Any]]:
        """The live-process registry ``<config>/sessions/<pid>.json``, by pid."""
        out = {}
        for path in sorted((self.config_dir / "sessions").glob("*.json")):
            with contextlib.suppress(ValueError, OSError):
                out[int(path.stem)] = json.loads(path.read_text(encoding="utf-8"))
        return out

    def start(
        self, args: list[str], cwd: Path | str, prompt: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> AgentProcess:
        """Start the CLI with ``args``; ``prompt`` goes to stdin, which is then closed."""
        process = spawn(self.argv, args, cwd, {**self.env, **(env or {})}, prompt)
        self.processes.append(process)
        return process

    def run(
        self,
        args: list[str],
        cwd: Path | str,
        prompt: str | bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 90,
    ) -> AgentRun:
        """Run the CLI to the end."""
        started = time.monotonic()
        run = self.start(args, cwd, prompt, env).finish(timeout)
        run.seconds = time.monotonic() - started
        return run

    def close(self) -> None:
        for process in self.processes:
            process.kill()
        if self.stub is not None:
            self.stub.stop()


def clean_environ() -> dict[str, str]:
    """``os.environ`` without the variables that would steer a CLI (API keys, config dirs...)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}


def make_agent(kind: str, base: Path) -> Agent:
    """Build an :class:`Agent` of ``kind`` (``fake``, ``fake-<version>`` or ``real-<version>``)
    whose homes live under ``base``. May raise :class:`RealAgentUnavailable`."""
    config_dir = base / "claude-config"
    home = base / "home"
    config_dir.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    extra = {
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "HOME": str(home),
        "ANTHROPIC_API_KEY": "sk-ant-dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    stub = None
    if kind.startswith("real"):
        version = kind.partition("-")[2] or wanted_versions()[0]
        argv = [str(real_claude_binary(version))]
        stub = MessagesStub().start()
        extra["ANTHROPIC_BASE_URL"] = stub.base_url
    elif kind.startswith("fake"):
        version = kind.partition("-")[2] or DEFAULT_VERSION
        argv = [sys.executable, str(FAKE_CLAUDE)]
        extra["FAKE_CLAUDE_VERSION"] = version
        extra["FAKE_CLAUDE_PYTHON"] = sys.executable  # for bin/claude, when the fake is run from PATH
    else:
        raise ValueError(f"unknown agent kind {kind!r}")
    env = clean_environ()
    env.update(extra)
    return Agent(
        kind=kind, version=version, argv=argv, env=env, extra_env=extra, config_dir=config_dir, home=home, stub=stub
    )


def fake_and_real_agents(version: str, base: Path) -> Iterator[tuple[Agent, Agent]]:
    """The fake (in the profile of ``version``) and the real CLI of that version, for comparing
    them; skips the test when the real CLI cannot be had."""
    try:
        real = make_agent(f"real-{version}", base / "real")
    except RealAgentUnavailable as exc:
        pytest.skip(f"real Claude Code CLI unavailable: {exc}")
    fake = make_agent(f"fake-{version}", base / "fake")
    try:
        yield fake, real
    finally:
        fake.close()
        real.close()


def _agent_fixture(kind: str, tmp_path: Path) -> Iterator[Agent]:
    try:
        agent = make_agent(kind, tmp_path / kind)
    except RealAgentUnavailable as exc:
        pytest.skip(f"real Claude Code CLI unavailable: {exc}")
    try:
        yield agent
    finally:
        agent.close()


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def messages_stub() -> Iterator[MessagesStub]:
    """A Messages-API stub on 127.0.0.1 (``.port``, ``.base_url``, ``.requests``, ``.user_texts()``)."""
    stub = MessagesStub().start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture(
    params=[
        pytest.param(kind, id=kind, marks=[pytest.mark.real_agent] if kind.startswith("real") else [])
        for kind in AGENT_KINDS
    ]
)
def agent_kind(request: pytest.FixtureRequest) -> str:
    """``"fake"`` or ``"real-<version>"`` (see :data:`AGENT_KINDS`)."""
    return str(request.param)


@pytest.fixture
def claude_agent(agent_kind: str, tmp_path: Path) -> Iterator[Agent]:
    """The :class:`Agent` of the current ``agent_kind``."""
    yield from _agent_fixture(agent_kind, tmp_path)


@pytest.fixture
def fake_agent(tmp_path: Path) -> Iterator[Agent]:
    """The fake CLI (2.1.197 behaviour)."""
    yield from _agent_fixture("fake", tmp_path)


@pytest.fixture
def real_agent(tmp_path: Path) -> Iterator[Agent]:
    """The real CLI of the first ``THREADLINE_CLAUDE_VERSION`` (skips if it cannot be had)."""
    yield from _agent_fixture(f"real-{wanted_versions()[0]}", tmp_path)


__all__ = [
    "AGENT_KINDS",
    "Agent",
    "AgentProcess",
    "AgentRun",
    "RealAgentUnavailable",
    "agent_kind",
    "claude_agent",
    "fake_agent",
    "make_agent",
    "messages_stub",
    "real_agent",
    "real_claude_binary",
]
