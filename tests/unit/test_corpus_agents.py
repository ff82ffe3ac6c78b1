"""The mixed corpus: its Codex rollouts and Gemini chats read back, through the adapters' own
readers, as the sessions its manifest says were written (the truth the scale benchmark checks
the server against), the same bytes every time."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from benchmarks import corpus_agents

from threadline.agents.codex.paths import CodexPaths
from threadline.agents.codex.rollout import summarize_file
from threadline.agents.gemini.chat import fold_file, is_stray
from threadline.agents.gemini.paths import GeminiPaths


def generate(root: Path) -> dict[str, Any]:
    return corpus_agents.generate(root, sessions=30, total_mb=6, big_mb=[], seed=5)


def digest(root: Path) -> str:
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*.jsonl")):
        hasher.update(str(path.relative_to(root)).encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("mixed") / "corpus"
    return root, generate(root)


def test_a_third_each_where_each_agent_keeps_them(mixed: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = mixed
    by_agent = manifest["stats"]["by_agent"]
    assert {agent: v["files"] for agent, v in by_agent.items()} == {"claude": 10, "codex": 10, "gemini": 10}
    rollouts = list(CodexPaths(root / "codex").iter_transcripts())
    chats = GeminiPaths(root / "gemini").iter_chats()
    assert len(rollouts) == 10 and len(chats) == 10
    assert len(list((root / "claude" / "projects").glob("*/*.jsonl"))) == 10
    written = {w["path"] for w in manifest["sessions"]}
    assert written == {str(p.relative_to(root)) for p in [*rollouts, *chats]}


def test_the_adapters_read_what_the_manifest_says(mixed: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = mixed
    for written in manifest["sessions"]:
        path = root / written["path"]
        if written["agent"] == "codex":
            summary = summarize_file(path)[0].summary
            assert CodexPaths.session_id_from_path(path) == written["session_id"]
        else:
            summary = fold_file(path).summary()
            assert not is_stray(summary)
        assert summary.session_id in (None, written["session_id"])
        assert summary.cwd == written["cwd"]
        assert summary.output_tokens == written["output_tokens"] > 0
        assert summary.first_prompt and summary.message_count >= 2
        assert path.stat().st_size == written["size"]


def test_torn_last_lines_and_the_same_bytes_every_time(mixed: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, manifest = mixed
    torn = [w for w in manifest["sessions"] if (root / w["path"]).read_bytes()[-1:] != b"\n"]
    assert manifest["stats"]["torn"] >= len(torn) >= 1
    again = tmp_path / "again"
    generate(again)
    assert digest(again / "codex") == digest(root / "codex")
    assert digest(again / "gemini") == digest(root / "gemini")
