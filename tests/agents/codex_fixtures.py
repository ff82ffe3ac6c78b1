"""Pytest fixtures that provide a ``codex`` to run: the fake, or the real CLI offline.

``codex_kind``
    parametrized over :data:`CODEX_KINDS`: ``"fake"`` and ``"real-<version>"`` for each
    version in ``THREADLINE_CODEX_VERSION`` (comma separated, default ``0.171.0``). The
    real kinds carry the ``real_agent`` marker.
``codex_agent``
    a :class:`CodexAgent` for ``codex_kind``: ``argv`` (the command prefix), ``env``,
    ``extra_env``, ``codex_home`` (its throw-away ``CODEX_HOME``, with a ``config.toml``
    that sends every model request to ``stub``), ``stub`` (a started Responses-API stub).
``fake_codex_agent`` / ``real_codex_agent``
    the same for one kind.

The real CLI is ``THREADLINE_REAL_CODEX`` when set, else the pinned version installed on
first use with npm into ``<repo>/.cache/codex/<version>/`` (ignored by git), under a file
lock. Tests run its native binary, not the npm shim: a signal to the shim does not reach
the binary (the shim's child finishes the turn), and the id comes ~80 ms sooner.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.agents.fixtures import AgentProcess, AgentRun, RealAgentUnavailable, spawn
from tests.agents.pinned_cli import npm_installed, version_output, versions_from_env
from tests.agents.responses_stub import ResponsesStub, codex_config
from threadline.agents.base import AgentCommand, TurnOutcome
from threadline.agents.codex import CodexAdapter
from threadline.agents.codex.interface import Summary, TurnRequest
from threadline.agents.codex.paths import CodexPaths
from threadline.agents.codex.rollout import summarize_file
from threadline.protocol import Message

AGENTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = AGENTS_DIR.parent.parent
FAKE_CODEX = AGENTS_DIR / "fake_codex.py"
CACHE_DIR = REPO_ROOT / ".cache" / "codex"
NPM_PACKAGE = "@openai/codex"
DEFAULT_VERSION = "0.171.0"
KNOWN_VERSIONS = ("0.171.0", "0.169.0")
_LEAKY_PREFIXES = ("OPENAI_", "CODEX_", "FAKE_CODEX_", "AZURE_OPENAI")


def wanted_versions() -> list[str]:
    """The real Codex versions to test, from ``THREADLINE_CODEX_VERSION`` (comma separated)."""
    return versions_from_env("THREADLINE_CODEX_VERSION", DEFAULT_VERSION)


CODEX_KINDS = ["fake", *(f"real-{v}" for v in wanted_versions())]


def _binary_version(binary: Path) -> str | None:
    out = version_output(binary)
    return out.split()[-1] if out else None


def _native_binary(prefix: Path) -> Path | None:
    found = sorted(prefix.glob("node_modules/@openai/codex-*/vendor/*/bin/codex"))
    return found[0] if found else None


def real_codex_binary(version: str | None = None) -> Path:
    """The native ``codex`` binary of ``version``, installing ``@openai/codex`` if needed."""
    version = version or wanted_versions()[0]
    override = os.environ.get("THREADLINE_REAL_CODEX")
    if override:
        found = _binary_version(Path(override))
        if found != version:
            raise RealAgentUnavailable(f"THREADLINE_REAL_CODEX={override} is {found}, not {version}")
        return Path(override)
    return npm_installed(
        package=NPM_PACKAGE,
        version=version,
        cache_dir=CACHE_DIR,
        find_binary=_native_binary,
        version_of=_binary_version,
        command="codex",
    )


@dataclass
class CodexAgent:
    """A ``codex`` to run in tests, fake or real, with its own throw-away homes."""

    kind: str
    version: str
    argv: list[str]
    env: dict[str, str]
    extra_env: dict[str, str]
    codex_home: Path
    home: Path
    tmp: Path
    stub: ResponsesStub
    processes: list[AgentProcess] = field(default_factory=list)

    @property
    def is_real(self) -> bool:
        return self.kind.startswith("real")

    @property
    def paths(self) -> CodexPaths:
        return CodexPaths(self.codex_home)

    def rollout(self, thread_id: str) -> Path | None:
        return self.paths.find_transcript(thread_id)

    @property
    def adapter(self) -> CodexAdapter:
        """The adapter under test, pointed at this agent's binary and home."""
        return CodexAdapter(self.codex_home, AgentCommand(argv=list(self.argv)))

    def turn(self, cwd: Path | str, prompt: str, **request: object) -> AgentProcess:
        """Start one turn exactly as the adapter would: its argv, its stdin."""
        request.setdefault("session_id", None)
        turn = TurnRequest(cwd=str(cwd), prompt=prompt, **request)  # type: ignore[arg-type]
        adapter = self.adapter
        argv = adapter.argv(turn)
        assert argv[: len(self.argv)] == self.argv
        return self.start(argv[len(self.argv) :], cwd, adapter.stdin_bytes(turn))

    def summary(self, thread_id: str) -> tuple[Summary, list[Message]]:
        """The adapter's Summary and all Messages of a thread's rollout."""
        path = self.rollout(thread_id)
        assert path is not None, f"no rollout for {thread_id} under {self.codex_home}"
        summarizer, end = summarize_file(path)
        messages = self.adapter.read_messages(path, summarizer.offsets, end, 0, 10_000)
        return summarizer.summary, messages

    def start(
        self, args: list[str], cwd: Path | str, prompt: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> AgentProcess:
        """Start ``codex exec …`` in its own process group; ``prompt`` goes to stdin, then EOF."""
        process = spawn(self.argv, args, cwd, {**self.env, **(env or {})}, prompt)
        self.processes.append(process)
        return process

    def run(
        self,
        args: list[str],
        cwd: Path | str,
        prompt: str | bytes | None = None,
        timeout: float = 90,
        env: dict[str, str] | None = None,
    ) -> AgentRun:
        return self.start(args, cwd, prompt, env).finish(timeout)

    def close(self) -> None:
        for process in self.processes:
            process.kill()
        self.stub.stop()


def outcome_of(run: AgentRun, cancelled: bool = False) -> tuple[str | None, TurnOutcome]:
    """The adapter's reading of a finished run's stdout: (thread id, outcome)."""
    monitor = CodexAdapter(Path("/nonexistent")).new_monitor()
    for line in run.stdout.splitlines():
        monitor.feed(line.encode("utf-8"))
    return monitor.session_id, monitor.outcome(run.returncode, run.stderr, cancelled)


def make_codex_agent(kind: str, base: Path) -> CodexAgent:
    """A :class:`CodexAgent` of ``kind`` (``fake``, ``fake-<version>``, ``real-<version>``)."""
    home = base / "home"
    codex_home = home / ".codex"
    tmp = base / "tmp"
    for folder in (codex_home, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    stub = ResponsesStub().start()
    (codex_home / "config.toml").write_text(codex_config(stub.base_url), encoding="utf-8")
    extra = {"HOME": str(home), "CODEX_HOME": str(codex_home), "TMPDIR": str(tmp), "STUB_API_KEY": "dummy"}
    version = kind.partition("-")[2] or (wanted_versions()[0] if kind.startswith("real") else DEFAULT_VERSION)
    try:
        if kind.startswith("real"):
            argv = [str(real_codex_binary(version))]
        elif kind.startswith("fake"):
            argv = [sys.executable, str(FAKE_CODEX)]
            extra["FAKE_CODEX_VERSION"] = version
            extra["FAKE_CODEX_PYTHON"] = sys.executable
        else:
            raise ValueError(f"unknown agent kind {kind!r}")
    except BaseException:
        stub.stop()
        raise
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    env.update(extra)
    return CodexAgent(kind, version, argv, env, extra, codex_home, home, tmp, stub)


def _codex_fixture(kind: str, base: Path) -> Iterator[CodexAgent]:
    try:
        agent = make_codex_agent(kind, base / kind)
    except RealAgentUnavailable as exc:
        if os.environ.get("THREADLINE_REQUIRE_AGENTS") == "1":
            pytest.fail(f"real Codex CLI unavailable (THREADLINE_REQUIRE_AGENTS=1): {exc}")
        pytest.skip(f"real Codex CLI unavailable: {exc}")
    try:
        yield agent
    finally:
        agent.close()


@pytest.fixture(
    params=[
        pytest.param(kind, id=f"codex-{kind}", marks=[pytest.mark.real_agent] if kind.startswith("real") else [])
        for kind in CODEX_KINDS
    ]
)
def codex_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def codex_agent(codex_kind: str, tmp_path: Path) -> Iterator[CodexAgent]:
    yield from _codex_fixture(codex_kind, tmp_path)


@pytest.fixture
def fake_codex_agent(tmp_path: Path) -> Iterator[CodexAgent]:
    yield from _codex_fixture("fake", tmp_path)


@pytest.fixture
def real_codex_agent(tmp_path: Path) -> Iterator[CodexAgent]:
    yield from _codex_fixture(f"real-{wanted_versions()[0]}", tmp_path)


__all__ = [
    "CODEX_KINDS",
    "CodexAgent",
    "codex_agent",
    "codex_kind",
    "fake_codex_agent",
    "make_codex_agent",
    "outcome_of",
    "real_codex_agent",
    "real_codex_binary",
]
