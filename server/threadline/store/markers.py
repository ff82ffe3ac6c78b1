"""The active marker: ``.active-<id>`` files, the newest well-formed one naming the session.

Switching creates the new marker before removing the old ones, so another process always
sees one; healing at start-up drops markers of sessions that no longer exist.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import suppress

from threadline.errors import StoreError
from threadline.store.fs import FILE_MODE, warn_once
from threadline.store.layout import MARKER_PREFIX, MARKERS_LOCK_NAME, StoreLayout
from threadline.store.models import check_id, is_id


class ActiveMarkers(StoreLayout):
    """The ``.active-*`` markers of a store."""

    def _markers(self) -> list[tuple[str, str | None, int]]:
        """(file name, id or None if malformed, mtime_ns) of every ``.active-*`` file."""
        found: list[tuple[str, str | None, int]] = []
        try:
            with os.scandir(self.workflows_dir) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return found
        except OSError as exc:
            warn_once(f"scan:{self.workflows_dir}", "Threadline store %s cannot be read: %s", self.root, exc)
            return found
        for entry in entries:
            if not entry.name.startswith(MARKER_PREFIX) or entry.is_dir(follow_symlinks=False):
                continue
            suffix = entry.name[len(MARKER_PREFIX) :]
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime_ns
            except FileNotFoundError:
                continue  # removed by a concurrent switch
            found.append((entry.name, suffix if is_id(suffix) else None, mtime))
        return found

    def active_session_id(self) -> str | None:
        """The session of the newest well-formed marker, if any."""
        valid = [(mtime, name, sid) for name, sid, mtime in self._markers() if sid is not None]
        return max(valid)[2] if valid else None

    def set_active(self, session_id: str | None) -> None:
        """Make ``session_id`` the active session (None clears).

        The new marker is created before the old ones go, so a reader in another process
        always sees some marker while switching; its mtime is forced past theirs so that
        "newest wins" picks it even on a coarse clock.
        """
        if session_id is not None:
            check_id(session_id)
        elif not self._markers():
            return  # nothing to clear: do not create a store for it
        self.ensure()
        with self._locked(self.workflows_dir / MARKERS_LOCK_NAME):
            try:
                markers = self._markers()
                keep = None
                if session_id is not None:
                    keep = MARKER_PREFIX + session_id
                    marker = self.workflows_dir / keep
                    others = [mtime for name, _, mtime in markers if name != keep]
                    stamp = max([time.time_ns(), *(mtime + 1 for mtime in others)])
                    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))
                    os.utime(marker, ns=(stamp, stamp))
                for name, _, _ in markers:
                    if name != keep:
                        with suppress(FileNotFoundError):
                            os.remove(self.workflows_dir / name)
            except OSError as exc:
                raise self._error(exc) from exc
        self._tighten()

    def heal_markers(self, exists: Callable[[str], bool]) -> str | None:
        """At start-up: drop markers of unknown sessions or malformed names, keep the newest.

        Returns the active session id left, if any. Never raises: healing is housekeeping,
        and a store we cannot write (read-only, locked by a hung peer) must still load; the
        markers are then left as they are.
        """
        if not self._markers():
            return None  # nothing to heal: do not even create a lock file
        try:
            return self._heal_markers(exists)
        except StoreError as exc:
            warn_once(f"heal:{self.root}", "Threadline active marker of %s not healed: %s", self.root, exc.message)
            return self.active_session_id()

    def _heal_markers(self, exists: Callable[[str], bool]) -> str | None:
        with self._locked(self.workflows_dir / MARKERS_LOCK_NAME):
            markers = self._markers()
            alive = [(mtime, name, sid) for name, sid, mtime in markers if sid is not None and exists(sid)]
            keep = max(alive) if alive else None
            try:
                for name, _, _ in markers:
                    if keep is None or name != keep[1]:
                        with suppress(FileNotFoundError):
                            os.remove(self.workflows_dir / name)
            except OSError as exc:
                raise self._error(exc) from exc
            return keep[2] if keep else None
