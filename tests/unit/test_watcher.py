"""The folder watcher over roots that appear one after the other, as a fresh CLAUDE_CONFIG_DIR does."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
