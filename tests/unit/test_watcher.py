"""The folder watcher over roots that appear one after the other, as a fresh CLAUDE_CONFIG_DIR does."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from threadline import watcher as watcher_module
from threadline.watcher import FolderWatcher


class Seen:
    """Collects reported paths; ``until`` awaits one, touching a file until it is reported."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.changed = asyncio.Event()

    def __call__(self, paths: set[Path]) -> None:
        self.paths |= paths
        self.changed.set()

    async def until(self, path: Path, touch: bool = True, attempts: int = 40) -> None:
        """Wait until ``path`` is reported; with ``touch``, append to it between waits.

        Appending again is how a real agent behaves, and it makes the test independent of
        whether the watch was already in place at the first write.
        """
        self.paths.discard(path)
        for _ in range(attempts):
            if touch:
                with open(path, "a") as handle:
                    handle.write("{}\n")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.5)
            except TimeoutError:
                pass
            if path in self.paths:
                return
        raise AssertionError(f"{path} was never reported")


async def watch_fresh_config(tmp_path: Path) -> tuple[Path, Path, Seen, FolderWatcher]:
    """A watcher over the two roots of a config folder in which neither exists yet."""
    config = tmp_path / "claude-home"
    config.mkdir()
    projects, sessions = config / "projects", config / "sessions"
    seen = Seen()
    watcher = FolderWatcher([projects, sessions], seen)
    watcher.start()
    await watcher.ready.wait()
    return projects, sessions, seen, watcher


async def still_watching(seen: Seen, watcher: FolderWatcher, transcript: Path, sessions: Path) -> None:
    """Both roots are reported after the rebuilds: appends, a removal, a new registry file."""
    await seen.until(transcript)
    await seen.until(transcript)  # appends after the rebuild are still seen
    (sessions / "1.json").unlink()
    await seen.until(sessions / "1.json", touch=False)
    await seen.until(sessions / "2.json")
    assert watcher._task is not None and not watcher._task.done()


async def test_roots_created_one_after_the_other_stay_watched(tmp_path: Path) -> None:
    projects, sessions, seen, watcher = await watch_fresh_config(tmp_path)
    try:
        sessions.mkdir()  # the real CLI makes sessions/ first …
        await seen.until(sessions / "1.json")
        folder = projects / "-tmp-project"  # … and projects/<folder>/ 60-250 ms later
        folder.mkdir(parents=True)
        transcript = folder / "a.jsonl"
        await still_watching(seen, watcher, transcript, sessions)
    finally:
        await watcher.stop()
    assert watcher._task.done()


async def test_paced_like_the_real_cli(tmp_path: Path) -> None:
    """The real CLI's pacing in a fresh config folder: sessions/, its file, then projects/.

    The pauses stand for the agent's own timing (measured: 60-250 ms between the folders),
    not for waiting on the watcher.
    """
    projects, sessions, seen, watcher = await watch_fresh_config(tmp_path)
    try:
        sessions.mkdir()
        await asyncio.sleep(0.15)
        (sessions / "1.json").write_text("{}")
        await asyncio.sleep(0.15)
        folder = projects / "enc"
        folder.mkdir(parents=True)
        transcript = folder / "a.jsonl"
        transcript.write_text("{}\n")
        await still_watching(seen, watcher, transcript, sessions)
    finally:
        await watcher.stop()


async def test_stop_ends_the_watcher(tmp_path: Path) -> None:
    seen = Seen()
    watcher = FolderWatcher([tmp_path], seen)
    watcher.start()
    await watcher.ready.wait()
    await seen.until(tmp_path / "x.jsonl")
    await watcher.stop()
    assert watcher._task is not None and watcher._task.done()


