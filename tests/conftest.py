"""Fixtures shared by every tier: a project folder and a throw-away Claude config folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from threadline.agents.claude.paths import encode_project_dir

TESTS = Path(__file__).resolve().parent
SAMPLES = TESTS / "data" / "claude" / "2.1.197" / "transcripts"
FAKE_CLAUDE = TESTS / "agents" / "fake_claude.py"


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own session catalog (servers and CLIs it starts inherit it)."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("THREADLINE_CACHE_DIR", str(folder))
    # Nor does a test read the Codex or Gemini history of whoever runs it.
    monkeypatch.setenv("CODEX_HOME", str(tmp_path_factory.mktemp("codex-home")))
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path_factory.mktemp("gemini-home")))
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder (a realpath, as the agent records it)."""
    folder = tmp_path / "project"
    folder.mkdir()
    return Path(os.path.realpath(folder))


@pytest.fixture
def claude_home(tmp_path: Path) -> Path:
    """A throw-away ``CLAUDE_CONFIG_DIR``."""
    folder = tmp_path / "claude-home"
    folder.mkdir()
    return folder


@pytest.fixture
def fake_claude() -> list[str]:
    """The argv prefix of the fake ``claude`` (behaves like the real CLI; see tests/agents)."""
    return [sys.executable, str(FAKE_CLAUDE)]


def install_transcripts(claude_home: Path, project: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Copy the real sample transcripts into ``claude_home`` as sessions of ``project``.

    Their ``cwd`` fields are rewritten to the project, as if they had been recorded there.
    Returns session id → transcript path.
    """
    folder = claude_home / "projects" / encode_project_dir(str(project))
    folder.mkdir(parents=True, exist_ok=True)
    installed = {}
    for source in sorted(SAMPLES.glob("*/*.jsonl")):
        if names is not None and source.stem not in names:
            continue
        lines = []
        for line in source.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "cwd" in record:
                record["cwd"] = str(project)
            lines.append(json.dumps(record))
        target = folder / source.name
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        installed[source.stem] = target
    return installed
