"""The project store (protocol §5), tested by what a user would find on disk.

Several tests run real processes (spawned, so each imports the store afresh): concurrent
editor windows, a disk that fills mid-write, and a read-only project as an ordinary user.
"""

from __future__ import annotations

import builtins
import io
import json
import logging
import multiprocessing
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from threadline import store as store_module
from threadline.errors import StoreError
from threadline.protocol import new_session_id
from threadline.store import IndexEntry, ProjectStore, TurnRecord, WorkflowMetadata, utc_now
from threadline.store import fs as store_fs
from threadline.store import layout as store_layout

SPAWN = multiprocessing.get_context("spawn")
OTHER_ID = "00000000-0000-4000-8000-000000000000"


# -- helpers ----------------------------------------------------------------------------
def make_meta(project: Path, session_id: str | None = None, **changes: Any) -> WorkflowMetadata:
    values: dict[str, Any] = {
        "session_id": session_id or new_session_id(),
        "cwd": str(project),
        "status": "running",
        "title": "Fix the flaky test",
        "turns": [TurnRecord(prompt="Fix the flaky test")],
    }
    values.update(changes)
    return WorkflowMetadata(**values)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    if not root.exists():
        return {}
    return {str(path.relative_to(root)): None if path.is_dir() else path.read_bytes() for path in root.rglob("*")}


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.tmp"))


def marker_names(store: ProjectStore) -> list[str]:
    return sorted(name for name in os.listdir(store.workflows_dir) if name.startswith(".active-"))


def expected_error(store: ProjectStore, reason: str) -> str:
    return f"Cannot write the Threadline store in {store.root}: {reason}."


# -- code run in child processes (module level, so a spawned child can import it) -------
def _appending(prompt: str) -> Callable[[WorkflowMetadata], None]:
    def append(meta: WorkflowMetadata) -> None:
        meta.turns.append(TurnRecord(prompt=prompt))

    return append


def _write_own_session(project: str, barrier: Any) -> None:
    store = ProjectStore(Path(project))
    meta = make_meta(Path(project))
    barrier.wait(timeout=60)
    store.write_metadata(meta)
    for n in range(2):
        store.update_metadata(meta.session_id, _appending(f"again {n}"))


def _append_turns(project: str, session_id: str, tag: str, count: int, barrier: Any) -> None:
    store = ProjectStore(Path(project))
    barrier.wait(timeout=60)
    for n in range(count):
        store.update_metadata(session_id, _appending(f"{tag}{n}"))


def _write_with_file_size_limit(project: str, session_id: str, limit: int) -> tuple[str, str] | None:
    """Make the disk 'full' for this process only: files may not grow beyond ``limit`` bytes."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    store = ProjectStore(Path(project))
    meta = store.read_metadata(session_id)
    assert meta is not None
    meta.title = "x" * (limit * 4)
    try:
        store.write_metadata(meta)
    except StoreError as exc:
        return exc.message, exc.data["path"]
    return None


def _drop_root_file_privileges() -> None:
    """Make root obey file permissions like any user: drop CAP_DAC_OVERRIDE/READ_SEARCH (Linux)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    libc = ctypes.CDLL(None, use_errno=True)
    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    keep = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF
    data[0].effective &= keep
    data[0].permitted &= keep
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _as_ordinary_user(project: str, session_id: str) -> dict[str, Any]:
    """In a read-only project: what listing shows, and what a write reports."""
    if os.geteuid() == 0:
        try:
            _drop_root_file_privileges()
        except (OSError, AttributeError) as exc:
            return {"skip": f"cannot make root obey file permissions here: {exc}"}
    try:
        fd, probe = tempfile.mkstemp(dir=project)  # must fail, or the test proves nothing
    except PermissionError:
        pass
    else:
        os.close(fd)
        os.unlink(probe)
        return {"skip": "file permissions are not enforced for this process"}
    store = ProjectStore(Path(project))
    result: dict[str, Any] = {
        "index": [entry.session_id for entry in store.read_index()],
        "listed": [meta.session_id for meta in store.list_metadata()],
    }
    meta = store.read_metadata(session_id) or make_meta(Path(project), session_id)
    meta.title = "a new title"
    try:
        store.write_metadata(meta)
    except StoreError as exc:
        result["error"] = (exc.message, exc.data["path"])
    return result


