"""The scale benchmark's corpus generator writes what Claude Code writes, the same way every time."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from benchmarks import corpus

from threadline.agents.claude.paths import encode_project_dir


def read_corpus(root: Path) -> dict[Path, tuple[list[dict[str, Any]], bytes | None]]:
    """Every transcript → its parsed records and its unterminated last line (``None`` if it ends in a newline)."""
    out = {}
    for folder in (root / "projects").iterdir():
        for path in folder.iterdir():
            data = path.read_bytes()
            lines = data.split(b"\n")
            torn = lines.pop() or None
            out[path] = ([orjson.loads(line) for line in lines], torn)
    return out


def digest(root: Path) -> str:
    hasher = hashlib.sha256()
    for path in sorted((root / "projects").rglob("*.jsonl")):
        hasher.update(str(path.relative_to(root)).encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("corpus") / "claude"
    manifest = corpus.generate(root, sessions=20, total_mb=5, big_mb=[1], seed=3, workers=2, torn_fraction=0.1)
    return root, manifest


def test_every_line_parses_and_names_its_session(tiny: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = tiny
    files = read_corpus(root)
    assert len(files) == manifest["stats"]["files"] == 20
    for path, (records, _) in files.items():
        assert path.suffix == ".jsonl" and len(path.stem) == 36
        assert {r["sessionId"] for r in records if "sessionId" in r} == {path.stem}
    assert Counter(r["version"] for records, _ in files.values() for r in records if "version" in r).keys() == {
        corpus.OLD_VERSION,
        corpus.NEW_VERSION,
    }


def test_torn_last_lines_where_asked(tiny: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = tiny
    torn = [t for _, t in read_corpus(root).values() if t is not None]
    assert len(torn) == manifest["stats"]["torn"] == 2  # 10 % of 20
    for line in torn:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(line)


def test_cwd_matches_folder_encoding_and_the_awkward_folders_are_there(tiny: tuple[Path, dict[str, Any]]) -> None:
    root, _ = tiny
    cwds_by_folder: dict[str, set[str]] = {}
    for path, (records, _) in read_corpus(root).items():
        cwds = {r["cwd"] for r in records if "cwd" in r}
        assert len(cwds) == 1
        assert path.parent.name == encode_project_dir(cwds.pop())
        cwds_by_folder.setdefault(path.parent.name, set()).update(r["cwd"] for r in records if "cwd" in r)
    assert cwds_by_folder["-home-dev-src-my-app"] == {"/home/dev/src/my-app", "/home/dev/src/my_app"}
    long = [name for name in cwds_by_folder if len(name) > 200]
    assert len(long) == 1 and long[0][:200] + "-" == long[0][:201]  # the hash suffix
    every_cwd = set().union(*cwds_by_folder.values())
    assert any(not cwd.isascii() for cwd in every_cwd) and any(" " in cwd for cwd in every_cwd)


def test_conversation_shapes(tiny: tuple[Path, dict[str, Any]]) -> None:
    root, _ = tiny
    types: Counter[str] = Counter()
    for records, _ in read_corpus(root).values():
        seen: set[str] = set()
        by_message: dict[str, tuple[str, bytes]] = {}
        open_tools: set[str] = set()
        for record in records:
            kind = record["type"]
            types[kind if kind != "attachment" else record["attachment"]["type"]] += 1
            if "parentUuid" in record:
                assert record["parentUuid"] is None or record["parentUuid"] in seen
                seen.add(record["uuid"])
            if kind == "assistant" and not record.get("isApiErrorMessage"):
                message = record["message"]
                assert len(message["content"]) == 1  # one record per content block
                key = (record["requestId"], orjson.dumps(message["usage"]))
                assert by_message.setdefault(message["id"], key) == key  # the blocks share requestId and usage
                block = message["content"][0]
                types[block["type"]] += 1
                if block["type"] == "tool_use":
                    open_tools.add(block["id"])
            if kind == "user" and isinstance(record["message"]["content"], list):
                for block in record["message"]["content"]:
                    open_tools.remove(block["tool_use_id"])  # each result answers one earlier tool_use
        assert not open_tools
    for kind in ("thinking", "tool_use", "prompt_snapshot", "api-request-shape", "skill_listing", "last-prompt"):
        assert types[kind] > 0, kind
    sizes = {
        records[0]["sessionId"]: os.path.getsize(path) for path, (records, _) in read_corpus(root).items() if records
    }
    new = [path for path, (records, _) in read_corpus(root).items() if records[2].get("version") == corpus.NEW_VERSION]
    assert all(os.path.getsize(path) > 160_000 for path in new)  # 2.1.329's fixed per-session records
    assert max(sizes.values()) >= 1_000_000  # the one big session asked for


def test_same_arguments_same_bytes_whatever_the_process_count(
    tiny: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, _ = tiny
    again = tmp_path / "again"
    corpus.generate(again, sessions=20, total_mb=5, big_mb=[1], seed=3, workers=1, torn_fraction=0.1)
    assert digest(again) == digest(root)
