"""The per-project store: ``<project>/.threadline`` (protocol §5).

Threadline keeps its state next to the code it concerns, so it survives editor restarts and
is shared by every editor window open on the project. Several processes may write it at
once, so every file is replaced atomically and read-modify-write cycles run under file
locks. ``index.json`` is derived data: whenever it is missing, corrupt or out of step it is
rebuilt from the ``metadata.json`` files, which are the truth. Nothing the user could want
back is ever deleted: a corrupt file is renamed aside, never removed.

Transport-free on purpose: the JSON-RPC layer turns :class:`StoreError` into a response.

One module per part: :mod:`.models` (what is stored), :mod:`.fs` (atomic writes, set-aside,
locks), :mod:`.layout` (folders, scanning, loading one metadata file), :mod:`.index` (the
derived ``index.json``), :mod:`.markers` (the active marker); :class:`ProjectStore` here
adds reading and writing a session's metadata, the truth the others derive from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import suppress

from threadline.errors import StoreError
from threadline.store.fs import DIR_MODE, FILE_MODE, LOCK_TIMEOUT, atomic_write, encode_json
from threadline.store.index import StoreIndex
from threadline.store.layout import (
    GITIGNORE_TEXT,
    INDEX_NAME,
    MARKER_PREFIX,
    METADATA_NAME,
    SESSION_LOCK_NAME,
    STALE_TEMP_SECONDS,
    STORE_DIR,
)
from threadline.store.markers import ActiveMarkers
from threadline.store.models import (
    STORE_VERSION,
    IndexEntry,
    TurnRecord,
    WorkflowMetadata,
    check_id,
    newest_first,
    utc_now,
)

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "GITIGNORE_TEXT",
    "INDEX_NAME",
    "LOCK_TIMEOUT",
    "MARKER_PREFIX",
    "METADATA_NAME",
    "STALE_TEMP_SECONDS",
    "STORE_DIR",
    "STORE_VERSION",
    "IndexEntry",
    "ProjectStore",
    "TurnRecord",
    "WorkflowMetadata",
    "utc_now",
]


_log = logging.getLogger(__name__)


class ProjectStore(StoreIndex, ActiveMarkers):
    """``<project>/.threadline``: session metadata, the derived index and the active marker."""

    def read_metadata(self, session_id: str) -> WorkflowMetadata | None:
        """The session's metadata, or None if there is none (or it was corrupt and set aside)."""
        check_id(session_id)
        meta, set_aside = self._load(session_id)
        if set_aside:
            self._rebuild_best_effort()
        return meta

    def list_metadata(self) -> list[WorkflowMetadata]:
        """Every readable session's metadata, most recently updated first."""
        found: list[WorkflowMetadata] = []
        any_set_aside = False
        for session_id in self.session_ids():
            meta, set_aside = self._load(session_id)
            any_set_aside |= set_aside
            if meta is not None:
                found.append(meta)
        if any_set_aside:
            self._rebuild_best_effort()
        return sorted(found, key=newest_first, reverse=True)

    def write_metadata(self, meta: WorkflowMetadata) -> None:
        """Atomically write the session's metadata, then its line of the index."""
        session_id = check_id(meta.session_id)
        data = self._dump_metadata(meta)
        self.ensure()
        folder = self._session_dir(session_id)
        try:
            folder.mkdir(mode=DIR_MODE)
            created = True
            os.chmod(folder, DIR_MODE)
        except FileExistsError:
            created = False
        except OSError as exc:
            raise self._error(exc) from exc
        try:
            with self._locked(folder / SESSION_LOCK_NAME):
                self._write_holding_session_lock(meta, data)
        except BaseException:
            if created:  # a new session that could not be written leaves no empty folder
                with suppress(OSError):
                    (folder / SESSION_LOCK_NAME).unlink()
                with suppress(OSError):
                    folder.rmdir()
            raise

    def update_metadata(
        self, session_id: str, fn: Callable[[WorkflowMetadata], WorkflowMetadata | None], touch: bool = True
    ) -> WorkflowMetadata:
        """Read-modify-write under the session's lock, so concurrent turns are all kept.

        ``fn`` may change the metadata in place (returning None) or return a new one.
        ``updatedAt`` is set to now unless ``fn`` set it or ``touch`` is false (bookkeeping
        a user never sees, such as a pid). Raises KeyError if there is none.
        """
        check_id(session_id)
        if not self._metadata_path(session_id).is_file():
            raise KeyError(session_id)
        self.ensure()
        set_aside = False
        try:
            with self._locked(self._session_dir(session_id) / SESSION_LOCK_NAME):
                meta, set_aside = self._load(session_id)
                if meta is None:
                    raise KeyError(session_id)
                before = meta.updated_at
                result = fn(meta)
                new = meta if result is None else result
                if new.session_id != session_id:
                    raise ValueError("update_metadata must not change the session id.")
                if new.updated_at == before and touch:
                    new.updated_at = utc_now()
                self._write_holding_session_lock(new, self._dump_metadata(new))
                return new
        finally:
            if set_aside:
                self._rebuild_best_effort()

    def _dump_metadata(self, meta: WorkflowMetadata) -> bytes:
        # Re-validate: a caller may have assigned a bad value to a field after construction.
        checked = WorkflowMetadata.model_validate(meta.model_dump())
        return encode_json(checked.model_dump(mode="json", by_alias=True))

    def _write_holding_session_lock(self, meta: WorkflowMetadata, data: bytes) -> None:
        try:
            atomic_write(self._metadata_path(meta.session_id), data)
        except OSError as exc:
            raise self._error(exc) from exc
        self._tighten()
        # The metadata is the truth and is safely written; the index is derived and heals
        # itself on the next read (it is then older than this file), so a failure to update
        # it is logged rather than reported as a failed write.
        try:
            self._upsert_index(IndexEntry.from_metadata(meta))
        except StoreError as exc:
            _log.warning("Threadline index not updated for %s: %s", meta.session_id, exc.message)