def run_in_child(fn: Callable[..., Any], *args: Any) -> Any:
    with SPAWN.Pool(1) as pool:
        return pool.apply(fn, args)


@contextmanager
def no_file_access(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to touch the file system fails the test loudly."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the file system was touched: {args!r}")

    with monkeypatch.context() as patch:
        for name in ("open", "stat", "lstat", "scandir", "listdir", "mkdir", "replace", "rename", "remove"):
            patch.setattr(os, name, forbidden)
        for name in ("unlink", "utime", "rmdir"):
            patch.setattr(os, name, forbidden)
        patch.setattr(builtins, "open", forbidden)
        patch.setattr(io, "open", forbidden)
        patch.setattr(store_fs, "FileLock", forbidden)
        patch.setattr(store_layout, "lock_for", forbidden)
        yield


# -- basics -----------------------------------------------------------------------------
def test_utc_now_is_iso_utc_with_milliseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_now())


def test_metadata_round_trips_through_disk(tmp_path: Path) -> None:
    meta = make_meta(
        tmp_path,
        skill="review",
        transcript_path="/home/u/.claude/projects/p/x.jsonl",
        pid=4242,
        last_error="The agent exited with code 1.",
        parent_session_id=new_session_id(),
        turns=[
            TurnRecord(prompt="one", ended_at=utc_now(), exit_code=0, status="completed", cost_usd=0.25),
            TurnRecord(prompt="two"),
        ],
    )
    ProjectStore(tmp_path).write_metadata(meta)

    fresh = ProjectStore(tmp_path)  # as another process would see it
    assert fresh.read_metadata(meta.session_id) == meta
    assert fresh.list_metadata() == [meta]
    assert fresh.read_index() == [IndexEntry.from_metadata(meta)]
    assert fresh.session_ids() == {meta.session_id}


def test_files_on_disk_have_the_documented_camel_case_keys(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)

    on_disk = json.loads((tmp_path / ".threadline/workflows" / meta.session_id / "metadata.json").read_text())
    assert list(on_disk) == [
        "version", "sessionId", "agent", "cwd", "skill", "title", "status", "createdAt", "updatedAt",
        "transcriptPath", "pid", "lastError", "parentSessionId", "turns",
    ]  # fmt: skip
    assert on_disk["version"] == 1
    assert on_disk["sessionId"] == meta.session_id
    assert list(on_disk["turns"][0]) == ["prompt", "startedAt", "endedAt", "exitCode", "status", "costUsd"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", on_disk["createdAt"])

    index = json.loads((tmp_path / ".threadline/workflows/index.json").read_text())
    assert list(index) == ["version", "sessions"]
    assert index["version"] == 1
    assert index["sessions"] == [
        {
            "sessionId": meta.session_id,
            "agent": "claude",
            "skill": None,
            "status": "running",
            "title": "Fix the flaky test",
            "createdAt": meta.created_at,
            "updatedAt": meta.updated_at,
        }
    ]


def test_unknown_keys_on_disk_are_ignored_not_fatal(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    path = store.workflows_dir / meta.session_id / "metadata.json"
    data = json.loads(path.read_text())
    data["addedByANewerVersion"] = {"x": 1}
    data["turns"][0]["alsoNew"] = True
    path.write_text(json.dumps(data))

    assert store.read_metadata(meta.session_id) == meta
    assert path.exists()  # not mistaken for a corrupt file


def test_gitignore_keeps_the_store_out_of_git(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    store.ensure()
    store.ensure()  # idempotent
    assert (tmp_path / ".threadline/.gitignore").read_text() == "*\n"
    assert (tmp_path / ".threadline/workflows").is_dir()


def test_a_users_own_gitignore_in_the_store_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".threadline").mkdir()
    (tmp_path / ".threadline/.gitignore").write_text("*\n!notes.md\n")
    ProjectStore(tmp_path).ensure()
    assert (tmp_path / ".threadline/.gitignore").read_text() == "*\n!notes.md\n"


def test_reading_a_project_without_a_store_creates_nothing(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    assert store.read_index() == []
    assert store.list_metadata() == []
    assert store.session_ids() == set()
    assert store.read_metadata(new_session_id()) is None
    assert store.active_session_id() is None
    assert store.heal_markers(lambda _id: True) is None
    store.set_active(None)
    assert list(tmp_path.iterdir()) == []


# -- atomicity and failures -------------------------------------------------------------
@pytest.mark.parametrize("crashing", ["replace", "fsync"])
def test_a_crash_mid_write_keeps_the_old_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crashing: str
) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    path = store.workflows_dir / meta.session_id / "metadata.json"
    before = snapshot(tmp_path)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, crashing, crash)
    changed = meta.model_copy(update={"title": "never lands"})
    with pytest.raises(StoreError) as caught:
        store.write_metadata(changed)
    monkeypatch.undo()

    assert caught.value.message == expected_error(store, "Input/output error")
    assert caught.value.data == {"path": str(store.root)}
    assert snapshot(tmp_path) == before
    assert json.loads(path.read_text())["title"] == "Fix the flaky test"
    assert temp_files(tmp_path) == []
    assert store.read_metadata(meta.session_id) == meta


def test_a_new_session_that_cannot_be_written_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ProjectStore(tmp_path)
    store.ensure()
    before = snapshot(tmp_path)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError, match="No space left on device"):
        store.write_metadata(make_meta(tmp_path))
    monkeypatch.undo()

    assert snapshot(tmp_path) == before
    assert store.session_ids() == set()


