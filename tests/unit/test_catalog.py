"""The session catalog: derived, incremental, shared by processes, and exact."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import TESTS
from threadline import indexer
from threadline.agents.base import AgentCommand
from threadline.agents.claude import ClaudeAdapter
from threadline.agents.claude.paths import encode_project_dir
from threadline.agents.claude.records import build_messages
from threadline.catalog import SCHEMA_VERSION, Catalog
from threadline.indexer import Realpaths, index_all, index_file, scan
from threadline.jsonl import read_range
from threadline.protocol import Message

SAMPLE_DIRS = [TESTS / "data" / "claude" / v / "transcripts" for v in ("2.1.197", "2.1.329")]
SAMPLES = sorted(p for d in SAMPLE_DIRS for p in d.glob("*/*.jsonl"))
PROJECT = "/home/dev/project"


def home_with(tmp_path: Path, sources: list[Path], project: str = PROJECT) -> Path:
    home = tmp_path / "claude-home"
    folder = home / "projects" / encode_project_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copy(source, folder / source.name)
    return home


def index(catalog: Catalog, home: Path) -> ClaudeAdapter:
    adapter = ClaudeAdapter(home, AgentCommand(["claude"]))
    work, gone = scan(catalog, [adapter])
    index_all(catalog, {"claude": adapter}, work)
    for path in gone:
        catalog.remove_file(path)
    return adapter


def page_all(catalog: Catalog) -> list[tuple[str, str, int]]:
    rows = catalog.page(project=None, after=None, limit=0, statuses=None, agents=None, live=[])
    out = []
    for row in rows:
        file = catalog.file_by_id(row.file_id) if row.file_id is not None else None
        out.append((row.session_id, row.title, file.message_count if file else -1))
    return out


def catalog_messages(catalog: Catalog, adapter: ClaudeAdapter, path: Path, page: int) -> list[Message]:
    """Every Message of a file as the read side serves it: one byte-range page at a time."""
    file = catalog.file(str(path))
    assert file is not None
    messages: list[Message] = []
    offsets = catalog.offsets_of(file.id, file.message_count)
    for start in range(0, file.message_count, page):
        messages += adapter.read_messages(path, offsets, file.parsed_to, start, page)
    return messages


def full_parse(path: Path) -> list[Message]:
    return build_messages(read_range(str(path), 0, path.stat().st_size))


# -- equality with a full parse ----------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parents[2].name}/{p.stem[:8]}")
def test_catalog_serves_what_a_full_parse_finds(tmp_path: Path, sample: Path, monkeypatch) -> None:
    home = home_with(tmp_path, [sample])
    path = next((home / "projects").glob("*/*.jsonl"))
    whole = Catalog(tmp_path / "whole")
    adapter = index(whole, home)
    # The same file read in small steps, saved after every few hundred bytes.
    monkeypatch.setattr(indexer, "SAVE_EVERY_BYTES", 300)
    stepped = Catalog(tmp_path / "stepped")
    index(stepped, home)
    expected = full_parse(path)
    for catalog in (whole, stepped):
        file = catalog.file(str(path))
        assert file is not None and file.message_count == len(expected)
        for page in (1, 3, 1000):
            assert catalog_messages(catalog, adapter, path, page) == expected
    assert whole.file(str(path)).summary == stepped.file(str(path)).summary  # type: ignore[union-attr]


def test_summaries_of_the_samples(tmp_path: Path) -> None:
    home = home_with(tmp_path, SAMPLES)
    catalog = Catalog(tmp_path / "cache")
    index(catalog, home)
    listed = {sid: (title, count) for sid, title, count in page_all(catalog)}
    assert listed["33333333-3333-4333-8333-333333333333"][1] == 4
    assert listed["11111111-1111-4111-8111-111111111111"][0] == "hello there"


# -- incremental reading -------------------------------------------------------------------------
class CountingAdapter(ClaudeAdapter):
    """Counts the records folded, to show appended bytes are parsed once."""

    folded = 0

    def summarizer(self, path, state):  # type: ignore[no-untyped-def]
        inner = super().summarizer(path, state)
        original = inner.add

        def add(data, offset):  # type: ignore[no-untyped-def]
            CountingAdapter.folded += 1
            original(data, offset)

        inner.add = add  # type: ignore[method-assign]
        return inner


def test_appended_bytes_are_parsed_once_and_a_torn_line_waits(tmp_path: Path) -> None:
    source = next(p for p in SAMPLES if p.stem.startswith("1111") and "2.1.197" in str(p))
    lines = source.read_bytes().splitlines(keepends=True)
    home = home_with(tmp_path, [])
    path = home / "projects" / encode_project_dir(PROJECT) / source.name
    path.write_bytes(b"".join(lines[:3]) + lines[3][:20])  # a torn last line
    catalog = Catalog(tmp_path / "cache")
    adapter = CountingAdapter(home, AgentCommand(["claude"]))
    CountingAdapter.folded = 0
    assert index_file(catalog, adapter, str(path), Realpaths()).status == "indexed"
    assert CountingAdapter.folded == 3
    assert index_file(catalog, adapter, str(path), Realpaths()).status == "unchanged"
    assert CountingAdapter.folded == 3
    with open(path, "ab") as handle:
        handle.write(lines[3][20:] + b"".join(lines[4:]))
    assert index_file(catalog, adapter, str(path), Realpaths()).status == "indexed"
    assert CountingAdapter.folded == len(lines)  # every record once, the torn one when complete
    assert catalog_messages(catalog, adapter, path, 2) == full_parse(path)


def test_a_truncated_or_replaced_transcript_is_read_again(tmp_path: Path) -> None:
    source = next(p for p in SAMPLES if p.stem.startswith("3333") and "2.1.197" in str(p))
    home = home_with(tmp_path, [source])
    path = next((home / "projects").glob("*/*.jsonl"))
    catalog = Catalog(tmp_path / "cache")
    adapter = index(catalog, home)
    before = catalog.file(str(path))
    assert before is not None and before.message_count == 4
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]))  # truncated in place
    outcome = index_file(catalog, adapter, str(path), Realpaths())
    assert outcome.reset and catalog.file(str(path)).message_count == len(full_parse(path))  # type: ignore[union-attr]
    replacement = path.with_suffix(".new")
    replacement.write_bytes(b"".join(lines))
    os.replace(replacement, path)  # a new inode, longer than before
    outcome = index_file(catalog, adapter, str(path), Realpaths())
    assert outcome.reset and outcome.touched_from == 0
    assert catalog_messages(catalog, adapter, path, 3) == full_parse(path)


# -- a derived database -----------------------------------------------------------------------------
def test_rebuilt_after_deletion_corruption_and_a_schema_change(tmp_path: Path) -> None:
    home = home_with(tmp_path, SAMPLES)
    cache = tmp_path / "cache"
    catalog = Catalog(cache)
    index(catalog, home)
    expected = page_all(catalog)
    assert len(expected) == len({p.stem for p in SAMPLES})
    catalog.close()

    for name in os.listdir(cache):
        os.remove(cache / name)
    again = Catalog(cache)
    index(again, home)
    assert page_all(again) == expected
    again.close()

    (cache / "catalog.sqlite3").write_bytes(b"this is not a database" * 100)
    for extra in ("catalog.sqlite3-wal", "catalog.sqlite3-shm"):
        with_suffix = cache / extra
        if with_suffix.exists():
            with_suffix.unlink()
    corrupt = Catalog(cache)
    index(corrupt, home)
    assert page_all(corrupt) == expected
    aside = [p.name for p in cache.iterdir() if ".corrupt-" in p.name]
    assert aside and (cache / aside[0]).read_bytes().startswith(b"this is not a database")  # kept, not deleted
    corrupt.close()

    conn = sqlite3.connect(cache / "catalog.sqlite3")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    bumped = Catalog(cache)
    assert bumped.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert page_all(bumped) == []  # rebuilt empty: nothing stale survives a schema change
    index(bumped, home)
    assert page_all(bumped) == expected
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert ((cache / "catalog.sqlite3").stat().st_mode & 0o777) == 0o600


def test_a_deleted_transcript_leaves_the_catalog(tmp_path: Path) -> None:
    home = home_with(tmp_path, SAMPLES[:3])
    catalog = Catalog(tmp_path / "cache")
    index(catalog, home)
    gone = next((home / "projects").glob("*/*.jsonl"))
    gone.unlink()
    index(catalog, home)
    assert gone.stem not in {sid for sid, _, _ in page_all(catalog)}
    assert catalog.session(gone.stem) is None


# -- several processes ---------------------------------------------------------------------------
WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from threadline import indexer
    from threadline.agents.base import AgentCommand
    from threadline.agents.claude import ClaudeAdapter
    from threadline.catalog import Catalog
    indexer.SAVE_EVERY_BYTES = int(sys.argv[3])
    catalog = Catalog(Path(sys.argv[1]))
    adapter = ClaudeAdapter(Path(sys.argv[2]), AgentCommand(["claude"]))
    work, _ = indexer.scan(catalog, [adapter])
    print("scanned", len(work), flush=True)
    indexer.index_all(catalog, {"claude": adapter}, work, workers=1)
    print("done", flush=True)
    """
)


