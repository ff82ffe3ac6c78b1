"""Hostile files are skipped, never fatal (issue 9, item 4): FIFOs, symlink loops, folders
where files should be, and files we may not read.

These tests run as root in CI, and root ignores mode 000. Where a permission error matters it
is produced honestly in a spawned child that drops root's file capabilities first (as the
read-only store tests do), and in-process by injecting the ``PermissionError`` a user would
get into :mod:`threadline.safeio`'s ``open``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import install_transcripts
from tests.unit.test_store import _drop_root_file_privileges, make_meta, run_in_child
from threadline import safeio
from threadline.agents.claude.paths import ClaudePaths, encode_project_dir
from threadline.jsonl import JsonlTail, read_range
from threadline.store import ProjectStore

GOOD = "11111111-1111-4111-8111-111111111111"
HOSTILE = "99999999-9999-4999-8999-999999999999"


@pytest.fixture(autouse=True)
def fresh_warnings() -> None:
    safeio._WARNED.clear()


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_loop(path: Path) -> Path:
    partner = path.with_name(path.name + ".partner")
    os.symlink(partner.name, path)
    os.symlink(path.name, partner)
    return path


def make_folder(path: Path) -> Path:
    path.mkdir()
    (path / "inside").write_text("x")
    return path


HOSTILE_KINDS = [
    pytest.param(make_fifo, "a FIFO", id="fifo"),
    pytest.param(make_loop, "a symbolic link that loops", id="symlink-loop"),
    pytest.param(make_folder, "a directory", id="directory"),
]


def deny(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """``open`` of ``target`` fails as it would for a user on a mode-000 file."""
    real = safeio._open

    def fake(path: Any, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == str(target):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(safeio, "_open", fake)


def in_thread(fn: Any, timeout: float = 5.0) -> Any:
    """Run ``fn``; a blocking open (a FIFO opened the plain way) fails the test, not hangs it."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "blocked on a hostile file"
    return result[0]