# -- nothing missed while a watch is rebuilt (issue 9, item 3) ---------------------------------
class Collector:
    """Every path one watcher reported; ``wait_for`` awaits a set of paths without sleeping."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.changed = asyncio.Event()

    def __call__(self, paths: set[Path]) -> None:
        self.paths |= paths
        self.changed.set()

    async def wait_for(self, wanted: set[Path], timeout: float = 20.0) -> None:
        async def until() -> None:
            while not wanted <= self.paths:
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(f"{len(wanted - self.paths)} of {len(wanted)} never reported") from None


def write_like_a_fresh_cli(config: Path, sessions: int) -> set[Path]:
    """Make the roots and files as the agent does in a fresh config folder, as fast as it can:
    ``sessions/`` first, then ``projects/<folder>/``, each file written once and never again."""
    written: set[Path] = set()
    (config / "sessions").mkdir()
    for index in range(sessions):
        registry = config / "sessions" / f"{1000 + index}.json"
        registry.write_text("{}")
        written.add(registry)
        if index == 0:
            (config / "projects" / "-tmp-project").mkdir(parents=True)
        transcript = config / "projects" / "-tmp-project" / f"{index:08d}-0000-4000-8000-000000000000.jsonl"
        transcript.write_text("{}\n")
        written.add(transcript)
    return written


async def test_five_watchers_miss_nothing_when_the_roots_appear_late(tmp_path: Path) -> None:
    """5 watchers x 5 runs over a config folder whose roots do not exist yet: every file is
    reported to every watcher, though none is ever written twice."""
    for run in range(5):
        config = tmp_path / f"run-{run}"
        config.mkdir()
        roots = [config / "projects", config / "sessions"]
        collectors = [Collector() for _ in range(5)]
        watchers = [FolderWatcher(roots, collector) for collector in collectors]
        for watcher in watchers:
            watcher.start()
        try:
            await asyncio.gather(*(w.ready.wait() for w in watchers))
            written = await asyncio.to_thread(write_like_a_fresh_cli, config, 40)
            await asyncio.gather(*(c.wait_for(written) for c in collectors))
            for collector in collectors:
                assert len(collector.paths & written) == 80
        finally:
            await asyncio.gather(*(w.stop() for w in watchers))


async def test_a_replaced_root_is_reported_whole_and_the_others_rescanned(tmp_path: Path) -> None:
    config = tmp_path / "config"
    projects, sessions = config / "projects", config / "sessions"
    (projects / "old").mkdir(parents=True)
    sessions.mkdir()
    seen = Collector()
    watcher = FolderWatcher([projects, sessions], seen)
    watcher.start()
    await watcher.ready.wait()
    try:
        # Another tree, with files older than the watcher, moved in place of the root.
        staged = config / "projects.new"
        (staged / "p").mkdir(parents=True)
        moved = {staged / "p" / f"{i}.jsonl" for i in range(10)}
        for path in moved:
            path.write_text("{}\n")
            os.utime(path, (1_000_000_000, 1_000_000_000))
        rounds = watcher.rounds
        projects.rename(config / "projects.old")
        staged.rename(projects)
        expected = {projects / "p" / p.name for p in moved}
        await seen.wait_for(expected)
        # Written while the watch was being rebuilt or after: found by a rescan or an event.
        late = sessions / "late.json"
        late.write_text("{}")
        await seen.wait_for({late})
        assert watcher.rounds > rounds
        # The root vanishes, then comes back with a file: reported once it is back.
        projects.rename(config / "projects.gone")
        (config / "projects.back" / "q").mkdir(parents=True)
        back = config / "projects.back" / "q" / "s.jsonl"
        back.write_text("{}\n")
        (config / "projects.back").rename(projects)
        await seen.wait_for({projects / "q" / "s.jsonl"})
    finally:
        await watcher.stop()


async def test_the_first_rescan_reports_what_changed_since_the_callers_scan(tmp_path: Path) -> None:
    """A file written after the caller looked but before the watch existed is reported; older
    ones are not (the caller has them)."""
    root = tmp_path / "projects"
    (root / "p").mkdir(parents=True)
    old = root / "p" / "old.jsonl"
    old.write_text("{}\n")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    new = root / "p" / "new.jsonl"
    new.write_text("{}\n")  # "after the caller's scan": since is now - 1 s below
    seen = Collector()
    watcher = FolderWatcher([root], seen, since=time.time() - 1)
    watcher.start()
    try:
        await watcher.ready.wait()
        assert new in seen.paths and old not in seen.paths
    finally:
        await watcher.stop()


async def test_no_roots_is_a_quiet_watcher(tmp_path: Path) -> None:
    watcher = FolderWatcher([], Collector())
    watcher.start()
    await watcher.ready.wait()
    await watcher.stop()
    assert watcher._task is not None and watcher._task.done() and watcher.rounds == 0


async def test_a_root_made_while_its_watch_is_being_built_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The root appears after the watcher looked for it but before the watch exists: no event
    ever tells, so the watcher must look again once its watches are in place."""
    config = tmp_path / "config"
    config.mkdir()
    projects = config / "projects"
    transcript = projects / "p" / "a.jsonl"
    real = watcher_module._Watch
    made: list[bool] = []

    def racing(paths: list[Path], recursive: bool, post: Any) -> Any:
        if not made:
            made.append(True)
            transcript.parent.mkdir(parents=True)
            transcript.write_text("{}\n")
        return real(paths, recursive, post)

    monkeypatch.setattr(watcher_module, "_Watch", racing)
    seen = Collector()
    watcher = FolderWatcher([projects], seen)
    watcher.start()
    try:
        await seen.wait_for({transcript}, timeout=10)
    finally:
        await watcher.stop()
