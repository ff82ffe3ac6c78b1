"""Pytest fixtures that provide a ``gemini`` to run: the fake, or the real CLI offline.

``gemini_kind``
    parametrized: ``"fake"`` and ``"real-<version>"`` for each version in
    ``THREADLINE_GEMINI_VERSION`` (comma separated, default ``0.61.0``); the real kinds carry
    the ``real_agent`` and ``gemini`` markers.
``gemini_agent``
    a :class:`GeminiAgent` of that kind: ``argv``, ``env`` (full), ``extra_env`` (only what is
    set for it, for ``initializationOptions.agents.gemini.env``), ``home`` (its
    ``GEMINI_CLI_HOME``, also ``HOME``), ``stub`` (the Gemini-API stub for a real CLI).

The real binary is ``THREADLINE_REAL_GEMINI`` when set, else ``@google/gemini-cli@<version>``
installed on first use with npm into ``<repo>/.cache/gemini/<version>/`` under a lock. It runs
with ``GOOGLE_GEMINI_BASE_URL`` at the stub and the settings of
:func:`tests.agents.gemini_stub.offline_settings`, so every connection goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.agents.fixtures import AgentProcess, AgentRun, RealAgentUnavailable, spawn
from tests.agents.gemini_stub import GeminiStub, offline_settings
from tests.agents.pinned_cli import npm_binary, npm_installed, version_output, versions_from_env

AGENTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = AGENTS_DIR.parent.parent
FAKE_GEMINI = AGENTS_DIR / "fake_gemini.py"
CACHE_DIR = REPO_ROOT / ".cache" / "gemini"
NPM_PACKAGE = "@google/gemini-cli"
DEFAULT_VERSION = "0.61.0"
_LEAKY_PREFIXES = ("GEMINI_", "GOOGLE_", "FAKE_GEMINI_", "CLOUD_SHELL")
_LEAKY_NAMES = ("CI", "GITHUB_ACTIONS")


def wanted_versions() -> list[str]:
    return versions_from_env("THREADLINE_GEMINI_VERSION", DEFAULT_VERSION)


GEMINI_KINDS = ["fake", *(f"real-{v}" for v in wanted_versions())]


def _version_of(binary: Path) -> str | None:
    return version_output(binary, timeout=120)


def real_gemini_binary(version: str | None = None) -> Path:
    """A real ``gemini`` of ``version``, installed with npm on first use (idempotent, locked)."""
    version = version or wanted_versions()[0]
    override = os.environ.get("THREADLINE_REAL_GEMINI")
    if override:
        found = _version_of(Path(override))
        if found != version:
            raise RealAgentUnavailable(f"THREADLINE_REAL_GEMINI={override} is {found}, not {version}")
        return Path(override)
    return npm_installed(
        package=NPM_PACKAGE,
        version=version,
        cache_dir=CACHE_DIR,
        find_binary=npm_binary("gemini"),
        version_of=_version_of,
        command="gemini",
    )


def events_of(run: AgentRun) -> list[dict[str, Any]]:
    return run.events


def init_of(run: AgentRun) -> dict[str, Any] | None:
    return next((e for e in run.events if e.get("type") == "init"), None)


def result_of(run: AgentRun) -> dict[str, Any] | None:
    return next((e for e in reversed(run.events) if e.get("type") == "result"), None)


@dataclass
class GeminiAgent:
    """A ``gemini`` to run in tests, fake or real, with its own throw-away home."""

    kind: str
    version: str
    argv: list[str]
    env: dict[str, str]
    extra_env: dict[str, str]
    home: Path
    stub: GeminiStub | None = None
    processes: list[AgentProcess] = field(default_factory=list)

    @property
    def is_real(self) -> bool:
        return self.kind.startswith("real")

    @property
    def tmp(self) -> Path:
        return self.home / ".gemini" / "tmp"

    def chats(self, session_id: str | None = None) -> list[Path]:
        """Chat files (of one session id, by the 8 characters the name holds), oldest name first."""
        pattern = f"session-*-{session_id[:8]}.jsonl" if session_id else "session-*.jsonl"
        return sorted(self.tmp.glob(f"*/chats/{pattern}"))

    def start(
        self, args: list[str], cwd: Path | str, prompt: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> AgentProcess:
        """Start the CLI in its own process group; ``prompt`` goes to stdin, then closed."""
        process = spawn(self.argv, args, cwd, {**self.env, **(env or {})}, prompt)
        self.processes.append(process)
        return process

    def run(
        self,
        args: list[str],
        cwd: Path | str,
        prompt: str | bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> AgentRun:
        return self.start(args, cwd, prompt, env).finish(timeout)

    def close(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                try:
                    os.killpg(process.pid, 9)
                except ProcessLookupError:
                    pass
                process.popen.wait()
        if self.stub is not None:
            self.stub.stop()


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES) and k not in _LEAKY_NAMES}


def make_gemini(kind: str, base: Path) -> GeminiAgent:
    """A :class:`GeminiAgent` of ``kind`` (``fake`` or ``real-<version>``) living under ``base``."""
    home = base / "gemini-home"
    tmp = base / "tmp"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(offline_settings(), indent=2), encoding="utf-8")
    extra = {
        "HOME": str(home),
        "GEMINI_CLI_HOME": str(home),
        "TMPDIR": str(tmp),
        "GEMINI_API_KEY": "dummy",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }
    stub = None
    if kind.startswith("real"):
        version = kind.partition("-")[2] or wanted_versions()[0]
        argv = [str(real_gemini_binary(version))]
        stub = GeminiStub().start()
        extra["GOOGLE_GEMINI_BASE_URL"] = stub.base_url
    elif kind == "fake":
        version = DEFAULT_VERSION
        argv = [sys.executable, str(FAKE_GEMINI)]
        extra["FAKE_GEMINI_PYTHON"] = sys.executable
    else:
        raise ValueError(f"unknown gemini kind {kind!r}")
    env = clean_environ()
    env.update(extra)
    return GeminiAgent(kind=kind, version=version, argv=argv, env=env, extra_env=extra, home=home, stub=stub)


def _fixture(kind: str, tmp_path: Path) -> Iterator[GeminiAgent]:
    try:
        agent = make_gemini(kind, tmp_path / kind)
    except RealAgentUnavailable as exc:
        if os.environ.get("THREADLINE_REQUIRE_AGENTS") == "1":
            raise
        pytest.skip(f"real Gemini CLI unavailable: {exc}")
    try:
        yield agent
    finally:
        agent.close()


@pytest.fixture(
    params=[
        pytest.param(
            kind, id=f"gemini-{kind}", marks=[pytest.mark.real_agent, pytest.mark.gemini] if kind != "fake" else []
        )
        for kind in GEMINI_KINDS
    ]
)
def gemini_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def gemini_agent(gemini_kind: str, tmp_path: Path) -> Iterator[GeminiAgent]:
    yield from _fixture(gemini_kind, tmp_path)


@pytest.fixture
def fake_gemini(tmp_path: Path) -> Iterator[GeminiAgent]:
    yield from _fixture("fake", tmp_path)


@pytest.fixture
def real_gemini(tmp_path: Path) -> Iterator[GeminiAgent]:
    yield from _fixture(f"real-{wanted_versions()[0]}", tmp_path)


def fake_and_real_gemini(base: Path) -> Iterator[tuple[GeminiAgent, GeminiAgent]]:
    try:
        real = make_gemini(f"real-{wanted_versions()[0]}", base / "real")
    except RealAgentUnavailable as exc:
        if os.environ.get("THREADLINE_REQUIRE_AGENTS") == "1":
            raise
        pytest.skip(f"real Gemini CLI unavailable: {exc}")
    fake = make_gemini("fake", base / "fake")
    try:
        yield fake, real
    finally:
        fake.close()
        real.close()