def big_corpus(tmp_path: Path, sessions: int, repeat: int) -> Path:
    """Sessions made of the samples' records, repeated so that indexing takes a while."""
    home = tmp_path / "claude-home"
    folder = home / "projects" / encode_project_dir(PROJECT)
    folder.mkdir(parents=True)
    rng = random.Random(7)
    for n in range(sessions):
        source = rng.choice(SAMPLES)
        session_id = f"{n:08d}-0000-4000-8000-000000000000"
        body = source.read_text().replace(source.stem, session_id)
        (folder / f"{session_id}.jsonl").write_text(body * repeat)
    return home


def worker(cache: Path, home: Path, save_every: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(cache), str(home), str(save_every)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_indexing_one_tree_end_with_one_row_per_session(tmp_path: Path) -> None:
    home = big_corpus(tmp_path, 40, 20)
    cache = tmp_path / "cache"
    first, second = worker(cache, home, 4096), worker(cache, home, 4096)
    assert first.wait(120) == 0 and second.wait(120) == 0
    catalog = Catalog(cache)
    adapter = ClaudeAdapter(home, AgentCommand(["claude"]))
    rows = catalog.conn.execute("SELECT session_id, count(*) FROM files GROUP BY session_id").fetchall()
    assert len(rows) == 40 and all(count == 1 for _, count in rows)
    for path in sorted((home / "projects").glob("*/*.jsonl"))[:8]:
        assert catalog_messages(catalog, adapter, path, 50) == full_parse(path)


def test_a_kill_in_the_middle_of_indexing_then_a_restart(tmp_path: Path) -> None:
    home = big_corpus(tmp_path, 30, 60)
    cache = tmp_path / "cache"
    victim = worker(cache, home, 2048)
    assert victim.stdout is not None and victim.stdout.readline().startswith("scanned")
    catalog = Catalog(cache)
    while catalog.conn.execute("SELECT count(*) FROM files").fetchone()[0] < 3:
        pass  # until some files are (partly) indexed
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    half = catalog.conn.execute("SELECT count(*) FROM files").fetchone()[0]
    assert half > 0
    index(catalog, home)
    adapter = ClaudeAdapter(home, AgentCommand(["claude"]))
    rows = catalog.conn.execute("SELECT session_id, count(*) FROM files GROUP BY session_id").fetchall()
    assert len(rows) == 30 and all(count == 1 for _, count in rows)
    for path in sorted((home / "projects").glob("*/*.jsonl")):
        assert catalog_messages(catalog, adapter, path, 100) == full_parse(path), path.name
    sessions = catalog.conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    assert sessions == 30


# -- search ---------------------------------------------------------------------------------------
WORDS = ["alpha", "Beta", "gamma", "débogage", "STRASSE", "straße", "naïve", "x", "tool", "reproduce", "ǅemal"]


def generated(tmp_path: Path, sessions: int) -> Path:
    """Sessions with random texts in every kind of block the search covers."""
    rng = random.Random(11)
    home = tmp_path / "claude-home"
    folder = home / "projects" / encode_project_dir(PROJECT)
    folder.mkdir(parents=True)
    for n in range(sessions):
        session_id = f"{n:08d}-1111-4111-8111-111111111111"

        def text() -> str:
            return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))

        base = {"sessionId": session_id, "cwd": PROJECT, "timestamp": f"2026-01-01T00:{n % 60:02d}:00Z"}
        records = [{**base, "type": "user", "uuid": f"u{n}", "message": {"role": "user", "content": text()}}]
        kind = rng.choice(["text", "thinking", "tool"])
        content: list[dict] = []
        if kind == "text":
            content.append({"type": "text", "text": text()})
        elif kind == "thinking":
            content.append({"type": "thinking", "thinking": text()})
        else:
            content.append({"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": text()}})
        records.append(
            {
                **base,
                "type": "assistant",
                "uuid": f"a{n}",
                "message": {"id": f"m{n}", "role": "assistant", "content": content, "usage": {}},
            }
        )
        if kind == "tool":
            records.append(
                {
                    **base,
                    "type": "user",
                    "uuid": f"r{n}",
                    "message": {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": text()}],
                    },
                }
            )
        (folder / f"{session_id}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return home


def scan_all(home: Path, query: str) -> set[str]:
    """The ground truth: every block text and title of every file, scanned."""
    needle = query.casefold()
    found = set()
    for path in (home / "projects").glob("*/*.jsonl"):
        for message in full_parse(path):
            for block in message.content:
                text = getattr(block, "text", None)
                if block.type == "tool_use":
                    text = json.dumps(block.input, ensure_ascii=False, separators=(",", ":"))  # type: ignore[union-attr]
                if isinstance(text, str) and needle in text.casefold():
                    found.add(path.stem)
    return found


@pytest.mark.parametrize("text_index", ["as-it-goes", "left-for-later", "caught-up"])
@pytest.mark.parametrize(
    "query", ["alpha", "ALPHA", "bet", "a b", "débogage", "strasse", "naïve", "x", "ǆ", "command", "nothing-here"]
)
def test_query_finds_exactly_what_a_full_scan_finds(
    tmp_path: Path, query: str, text_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threadline.protocol import SessionListParams
    from threadline.reading import SessionReader

    home = generated(tmp_path, 120)
    catalog = Catalog(tmp_path / "cache")
    if text_index != "as-it-goes":
        monkeypatch.setattr(indexer, "PARALLEL_BYTES", 0)  # a bulk indexing: no search text yet
    adapter = ClaudeAdapter(home, AgentCommand(["claude"]))
    work, _ = scan(catalog, [adapter])
    index_all(catalog, {"claude": adapter}, work, workers=1)
    backlog = len(catalog.search_backlog())
    assert backlog == (0 if text_index == "as-it-goes" else 120)
    if text_index == "caught-up":
        assert indexer.index_search_backlog(catalog, {"claude": adapter}, workers=1) == 120
        assert catalog.search_backlog() == []
    reader = SessionReader(catalog, {"claude": adapter}, dict, lambda project: None, lambda sid: None)
    found: list[str] = []
    cursor = None
    while True:
        result = reader.page(SessionListParams(query=query, limit=7, cursor=cursor), None)
        found += [s.session_id for s in result.sessions]
        for session in result.sessions:
            assert session.snippet is not None and query.casefold() in session.snippet.casefold()
        cursor = result.next_cursor
        if cursor is None:
            break
    assert len(found) == len(set(found))
    assert set(found) == scan_all(home, query)


@pytest.mark.parametrize(
    ("text", "needle", "provably_absent"),
    [
        ("Hello World", "world", False),  # there, in another case
        ("Hello World", "planet", True),
        ("a \u212a Kelvin sign", "k", False),  # casefolds to "k": non-ASCII, never ruled out
        ("path C:\\users", "users", False),
        ('quote " inside', '" inside', False),  # a needle JSON escapes is never ruled out
        ("tab\there", "here", False),
        ("Straße", "strasse", False),  # "ß" folds to "ss": a file holding it is never ruled out
        ("café au lait", "tea", True),  # other non-ASCII text does not stop the proof
    ],
)
def test_raw_bytes_rule_out_only_what_the_text_cannot_hold(
    tmp_path: Path, text: str, needle: str, provably_absent: bool
) -> None:
    from threadline.reading import absent_from_bytes

    for ensure_ascii in (True, False):
        path = tmp_path / f"t{ensure_ascii}.jsonl"
        path.write_text(json.dumps({"text": text}, ensure_ascii=ensure_ascii) + "\n", encoding="utf-8")
        found = needle.casefold() in text.casefold()
        absent = absent_from_bytes(str(path), path.stat().st_size, needle.casefold())
        assert not (found and absent), (text, needle)
        if not found and not ensure_ascii:
            assert absent == provably_absent


def test_the_characters_that_fold_to_ascii_are_all_known() -> None:
    from threadline.reading import FOLDS_TO_ASCII

    found = {
        chr(c)
        for c in range(128, 0x110000)
        if not 0xD800 <= c <= 0xDFFF and any(ord(x) < 128 for x in chr(c).casefold())
    }
    assert found == set(FOLDS_TO_ASCII)


def test_lost_indexing_workers_leave_the_work_to_this_process(tmp_path: Path) -> None:
    """A program that cannot spawn workers (no ``__main__`` guard) still gets its catalog,
    with one warning instead of a traceback per batch."""
    home = big_corpus(tmp_path, 40, 2)
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from threadline import indexer
            from threadline.agents.base import AgentCommand
            from threadline.agents.claude import ClaudeAdapter
            from threadline.catalog import Catalog
            indexer.PARALLEL_BYTES = 0
            indexer.FIRST_BYTES = 0
            indexer.BATCH_FILES = 4
            catalog = Catalog(Path({str(tmp_path / "cache")!r}))
            adapter = ClaudeAdapter(Path({str(home)!r}), AgentCommand(["claude"]))
            work, _ = indexer.scan(catalog, [adapter])
            indexer.index_all(catalog, {{"claude": adapter}}, work, workers=2)
            print(catalog.conn.execute("SELECT count(*) FROM files").fetchone()[0])
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "40"
    assert done.stderr.count("indexing workers were lost") == 1
    assert "an indexing worker failed" not in done.stderr
