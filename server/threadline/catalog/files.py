"""The catalog's per-file records: what the indexer read of each transcript, and where.

Per file: its identity (device, inode, size, mtime), the byte offset parsed so far and the
reader's state to go on from there, the Summary, and the start offset of every Message in
blocks of 1,024 (a page is one small query and one byte-range read). A save checks it still
continues what is stored, so two processes indexing one tree never double a file.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from threadline.agents.base import Summary
from threadline.catalog.listing import SessionIndex
from threadline.catalog.search import CHUNK_BITS

OFFSETS_PER_BLOCK = 1024


@dataclass(slots=True)
class FileRow:
    """What the catalog holds about one transcript file."""

    id: int
    agent: str
    path: str
    session_id: str | None
    dev: int
    ino: int
    size: int
    mtime_ns: int
    parsed_to: int
    position: dict[str, Any]
    state: dict[str, Any] | None
    gen: int
    chunks: int
    message_count: int

    @property
    def summary(self) -> Summary:
        return Summary.from_dict((self.state or {}).get("summary", {}))


class FileIndex(SessionIndex):
    """The ``files`` and ``offsets`` tables; every change re-syncs the session's list row."""

    _FILE_COLUMNS = (
        "id, agent, path, session_id, dev, ino, size, mtime_ns, parsed_to, position, state, gen, chunks, message_count"
    )

    @staticmethod
    def _file_row(row: Sequence[Any]) -> FileRow:
        return FileRow(
            id=row[0],
            agent=row[1],
            path=row[2],
            session_id=row[3],
            dev=row[4],
            ino=row[5],
            size=row[6],
            mtime_ns=row[7],
            parsed_to=row[8],
            position=orjson.loads(row[9]) if row[9] else {},
            state=orjson.loads(row[10]) if row[10] else None,
            gen=row[11],
            chunks=row[12],
            message_count=row[13],
        )

    def file(self, path: str) -> FileRow | None:
        row = self.conn.execute(f"SELECT {self._FILE_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return self._file_row(row) if row else None

    def file_by_id(self, file_id: int) -> FileRow | None:
        row = self.conn.execute(f"SELECT {self._FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)).fetchone()
        return self._file_row(row) if row else None

    def files_of(self, session_id: str) -> list[FileRow]:
        rows = self.conn.execute(f"SELECT {self._FILE_COLUMNS} FROM files WHERE session_id = ?", (session_id,))
        return [self._file_row(r) for r in rows]

    def file_signatures(self, agent: str) -> dict[str, tuple[int, int, int, int]]:
        """path → (dev, ino, size, mtime_ns) of every file of one agent (what a rescan compares)."""
        rows = self.conn.execute("SELECT path, dev, ino, size, mtime_ns FROM files WHERE agent = ?", (agent,))
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def file_states(self) -> dict[str, tuple[int, int, int]]:
        """path → (gen, parsed_to, message_count): what this process has seen of each file."""
        rows = self.conn.execute("SELECT path, gen, parsed_to, message_count FROM files")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def save_progress(
        self,
        *,
        agent: str,
        path: str,
        expect: tuple[int, int] | None,
        reset: bool,
        identity: tuple[int, int],
        size: int,
        mtime_ns: int,
        parsed_to: int,
        position: dict[str, Any],
        state: dict[str, Any],
        summary: Summary,
        project: str | None,
        first_index: int,
        offsets: Sequence[int],
        texts: Iterable[str],
        search: bool = True,
    ) -> tuple[int, int] | None:
        """Record what one reader parsed, atomically; None if another process got there first.

        ``expect`` is the (generation, parsed_to) this reader started from (None: a file the
        catalog did not have). If the stored row moved on meanwhile, nothing is written: the
        other writer's work stands and this one is dropped, so two processes indexing one
        tree end with one row per file and no doubled offsets or search text.
        Returns the new (generation, parsed_to).

        The search text goes into the index here when the file's index is in step
        (``search_to == parsed_to``) and ``search`` is true; a bulk first indexing passes
        false and leaves it to :meth:`index_search_text`, which is what makes it slow.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, gen, parsed_to, chunks, search_to, search_gen FROM files WHERE path = ?", (path,)
            ).fetchone()
            current = None if row is None else (row[1], row[2])
            if current != expect and not (expect is None and row is None):
                return None
            if row is None or reset:
                gen = conn.execute("INSERT INTO generations DEFAULT VALUES").lastrowid or 0
                chunks, search_to, search_gen = 0, 0, gen
            else:
                gen, chunks, search_to, search_gen = row[1], row[3], row[4], row[5]
            in_step = search and search_to == (0 if row is None or reset else row[2])
            body = "\n".join(t.casefold() for t in texts if t) if in_step else ""
            if in_step:
                search_to = parsed_to
            values = (
                agent,
                summary.session_id,
                identity[0],
                identity[1],
                size,
                mtime_ns,
                parsed_to,
                orjson.dumps(position),
                orjson.dumps(state),
                orjson.dumps(summary.to_dict()),
                gen,
                chunks + (1 if body else 0),
                search_to,
                search_gen,
                project,
                summary.message_count,
                summary.updated_at,
            )
            if row is None:
                file_id = conn.execute(
                    "INSERT INTO files (agent, session_id, dev, ino, size, mtime_ns, parsed_to, position, state,"
                    " summary, gen, chunks, search_to, search_gen, project, message_count, updated_at, path)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, path),
                ).lastrowid
                assert file_id is not None
            else:
                file_id = row[0]
                conn.execute(
                    "UPDATE files SET agent = ?, session_id = ?, dev = ?, ino = ?, size = ?, mtime_ns = ?,"
                    " parsed_to = ?, position = ?, state = ?, summary = ?, gen = ?, chunks = ?, search_to = ?,"
                    " search_gen = ?, project = ?, message_count = ?, updated_at = ? WHERE id = ?",
                    (*values, file_id),
                )
                if reset:
                    conn.execute("DELETE FROM offsets WHERE file_id = ?", (file_id,))
            self._write_offsets(conn, file_id, first_index, offsets, summary.message_count)
            if body:
                conn.execute(
                    "INSERT INTO search (rowid, body) VALUES (?, ?)", ((search_gen << CHUNK_BITS) | chunks, body)
                )
            if summary.session_id:
                self._sync_session(conn, summary.session_id)
        return gen, parsed_to

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """The file changed on disk but held nothing new to parse (a torn line grew)."""
        with self.transaction() as conn:
            conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    @staticmethod
    def _write_offsets(conn: sqlite3.Connection, file_id: int, first: int, offsets: Sequence[int], count: int) -> None:
        """Store offsets[i] as the start of Message ``first + i``; drop any past ``count``."""
        if offsets:
            index = first
            position = 0
            while position < len(offsets):
                block, within = divmod(index, OFFSETS_PER_BLOCK)
                take = min(OFFSETS_PER_BLOCK - within, len(offsets) - position)
                row = conn.execute(
                    "SELECT data FROM offsets WHERE file_id = ? AND block = ?", (file_id, block)
                ).fetchone()
                values = array("q")
                if row is not None:
                    values.frombytes(row[0])
                del values[within:]
                values.extend([0] * (within - len(values)))
                values.extend(offsets[position : position + take])
                conn.execute(
                    "INSERT OR REPLACE INTO offsets (file_id, block, data) VALUES (?, ?, ?)",
                    (file_id, block, values.tobytes()),
                )
                index += take
                position += take
        last_block = (count - 1) // OFFSETS_PER_BLOCK if count else -1
        conn.execute("DELETE FROM offsets WHERE file_id = ? AND block > ?", (file_id, last_block))

    def offsets(self, file_id: int, start: int, stop: int) -> list[int]:
        """Start offsets of Messages ``start`` … ``stop - 1`` (fewer where the file has fewer)."""
        if stop <= start:
            return []
        first, last = start // OFFSETS_PER_BLOCK, (stop - 1) // OFFSETS_PER_BLOCK
        rows = self.conn.execute(
            "SELECT block, data FROM offsets WHERE file_id = ? AND block BETWEEN ? AND ? ORDER BY block",
            (file_id, first, last),
        )
        values = array("q")
        base = first * OFFSETS_PER_BLOCK
        for block, data in rows:
            if block * OFFSETS_PER_BLOCK != base + len(values):
                break
            values.frombytes(data)
        return list(values[start - base : stop - base])

    def offsets_of(self, file_id: int, count: int) -> MessageOffsets:
        """Every Message's start offset of one file, read from the catalog as indexed."""
        return MessageOffsets(self, file_id, count)

    def remove_file(self, path: str) -> str | None:
        """Forget a transcript that is gone; returns its session id."""
        with self.transaction() as conn:
            row = conn.execute("SELECT id, session_id FROM files WHERE path = ?", (path,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM offsets WHERE file_id = ?", (row[0],))
            conn.execute("DELETE FROM files WHERE id = ?", (row[0],))
            if row[1]:
                self._sync_session(conn, row[1])
            return str(row[1]) if row[1] else None


class MessageOffsets(Sequence[int]):
    """A file's Message start offsets as a sequence that reads only the blocks it is asked
    for: a page of a 300 MB transcript costs one or two small queries."""

    def __init__(self, catalog: FileIndex, file_id: int, count: int) -> None:
        self._catalog = catalog
        self._file_id = file_id
        self._count = count
        self._blocks: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self._count

    def _at(self, index: int) -> int:
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        block, within = divmod(index, OFFSETS_PER_BLOCK)
        values = self._blocks.get(block)
        if values is None:
            start = block * OFFSETS_PER_BLOCK
            values = self._blocks[block] = self._catalog.offsets(
                self._file_id, start, min(self._count, start + OFFSETS_PER_BLOCK)
            )
        return values[within]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(self._count))]
        return self._at(index)
