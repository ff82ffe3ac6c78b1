"""The session catalog: one derived, rebuildable SQLite database for every agent's history.

It answers every list, search and restart without opening a transcript that has not
changed. Per transcript file it keeps the file's identity (device, inode, size, mtime), the
byte offset parsed so far and the reader's state to go on from there, the session summary,
the start offset of every Message (paging without a scan) and the text a ``query``
searches (FTS5, trigram, contentless). Per session it keeps one row that lists and
filters are served from in O(page), and a mirror of Threadline's own store entries, so
a session has the same status, source and fields wherever it is asked for.

Derived means: deleting the database loses nothing, a corrupt one is set aside and rebuilt,
and a schema change rebuilds it. Several processes (editor windows, the CLI) share it: WAL,
a busy timeout, idempotent upserts, and per-file writes that check they still continue
what is stored (see :meth:`Catalog.save_progress`).

One module per part, along the data flow: :mod:`.database` (schema, opening, set-aside,
transactions), :mod:`.files` (per-file records and Message offsets, written by the indexer),
:mod:`.search` (the trigram text index and its candidates) and :mod:`.listing` (the list
rows and the mirror of the project stores, read by lists and pages).
"""

from __future__ import annotations

from threadline.catalog.database import BUSY_TIMEOUT_MS, DB_NAME, SCHEMA_VERSION, CatalogError
from threadline.catalog.files import OFFSETS_PER_BLOCK, FileIndex, FileRow, MessageOffsets
from threadline.catalog.listing import SessionRow, status_of_ending
from threadline.catalog.search import CHUNK_BITS, SearchIndex

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHUNK_BITS",
    "DB_NAME",
    "OFFSETS_PER_BLOCK",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogError",
    "FileRow",
    "MessageOffsets",
    "SessionRow",
    "status_of_ending",
]


class Catalog(FileIndex, SearchIndex):
    """The catalog database of one cache folder; see the module docstring.

    One connection per thread (sqlite3 connections are not shared across threads).
    """
