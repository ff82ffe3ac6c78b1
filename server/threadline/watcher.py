"""Watching the agent's folders with watchfiles, reporting changed paths to a callback.

A root that does not exist yet (a fresh ``CLAUDE_CONFIG_DIR``) is covered by watching its
nearest existing ancestor without recursion; when the root appears, the watch is rebuilt.
The watcher knows nothing about sessions or JSON-RPC: it only reports paths.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import awatch

logger = logging.getLogger(__name__)

DEBOUNCE_MS = 30
"""Longest time changes are grouped: detection latency is bounded by it."""
STEP_MS = 5


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


class FolderWatcher:
    """Runs until :meth:`stop`; calls ``on_change(paths)`` on the event loop."""

    def __init__(self, roots: list[Path], on_change: Callable[[set[Path]], None]) -> None:
        self.roots = roots
        self.on_change = on_change
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        """Set once the first watch is in place (tests and benchmarks wait on it)."""

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 2)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    async def _run(self) -> None:
        while not self._stop.is_set():
            present = [r for r in self.roots if r.is_dir()]
            missing = [r for r in self.roots if not r.is_dir()]
            # Each round of watches has its own stop event: watchfiles sets the event it was
            # given when its watch ends, and a round ending (to rebuild the watch when a root
            # appears) must never look like the whole watcher being stopped.
            halt = asyncio.Event()
            restart = asyncio.Event()
            tasks = []
            if present:
                tasks.append(asyncio.ensure_future(self._watch(present, True, halt, restart, missing)))
            if missing:
                ancestors = sorted({_nearest_existing(r) for r in missing})
                tasks.append(asyncio.ensure_future(self._watch(ancestors, False, halt, restart, missing)))
            self.ready.set()
            stopper = asyncio.ensure_future(self._stop.wait())
            restarter = asyncio.ensure_future(restart.wait())
            await asyncio.wait([stopper, restarter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            halt.set()
            stopper.cancel()
            restarter.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not self._stop.is_set() and not restart.is_set():
                logger.warning("a file watch ended unexpectedly; restarting it")
                await asyncio.sleep(0.5)

    async def _watch(
        self, paths: list[Path], recursive: bool, halt: asyncio.Event, restart: asyncio.Event, missing: list[Path]
    ) -> None:
        try:
            async for changes in awatch(
                *paths,
                recursive=recursive,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=halt,
                rust_timeout=0,
                yield_on_timeout=False,
                ignore_permission_denied=True,
            ):
                changed = {Path(p) for _, p in changes}
                if any(m.is_dir() for m in missing):
                    # A missing root appeared: report what is already in it, then watch it properly.
                    for root in missing:
                        if root.is_dir():
                            changed.update(p for p in root.rglob("*") if p.is_file() or p.parent == root)
                    restart.set()
                try:
                    self.on_change(changed)
                except Exception:
                    logger.exception("handling file changes failed")
                if restart.is_set():
                    return
        except Exception:
            logger.exception("watching %s failed", ", ".join(map(str, paths)))
