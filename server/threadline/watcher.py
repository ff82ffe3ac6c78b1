"""Watching the agent's folders with watchfiles, reporting changed paths to a callback.

Nothing written while a watch is being built may be missed (issue 9, item 3). So the
watcher works in rounds: each round puts its watches in place first, then rescans, and only
then waits for events, so a file is either seen by the rescan or reported by the watch.

* Every root that exists is watched recursively; the folder holding each root (or, for a
  root that does not exist yet, its nearest existing ancestor) is watched without recursion,
  so a root that appears, disappears or is replaced (another inode under its name) is seen.
* When any root's identity changes the round ends and a new one starts, rescanning every
  root: a root that is new or replaced is reported whole, the others report every file
  modified since the previous round stopped watching, with a margin for coarse timestamps
  (the first round: since ``since``).

The rescan reports through the same ``on_change`` callback as the events; a path may be
reported twice, never zero times. The watcher knows nothing about sessions or JSON-RPC.

The watches are watchfiles' ``RustNotify`` used directly (``awatch`` wraps it): its
constructor returns only once the OS watches exist, which is the moment a rescan is safe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchfiles._rust_notify import RustNotify

logger = logging.getLogger(__name__)

DEBOUNCE_MS = 30
"""Longest time changes are grouped: detection latency is bounded by it."""
STEP_MS = 5
CLOCK_SLACK = 2.0
"""Seconds a rescan looks back past the end of the previous watch (coarse mtimes, clock steps).

Not applied to the first round: its ``since`` is the caller's own reading of the same clock,
taken before it listed the roots, and looking back further would report (and have the
caller read at once) every file written in the seconds before start-up."""

Identity = tuple[int, int] | None


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


def _identity(root: Path) -> Identity:
    """(device, inode) of a root that is a folder, else None: a replaced root changes it."""
    try:
        info = os.stat(root)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def _rescan(roots: list[Path], whole: set[Path], since: float) -> set[Path]:
    """Files under ``roots``: all of them under a root in ``whole``, else those modified since."""
    found: set[Path] = set()
    for root in roots:
        everything = root in whole
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if not everything:
                    try:
                        if os.lstat(path).st_mtime < since:
                            continue
                    except OSError:
                        continue
                found.add(Path(path))
    return found


class _Watch:
    """One ``RustNotify`` and the thread that waits on it, posting batches to the loop."""

    def __init__(self, paths: list[Path], recursive: bool, post: Callable[[Any], None]) -> None:
        self.halt = threading.Event()
        self._post = post
        # Returns once the OS watches are in place (raises FileNotFoundError if a path is gone).
        self._notify = RustNotify([str(p) for p in paths], False, False, 300, recursive, True)
        self._thread = threading.Thread(target=self._run, name="threadline-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self.halt.is_set():
                raw = self._notify.watch(DEBOUNCE_MS, STEP_MS, 0, self.halt)
                if isinstance(raw, set):
                    self._post(raw)
                elif raw == "stop":
                    return
        except Exception as exc:
            if not self.halt.is_set():
                self._post(exc)

    def close(self) -> None:
        self.halt.set()
        self._thread.join(2)
        try:
            self._notify.close()
        except Exception as exc:  # never let one watch's end stop the watcher
            logger.debug("closing a file watch failed: %s", exc)


class FolderWatcher:
    """Runs until :meth:`stop`; calls ``on_change(paths)`` on the event loop.

    ``since`` (seconds since the epoch) is when the caller last looked at the roots itself:
    the first round reports every file modified after it. Default: when the watcher is made.
    """

    def __init__(self, roots: list[Path], on_change: Callable[[set[Path]], None], since: float | None = None) -> None:
        self.roots = roots
        self.on_change = on_change
        self.since = time.time() if since is None else since
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        """Set once the first watches are in place and the first rescan reported."""
        self.rounds = 0
        """Watch rounds so far (each rebuild after a root appeared, vanished or was replaced)."""

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    def _identities(self) -> dict[Path, Identity]:
        return {root: _identity(root) for root in self.roots}

    def _under_roots(self, path: str) -> bool:
        return any(path == str(root) or path.startswith(f"{root}{os.sep}") for root in self.roots)

    def _report(self, paths: set[Path]) -> None:
        if not paths:
            return
        try:
            self.on_change(paths)
        except Exception:
            logger.exception("handling file changes failed")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if not self.roots:
            self.ready.set()
            await self._stop.wait()
            return
        previous: dict[Path, Identity] | None = None
        since = self.since
        while not self._stop.is_set():
            identities = self._identities()
            present = [root for root, identity in identities.items() if identity is not None]
            parents = sorted({_nearest_existing(root.parent) for root in self.roots})
            inbox: asyncio.Queue[Any] = asyncio.Queue()

            def post(item: Any, inbox: asyncio.Queue[Any] = inbox) -> None:
                try:
                    loop.call_soon_threadsafe(inbox.put_nowait, item)
                except RuntimeError:
                    pass  # the loop is closed: the watcher is going away

            watches: list[_Watch] = []
            try:
                if present:
                    watches.append(await asyncio.to_thread(_Watch, present, True, post))
                watches.append(await asyncio.to_thread(_Watch, parents, False, post))
            except Exception as exc:
                # A root vanished while its watch was being built: look again shortly.
                logger.debug("building the file watch failed (%s); retrying", exc)
                await asyncio.gather(*(asyncio.to_thread(w.close) for w in watches))
                await asyncio.sleep(0.05)
                continue
            self.rounds += 1
            outcome = "stop"
            try:
                # The watches are in place: anything older is found by this rescan.
                whole = {r for r in present if previous is not None and previous.get(r) != identities[r]}
                self._report(await asyncio.to_thread(_rescan, present, whole, since))
                self.ready.set()
                if self._identities() != identities:
                    # A root changed after it was looked at but before its watch existed: no
                    # event will tell, so start over (the next round rescans it whole).
                    outcome = "restart"
                else:
                    outcome = await self._consume(inbox, identities)
            finally:
                since = time.time() - CLOCK_SLACK
                await asyncio.gather(*(asyncio.to_thread(w.close) for w in watches))
            previous = identities
            if outcome == "error":
                logger.warning("a file watch ended unexpectedly; restarting it")
                await asyncio.sleep(0.5)

    async def _consume(self, inbox: asyncio.Queue[Any], identities: dict[Path, Identity]) -> str:
        """Report batches until stopped ("stop"), a root changes ("restart") or a watch fails."""
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                getter = asyncio.ensure_future(inbox.get())
                await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    return "stop"
                item = getter.result()
                if isinstance(item, Exception):
                    logger.error("watching %s failed: %s", ", ".join(map(str, self.roots)), item)
                    return "error"
                self._report({Path(p) for _, p in item if self._under_roots(p)})
                if self._identities() != identities:
                    return "restart"
        finally:
            stopper.cancel()
