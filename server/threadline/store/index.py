"""``index.json``: the derived list of a store's sessions, healed whenever it is out of step.

The metadata files are the truth; the index is rebuilt from them when it is missing, corrupt,
lists other ids or is older than a metadata file (a writer died between the two), so it is
never fsynced and a failure to update it never fails a write.
"""

from __future__ import annotations

import logging
import os

from pydantic import ValidationError

from threadline.errors import StoreError
from threadline.safeio import open_regular
from threadline.store.fs import atomic_write, encode_json, rename_aside, warn_once, wrong_type
from threadline.store.layout import INDEX_LOCK_NAME, StoreLayout
from threadline.store.models import STORE_VERSION, IndexEntry, IndexFile, newest_first

_log = logging.getLogger(__package__)  # log lines name the package, as before the split


class StoreIndex(StoreLayout):
    """The derived ``index.json`` of a store."""

    def _read_index_file(self) -> tuple[list[IndexEntry] | None, int, bool]:
        """(entries, mtime_ns, corrupt); entries is None when missing or corrupt."""
        fd = open_regular(self.index_path, follow_symlinks=False)
        if fd is None:
            # Missing or unreadable: rebuilt (and replaced) like a missing one. A folder, FIFO
            # or link in its place counts as corrupt, so the rebuild sets it aside.
            return None, 0, wrong_type(self.index_path)
        try:
            with os.fdopen(fd, "rb") as handle:
                mtime = os.fstat(handle.fileno()).st_mtime_ns
                raw = handle.read()
        except OSError:
            return None, 0, False
        try:
            parsed = IndexFile.model_validate_json(raw)
        except (ValidationError, ValueError):
            return None, mtime, True
        return parsed.sessions, mtime, False

    def _write_index(self, entries: list[IndexEntry]) -> None:
        document = {
            "version": STORE_VERSION,
            "sessions": [entry.model_dump(mode="json", by_alias=True) for entry in entries],
        }
        try:
            # Not fsynced: the index is derived, and a torn or stale one is rebuilt on read.
            atomic_write(self.index_path, encode_json(document), durable=False)
        except OSError as exc:
            raise self._error(exc) from exc

    def _collect_entries(self) -> list[IndexEntry]:
        entries = []
        for session_id in self.session_ids():
            meta, _ = self._load(session_id)
            if meta is not None:
                entries.append(IndexEntry.from_metadata(meta))
        return sorted(entries, key=newest_first, reverse=True)

    def _rebuild_holding_lock(self) -> list[IndexEntry]:
        _, _, corrupt = self._read_index_file()
        if corrupt:
            try:
                target = rename_aside(self.index_path)
            except OSError as exc:
                raise self._error(exc) from exc
            _log.warning("Threadline index %s was corrupt; it is kept as %s.", self.index_path, target.name)
        entries = self._collect_entries()
        self._write_index(entries)
        return entries

    def _upsert_index(self, entry: IndexEntry) -> None:
        with self._locked(self.workflows_dir / INDEX_LOCK_NAME):
            current, _, _ = self._read_index_file()
            if current is None:
                self._rebuild_holding_lock()
                return
            entries = [e for e in current if e.session_id != entry.session_id]
            entries.append(entry)
            self._write_index(sorted(entries, key=newest_first, reverse=True))

    def rebuild_index(self) -> list[IndexEntry]:
        """Rewrite ``index.json`` from the metadata files (a corrupt index is set aside)."""
        self.ensure()
        with self._locked(self.workflows_dir / INDEX_LOCK_NAME):
            return self._rebuild_holding_lock()

    def _rebuild_best_effort(self) -> list[IndexEntry]:
        """Rebuild, or at least compute, the index: a read-only store can still be listed."""
        try:
            return self.rebuild_index()
        except StoreError as exc:
            warn_once(f"index:{self.root}", "Threadline index cannot be rebuilt: %s", exc.message)
            return self._collect_entries()

    def read_index(self) -> list[IndexEntry]:
        """The index, rebuilt first if missing, corrupt or out of step with the metadata.

        Out of step means another set of ids than the metadata folders, or a metadata file
        newer than the index (a writer died between the two). Checking costs one scandir.
        """
        if not self.workflows_dir.is_dir():
            return []  # reading never creates the store
        ids, newest = self._scan()
        entries, mtime, _ = self._read_index_file()
        if entries is None:
            return self._rebuild_best_effort()
        indexed = [entry.session_id for entry in entries]
        if len(indexed) != len(set(indexed)) or set(indexed) != ids or newest > mtime:
            return self._rebuild_best_effort()
        return entries