# -- safeio ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "logged"), HOSTILE_KINDS)
def test_open_regular_refuses_and_logs_once(
    tmp_path: Path, make: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = make(tmp_path / f"{HOSTILE}.jsonl")
    with caplog.at_level(logging.WARNING, "threadline.safeio"):
        assert in_thread(lambda: safeio.open_regular(path)) is None
        assert safeio.open_regular(path) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and str(path) in lines[0] and logged in lines[0]


def test_open_regular_refuses_a_link_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    fd = safeio.open_regular(link)
    assert fd is not None
    os.close(fd)
    assert safeio.open_regular(link, follow_symlinks=False) is None
    assert safeio.open_regular(tmp_path / "missing") is None


def test_open_regular_turns_permission_errors_into_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.jsonl"
    path.write_text("{}\n")
    deny(monkeypatch, path)
    assert safeio.open_regular(path) is None


# -- transcripts ------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "logged"), HOSTILE_KINDS)
def test_a_tail_on_a_hostile_transcript_reads_nothing_and_never_blocks(tmp_path: Path, make: Any, logged: str) -> None:
    path = make(tmp_path / f"{HOSTILE}.jsonl")
    tail = JsonlTail(str(path))
    assert in_thread(tail.read_new) == ([], False)
    assert tail.identity is None
    assert in_thread(lambda: read_range(str(path), 0, 100)) == []


def test_a_transcript_replaced_by_a_fifo_stops_being_read(tmp_path: Path) -> None:
    path = tmp_path / f"{HOSTILE}.jsonl"
    path.write_text('{"a": 1}\n')
    tail = JsonlTail(str(path))
    assert [r.data for r in tail.read_new()[0]] == [{"a": 1}]
    path.unlink()
    make_fifo(path)
    assert in_thread(tail.read_new) == ([], False)


def test_a_mode_000_transcript_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"{HOSTILE}.jsonl"
    path.write_text('{"a": 1}\n')
    path.chmod(0)
    deny(monkeypatch, path)
    assert JsonlTail(str(path)).read_new() == ([], False)
    assert read_range(str(path), 0, 100) == []


@pytest.mark.parametrize(("make", "logged"), HOSTILE_KINDS)
def test_listing_transcripts_skips_hostile_entries(
    tmp_path: Path, project: Path, claude_home: Path, make: Any, logged: str
) -> None:
    installed = install_transcripts(claude_home, project, [GOOD])
    folder = installed[GOOD].parent
    make(folder / f"{HOSTILE}.jsonl")
    loop_folder = make_loop(claude_home / "projects" / "-looping-project")
    paths = ClaudePaths(claude_home)
    assert in_thread(paths.iter_transcripts) == [installed[GOOD]]
    assert in_thread(lambda: paths.iter_transcripts([folder, loop_folder])) == [installed[GOOD]]
    assert paths.find_transcript(GOOD) == installed[GOOD]
    assert paths.find_transcript(HOSTILE) is None


def test_listing_skips_an_unreadable_project_folder(
    project: Path, claude_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = install_transcripts(claude_home, project, [GOOD])
    locked = claude_home / "projects" / "-locked"
    locked.mkdir()
    real = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(locked))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert ClaudePaths(claude_home).iter_transcripts() == [installed[GOOD]]


def test_a_hostile_registry_file_is_skipped(claude_home: Path) -> None:
    sessions = claude_home / "sessions"
    sessions.mkdir()
    (sessions / "1.json").write_text(json.dumps({"pid": os.getpid(), "sessionId": GOOD}))
    make_fifo(sessions / "2.json")
    make_loop(sessions / "3.json")
    make_folder(sessions / "4.json")
    assert in_thread(ClaudePaths(claude_home).live_sessions) == {GOOD: os.getpid()}


# -- the store --------------------------------------------------------------------------------
def two_sessions(project: Path) -> tuple[ProjectStore, str, str]:
    store = ProjectStore(project)
    good, bad = make_meta(project), make_meta(project)
    store.write_metadata(good)
    store.write_metadata(bad)
    return store, good.session_id, bad.session_id


@pytest.mark.parametrize(("make", "logged"), HOSTILE_KINDS)
def test_a_hostile_metadata_file_is_set_aside_and_the_others_listed(
    project: Path, make: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, good, bad = two_sessions(project)
    path = store.workflows_dir / bad / "metadata.json"
    path.unlink()
    make(path)
    fresh = ProjectStore(project)
    with caplog.at_level(logging.WARNING):
        listed = in_thread(fresh.list_metadata)
    assert [m.session_id for m in listed] == [good]
    assert [e.session_id for e in fresh.read_index()] == [good]
    kept = [p.name for p in (store.workflows_dir / bad).iterdir() if p.name.startswith("metadata.json.corrupt-")]
    assert len(kept) == 1, "set aside, never deleted"
    assert not os.path.lexists(path)
    assert any("set aside" in r.getMessage() or "kept as" in r.getMessage() for r in caplog.records)
    with pytest.raises(KeyError):
        fresh.update_metadata(bad, lambda meta: None)


@pytest.mark.parametrize(("make", "logged"), HOSTILE_KINDS)
def test_a_hostile_index_is_set_aside_and_rebuilt(project: Path, make: Any, logged: str) -> None:
    store, good, bad = two_sessions(project)
    store.index_path.unlink()
    make(store.index_path)
    fresh = ProjectStore(project)
    assert sorted(e.session_id for e in in_thread(fresh.read_index)) == sorted([good, bad])
    assert json.loads(store.index_path.read_text())["sessions"]
    assert any(p.name.startswith("index.json.corrupt-") for p in store.workflows_dir.iterdir())


def test_a_mode_000_metadata_file_is_skipped_in_process(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, good, bad = two_sessions(project)
    path = store.workflows_dir / bad / "metadata.json"
    path.chmod(0)
    deny(monkeypatch, path)
    fresh = ProjectStore(project)
    assert [m.session_id for m in fresh.list_metadata()] == [good]
    assert path.exists(), "a file we may not read is not ours to move"
    assert fresh.read_metadata(bad) is None


def _list_as_ordinary_user(project: str) -> dict[str, Any]:
    if os.geteuid() == 0:
        try:
            _drop_root_file_privileges()
        except (OSError, AttributeError) as exc:
            return {"skip": f"cannot make root obey file permissions here: {exc}"}
    store = ProjectStore(Path(project))
    try:
        return {
            "listed": [m.session_id for m in store.list_metadata()],
            "index": sorted(e.session_id for e in store.read_index()),
            "active": store.heal_markers(lambda _: True),
        }
    except Exception as exc:  # the test reports what escaped
        return {"raised": repr(exc)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities when run as root")
def test_mode_000_store_files_are_skipped_by_an_ordinary_user(project: Path) -> None:
    """Real permission errors, not injected: metadata.json, index.json and a session folder at 000."""
    store, good, bad = two_sessions(project)
    third = make_meta(project)
    store.write_metadata(third)
    (store.workflows_dir / bad / "metadata.json").chmod(0)
    (store.workflows_dir / third.session_id).chmod(0)
    store.index_path.chmod(0)
    try:
        result = run_in_child(_list_as_ordinary_user, str(project))
    finally:
        (store.workflows_dir / third.session_id).chmod(0o700)
    if "skip" in result:
        pytest.skip(result["skip"])
    assert result == {"listed": [good], "index": [good], "active": None}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities when run as root")
def test_an_unreadable_store_lists_as_empty(project: Path) -> None:
    store, _, _ = two_sessions(project)
    store.workflows_dir.chmod(0)
    try:
        result = run_in_child(_list_as_ordinary_user, str(project))
    finally:
        store.workflows_dir.chmod(0o700)
    if "skip" in result:
        pytest.skip(result["skip"])
    assert result == {"listed": [], "index": [], "active": None}


def test_the_project_folder_name_is_the_clis(project: Path) -> None:
    """Guard for the helpers above: the hostile files sit where the CLI writes transcripts."""
    assert install_transcripts(project.parent / "home", project, [GOOD])[GOOD].parent.name == encode_project_dir(
        str(project)
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities when run as root")
def test_markers_of_a_read_only_store_are_left_not_fatal(project: Path) -> None:
    """Healing needs the markers' lock; a read-only store must still load, its marker kept."""
    store, good, _ = two_sessions(project)
    store.set_active(good)
    (store.workflows_dir / ".markers.lock").unlink()
    for path in [store.workflows_dir, store.root]:
        path.chmod(0o500)
    try:
        result = run_in_child(_list_as_ordinary_user, str(project))
    finally:
        for path in [store.root, store.workflows_dir]:
            path.chmod(0o700)
    if "skip" in result:
        pytest.skip(result["skip"])
    assert result["active"] == good and good in result["listed"]


def _read_transcripts_as_ordinary_user(claude_home: str) -> dict[str, Any]:
    if os.geteuid() == 0:
        try:
            _drop_root_file_privileges()
        except (OSError, AttributeError) as exc:
            return {"skip": f"cannot make root obey file permissions here: {exc}"}
    paths = ClaudePaths(Path(claude_home))
    try:
        found = sorted(str(p) for p in paths.iter_transcripts())
        read = {p: len(JsonlTail(p).read_new()[0]) for p in found}
        return {"read": read}
    except Exception as exc:
        return {"raised": repr(exc)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities when run as root")
def test_a_mode_000_transcript_is_skipped_by_an_ordinary_user(project: Path, claude_home: Path) -> None:
    """Real EACCES, not injected: the good transcript is read, the unreadable one yields nothing."""
    installed = install_transcripts(claude_home, project, [GOOD])
    locked = installed[GOOD].parent / f"{HOSTILE}.jsonl"
    locked.write_text(installed[GOOD].read_text())
    locked.chmod(0)
    result = run_in_child(_read_transcripts_as_ordinary_user, str(claude_home))
    if "skip" in result:
        pytest.skip(result["skip"])
    read = result["read"]
    assert read[str(locked)] == 0 and read[str(installed[GOOD])] > 0