def test_a_store_that_cannot_be_finished_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)  # the .gitignore cannot land
    with pytest.raises(StoreError, match="No space left on device"):
        ProjectStore(tmp_path).ensure()
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE/SIGXFSZ semantics of Linux")
def test_a_disk_that_fills_mid_write_keeps_the_old_metadata(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    before = snapshot(tmp_path)

    error = run_in_child(_write_with_file_size_limit, str(tmp_path), meta.session_id, 4096)

    assert error == (expected_error(store, "File too large"), str(store.root))
    assert snapshot(tmp_path) == before
    assert temp_files(tmp_path) == []
    assert store.read_metadata(meta.session_id) == meta


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """chmod a tree read-only, and make it writable again afterwards so it can be removed."""
    made: list[Path] = []

    def make(root: Path) -> None:
        for path in [*sorted(root.rglob("*"), reverse=True), root]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        made.append(root)

    yield make
    for root in made:
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities when run as root")
def test_a_read_only_project_is_refused_and_left_untouched(tmp_path: Path, read_only: Callable[[Path], None]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    read_only(project)
    store = ProjectStore(project)

    result = run_in_child(_as_ordinary_user, str(project), new_session_id())

    if "skip" in result:
        pytest.skip(result["skip"])
    assert result["error"] == (expected_error(store, "Permission denied"), str(store.root))
    assert result["index"] == result["listed"] == []
    assert list(project.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities when run as root")
def test_a_read_only_store_can_still_be_listed_but_not_written(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    store.index_path.unlink()  # listing must rebuild it, in memory since it cannot be written
    read_only(tmp_path)
    before = snapshot(tmp_path)

    result = run_in_child(_as_ordinary_user, str(tmp_path), meta.session_id)

    if "skip" in result:
        pytest.skip(result["skip"])
    assert result["index"] == result["listed"] == [meta.session_id]
    assert result["error"] == (expected_error(store, "Permission denied"), str(store.root))
    assert snapshot(tmp_path) == before


def test_a_file_where_the_store_should_be_is_reported_and_kept(tmp_path: Path) -> None:
    squatter = tmp_path / ".threadline"
    squatter.write_bytes(b"the user's own notes\n")
    store = ProjectStore(tmp_path)

    with pytest.raises(StoreError) as caught:
        store.write_metadata(make_meta(tmp_path))

    assert caught.value.message == expected_error(store, "Not a directory")
    assert caught.value.data == {"path": str(squatter)}
    assert squatter.read_bytes() == b"the user's own notes\n"
    assert list(tmp_path.iterdir()) == [squatter]
    assert store.read_index() == []


def test_a_project_path_through_a_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = ProjectStore(tmp_path / "file" / "project")
    with pytest.raises(StoreError) as caught:
        store.set_active(new_session_id())
    assert caught.value.message == expected_error(store, "Not a directory")
    assert caught.value.data == {"path": str(store.root)}
    assert snapshot(tmp_path) == {"file": b"x"}


# -- the derived index ------------------------------------------------------------------
def test_a_missing_index_is_rebuilt(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    older = make_meta(tmp_path, updated_at="2026-01-01T00:00:00.000Z")
    newer = make_meta(tmp_path, updated_at="2026-02-01T00:00:00.000Z")
    store.write_metadata(older)
    store.write_metadata(newer)
    store.index_path.unlink()

    expected = [IndexEntry.from_metadata(newer), IndexEntry.from_metadata(older)]
    assert store.read_index() == expected
    on_disk = json.loads(store.index_path.read_text())
    assert [entry["sessionId"] for entry in on_disk["sessions"]] == [newer.session_id, older.session_id]


@pytest.mark.parametrize(
    "garbage",
    [b'{"version": 1, "sessi', b'{"version": 1, "sessions": "all of them"}', b"\xff\xfe\x00"],
    ids=["truncated", "wrong-shape", "not-utf8"],
)
def test_a_corrupt_index_is_set_aside_and_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    store.index_path.write_bytes(garbage)

    assert store.read_index() == [IndexEntry.from_metadata(meta)]
    set_aside = list(store.workflows_dir.glob("index.json.corrupt-*"))
    assert len(set_aside) == 1
    assert set_aside[0].read_bytes() == garbage
    assert json.loads(store.index_path.read_text())["sessions"][0]["sessionId"] == meta.session_id


def test_an_index_out_of_step_with_the_folders_is_rebuilt(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    kept, removed = make_meta(tmp_path), make_meta(tmp_path)
    store.write_metadata(kept)
    store.write_metadata(removed)

    # Behind the store's back: one session folder added by another tool, one deleted.
    added = make_meta(tmp_path, title="added behind its back")
    (store.workflows_dir / added.session_id).mkdir()
    (store.workflows_dir / added.session_id / "metadata.json").write_text(
        json.dumps(added.model_dump(mode="json", by_alias=True))
    )
    restored = store.index_path.stat().st_mtime_ns - 86_400 * 10**9  # e.g. restored from a backup
    os.utime(store.workflows_dir / added.session_id / "metadata.json", ns=(restored, restored))
    shutil.rmtree(store.workflows_dir / removed.session_id)

    assert {entry.session_id for entry in store.read_index()} == {kept.session_id, added.session_id}
    on_disk = json.loads(store.index_path.read_text())
    assert {entry["sessionId"] for entry in on_disk["sessions"]} == {kept.session_id, added.session_id}


def test_an_index_older_than_a_metadata_file_is_rebuilt(tmp_path: Path) -> None:
    """A writer that died between the metadata and the index must not leave a stale status."""
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    path = store.workflows_dir / meta.session_id / "metadata.json"
    path.write_text(json.dumps(meta.model_copy(update={"status": "failed"}).model_dump(by_alias=True)))
    later = store.index_path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(later, later))

    assert [entry.status for entry in store.read_index()] == ["failed"]


def test_an_index_in_step_is_read_without_parsing_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ProjectStore(tmp_path)
    metas = [make_meta(tmp_path) for _ in range(3)]
    for meta in metas:
        store.write_metadata(meta)
    parsed: list[object] = []
    original = WorkflowMetadata.model_validate_json

    def counting(*args: Any, **kwargs: Any) -> WorkflowMetadata:
        parsed.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(WorkflowMetadata, "model_validate_json", counting)
    assert len(store.read_index()) == 3
    assert parsed == []


# -- corrupt metadata -------------------------------------------------------------------
@pytest.mark.parametrize(
    "garbage",
    [
        b'{"version": 1, "sessionId": "',
        b'{"version": 1, "agent": "claude"}',
        b"\xff\xfe\x00",
        json.dumps({"sessionId": OTHER_ID, "cwd": "/x", "status": "running"}).encode(),
    ],
    ids=["truncated", "wrong-shape", "not-utf8", "another-sessions-id"],
)
def test_corrupt_metadata_is_set_aside_with_its_bytes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    store = ProjectStore(tmp_path)
    good, bad = make_meta(tmp_path), make_meta(tmp_path)
    store.write_metadata(good)
    store.write_metadata(bad)
    folder = store.workflows_dir / bad.session_id
    (folder / "metadata.json").write_bytes(garbage)

    with caplog.at_level(logging.WARNING, logger="threadline.store"):
        assert store.read_metadata(bad.session_id) is None
        assert store.read_metadata(bad.session_id) is None
        assert store.list_metadata() == [good]

    set_aside = list(folder.glob("metadata.json.corrupt-*"))
    assert len(set_aside) == 1
    assert re.fullmatch(r"metadata\.json\.corrupt-\d{8}T\d{9}Z", set_aside[0].name)
    assert set_aside[0].read_bytes() == garbage
    assert not (folder / "metadata.json").exists()
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and bad.session_id in warnings[0].getMessage()
    on_disk = json.loads(store.index_path.read_text())
    assert [entry["sessionId"] for entry in on_disk["sessions"]] == [good.session_id]
    assert store.read_index() == [IndexEntry.from_metadata(good)]


def test_corrupt_metadata_that_cannot_be_set_aside_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    path = store.workflows_dir / meta.session_id / "metadata.json"
    path.write_text("{")

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "rename", read_only)
    with caplog.at_level(logging.WARNING, logger="threadline.store"):
        for _ in range(3):
            assert store.read_metadata(meta.session_id) is None
            assert store.list_metadata() == []
    monkeypatch.undo()

    assert path.read_text() == "{"
    assert len([record for record in caplog.records if record.levelno == logging.WARNING]) == 1


def test_listing_sets_aside_corrupt_metadata_too(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    good, bad = make_meta(tmp_path), make_meta(tmp_path)
    store.write_metadata(good)
    store.write_metadata(bad)
    (store.workflows_dir / bad.session_id / "metadata.json").write_text("{")

    assert store.list_metadata() == [good]
    assert [path.read_text() for path in (store.workflows_dir / bad.session_id).glob("*.corrupt-*")] == ["{"]
    assert store.session_ids() == {good.session_id}


# -- updates and concurrency ------------------------------------------------------------
def test_update_metadata_changes_in_place_and_stamps_the_time(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path, updated_at="2026-01-01T00:00:00.000Z")
    store.write_metadata(meta)

    def finish(m: WorkflowMetadata) -> None:
        m.status = "completed"
        m.turns[-1].ended_at, m.turns[-1].exit_code, m.turns[-1].status = utc_now(), 0, "completed"

    updated = store.update_metadata(meta.session_id, finish)

    assert updated.status == "completed"
    assert updated.updated_at > "2026-01-01T00:00:00.000Z"
    assert store.read_metadata(meta.session_id) == updated
    assert store.read_index() == [IndexEntry.from_metadata(updated)]


def test_update_metadata_may_return_a_new_model(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    updated = store.update_metadata(meta.session_id, lambda m: m.model_copy(update={"title": "Renamed"}))
    assert store.read_metadata(meta.session_id) == updated
    assert updated.title == "Renamed"


def test_update_metadata_of_an_unknown_session_raises_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        ProjectStore(tmp_path).update_metadata(new_session_id(), lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_update_metadata_may_not_change_the_id(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError):
        store.update_metadata(meta.session_id, lambda m: m.model_copy(update={"session_id": new_session_id()}))
    assert snapshot(tmp_path) == before


@pytest.mark.timeout(120)
def test_twenty_processes_writing_at_once_all_land_in_the_index(tmp_path: Path) -> None:
    barrier = SPAWN.Barrier(20)
    processes = [SPAWN.Process(target=_write_own_session, args=(str(tmp_path), barrier)) for _ in range(20)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
    assert [process.exitcode for process in processes] == [0] * 20

    store = ProjectStore(tmp_path)
    index = json.loads(store.index_path.read_text())  # as maintained, not rebuilt
    ids = [entry["sessionId"] for entry in index["sessions"]]
    assert len(ids) == 20
    assert set(ids) == store.session_ids()
    assert all(len(meta.turns) == 3 for meta in store.list_metadata())
    assert temp_files(tmp_path) == []


@pytest.mark.timeout(120)
def test_two_processes_appending_turns_lose_none(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path, turns=[])
    store.write_metadata(meta)
    barrier = SPAWN.Barrier(2)
    processes = [
        SPAWN.Process(target=_append_turns, args=(str(tmp_path), meta.session_id, tag, 20, barrier))
        for tag in ("a", "b")
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
    assert [process.exitcode for process in processes] == [0, 0]

    prompts = [turn.prompt for turn in store.read_metadata(meta.session_id).turns]  # type: ignore[union-attr]
    assert len(prompts) == 40
    assert [p for p in prompts if p.startswith("a")] == [f"a{n}" for n in range(20)]
    assert [p for p in prompts if p.startswith("b")] == [f"b{n}" for n in range(20)]


# -- the active marker ------------------------------------------------------------------
def test_switching_creates_the_new_marker_before_removing_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ProjectStore(tmp_path)
    old, new = new_session_id(), new_session_id()
    store.set_active(old)
    future = time.time_ns() + 3600 * 10**9  # a marker stamped ahead, as by a skewed clock
    os.utime(store.workflows_dir / f".active-{old}", ns=(future, future))
    seen: list[tuple[str, bool, str | None]] = []
    real_remove, real_unlink = os.remove, os.unlink

    def spy(real: Callable[..., None]) -> Callable[..., None]:
        def remove(path: Any, *args: Any, **kwargs: Any) -> None:
            name = os.path.basename(path)
            if name.startswith(".active-"):
                # What another window would see at this very moment.
                seen.append((name, (store.workflows_dir / f".active-{new}").exists(), store.active_session_id()))
            real(path, *args, **kwargs)

        return remove

    monkeypatch.setattr(os, "remove", spy(real_remove))
    monkeypatch.setattr(os, "unlink", spy(real_unlink))
    store.set_active(new)
    monkeypatch.undo()

    assert seen == [(f".active-{old}", True, new)]
    assert marker_names(store) == [f".active-{new}"]
    assert store.active_session_id() == new


def test_activating_none_clears_the_marker(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    session_id = new_session_id()
    store.set_active(session_id)
    store.set_active(session_id)  # again: still exactly one marker
    assert marker_names(store) == [f".active-{session_id}"]
    store.set_active(None)
    assert marker_names(store) == []
    assert store.active_session_id() is None


def test_of_several_markers_the_newest_is_active(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    store.ensure()
    ids = [new_session_id() for _ in range(3)]
    base = time.time_ns()
    for n, session_id in enumerate(ids):
        marker = store.workflows_dir / f".active-{session_id}"
        marker.touch()
        stamp = base + (1 if n == 1 else 0)  # differ by one nanosecond only
        os.utime(marker, ns=(stamp, stamp))
    (store.workflows_dir / ".active-not-an-id").touch()
    os.utime(store.workflows_dir / ".active-not-an-id", ns=(base + 10, base + 10))
    if (store.workflows_dir / f".active-{ids[1]}").stat().st_mtime_ns == base:
        pytest.skip("this file system keeps no nanosecond mtimes")
    assert store.active_session_id() == ids[1]


def test_heal_removes_orphaned_markers_and_keeps_the_newest(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    store.ensure()
    alive_old, alive_new, orphan = new_session_id(), new_session_id(), new_session_id()
    base = time.time_ns()
    for age, name in [(3, alive_old), (2, alive_new), (1, orphan), (0, "../not-an-id")]:
        marker = store.workflows_dir / f".active-{name.replace('/', '_')}"
        marker.touch()
        stamp = base - age * 10**9
        os.utime(marker, ns=(stamp, stamp))
    asked: list[str] = []

    def exists(session_id: str) -> bool:
        asked.append(session_id)
        return session_id != orphan

    assert store.heal_markers(exists) == alive_new
    assert marker_names(store) == [f".active-{alive_new}"]
    assert store.active_session_id() == alive_new
    assert set(asked) <= {alive_old, alive_new, orphan}


def test_heal_with_only_orphans_leaves_no_active_session(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    store.set_active(new_session_id())
    assert store.heal_markers(lambda _id: False) is None
    assert marker_names(store) == []


# -- ids are checked before any file is touched ----------------------------------------
BAD_IDS = [
    "../../etc/passwd",
    "",
    "not-a-session-id",
    "00000000-0000-4000-8000-000000000000/../x",
    "00000000-0000-4000-8000-000000000000\n",
    "/00000000-0000-4000-8000-000000000000",
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_malformed_ids_are_refused_before_any_file_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_id: str
) -> None:
    store = ProjectStore(tmp_path)
    forged = make_meta(tmp_path).model_copy(update={"session_id": bad_id})  # copy skips validation
    calls: list[Callable[[], object]] = [
        lambda: store.read_metadata(bad_id),
        lambda: store.update_metadata(bad_id, lambda m: None),
        lambda: store.set_active(bad_id),
        lambda: store.write_metadata(forged),
    ]
    with no_file_access(monkeypatch):
        for call in calls:
            with pytest.raises(ValueError, match="Not a well-formed session id"):
                call()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_the_models_refuse_malformed_ids(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(ValueError):
        make_meta(tmp_path, session_id=bad_id or "x")
    with pytest.raises(ValueError):
        make_meta(tmp_path, parent_session_id=bad_id)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, str]:
    """Every path under ``root`` (and itself) with its permission bits, in octal."""
    return {str(p.relative_to(root.parent)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in [root, *root.rglob("*")]}


def test_the_store_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """Protocol §5: folders 0700, files 0600, like the agent's own transcript, under umask 022."""
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    with umask(0o022):
        store.write_metadata(meta)
        store.set_active(meta.session_id)
        store.update_metadata(meta.session_id, _appending("again"))
        store.rebuild_index()
    found = modes(store.root)
    names = {Path(name).name for name in found}
    assert {".gitignore", "index.json", "metadata.json", f".active-{meta.session_id}", ".metadata.lock"} <= names
    for name, mode in found.items():
        assert mode == ("0o700" if (tmp_path / name).is_dir() else "0o600"), (name, mode)


def test_a_store_with_wider_modes_is_tightened_on_the_first_write(tmp_path: Path) -> None:
    """A store made by an older Threadline (0755 / 0644) stops being world-readable."""
    store = ProjectStore(tmp_path)
    old = make_meta(tmp_path)
    with umask(0o022):
        store.write_metadata(old)
        store.set_active(old.session_id)
    for path in [store.root, *store.root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with umask(0o022):
        fresh = ProjectStore(tmp_path)  # a new process: the tightening runs once per store object
        assert fresh.list_metadata() == [old]
        assert set(modes(store.root).values()) == {"0o755", "0o644"}  # reading changes nothing
        fresh.write_metadata(make_meta(tmp_path))
    for name, mode in modes(store.root).items():
        assert mode == ("0o700" if (tmp_path / name).is_dir() else "0o600"), (name, mode)


def test_only_the_metadata_waits_for_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One fsync per write: the metadata is the truth; the derived index heals itself."""
    store = ProjectStore(tmp_path)
    store.ensure()
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store.write_metadata(make_meta(tmp_path))
    assert [name.split(".")[1] for name in synced] == ["metadata"]
    assert (store.workflows_dir / "index.json").is_file()


def test_bookkeeping_updates_leave_updated_at_alone(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)

    def set_pid(m: WorkflowMetadata) -> None:
        m.pid = 4242

    quiet = store.update_metadata(meta.session_id, set_pid, touch=False)
    assert (quiet.pid, quiet.updated_at) == (4242, meta.updated_at)
    touched = store.update_metadata(meta.session_id, set_pid)
    assert touched.updated_at != meta.updated_at
    assert [e.updated_at for e in store.read_index()] == [touched.updated_at]


def test_stale_temp_files_of_unfinished_writes_are_swept(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    meta = make_meta(tmp_path)
    store.write_metadata(meta)
    folder = store.workflows_dir / meta.session_id
    old = time.time() - store_module.STALE_TEMP_SECONDS - 60
    stale = [folder / ".metadata.json.k3j_x9a2.tmp", store.workflows_dir / ".index.json.ab12cd34.tmp"]
    fresh = folder / ".metadata.json.zz99yy88.tmp"  # a write in progress right now
    others = [folder / "notes.tmp", folder / "metadata.json.corrupt-20261121T000000Z", tmp_path / ".index.json.x.tmp"]
    for path in [*stale, fresh, *others]:
        path.write_text("{half a write")
    for path in [*stale, *others]:
        os.utime(path, (old, old))

    assert sorted(store.sweep_temp_files()) == sorted(stale)
    assert [p.exists() for p in stale] == [False, False]
    assert fresh.exists() and all(p.exists() for p in others)
    assert store.read_metadata(meta.session_id) == meta
