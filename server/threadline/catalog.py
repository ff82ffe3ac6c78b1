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
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from threadline.agents.base import Summary
from threadline.protocol import DEFAULT_AGENT

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DB_NAME = "catalog.sqlite3"
BUSY_TIMEOUT_MS = 30_000
OFFSETS_PER_BLOCK = 1024
CHUNK_BITS = 24
"""A search document's rowid is ``search_gen << CHUNK_BITS | chunk``: a file read again from
the start gets a new generation, and documents of an old one are simply never matched (a
contentless FTS5 table cannot delete them)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  agent TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  session_id TEXT,
  dev INTEGER NOT NULL DEFAULT 0,
  ino INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  mtime_ns INTEGER NOT NULL DEFAULT 0,
  parsed_to INTEGER NOT NULL DEFAULT 0,
  position BLOB,
  state BLOB,
  summary BLOB,
  gen INTEGER NOT NULL DEFAULT 0,
  chunks INTEGER NOT NULL DEFAULT 0,
  search_to INTEGER NOT NULL DEFAULT 0,
  search_gen INTEGER NOT NULL DEFAULT 0,
  project TEXT,
  message_count INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT
);
CREATE INDEX IF NOT EXISTS files_session ON files(session_id);
CREATE INDEX IF NOT EXISTS files_search_behind ON files(id) WHERE search_to < parsed_to;
CREATE TABLE IF NOT EXISTS offsets (
  file_id INTEGER NOT NULL,
  block INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (file_id, block)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS generations (id INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
  body, content='', detail='none', tokenize='trigram case_sensitive 1'
);
CREATE TABLE IF NOT EXISTS workflows (
  session_id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
  path TEXT PRIMARY KEY,
  store_signature TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  project TEXT NOT NULL DEFAULT '',
  file_id INTEGER,
  workflow INTEGER NOT NULL DEFAULT 0,
  title TEXT NOT NULL,
  base_status TEXT NOT NULL,
  created_at TEXT,
  updated_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_order ON sessions(updated_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS sessions_project_order ON sessions(project, updated_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS sessions_running ON sessions(base_status) WHERE base_status = 'running';
"""


class CatalogError(Exception):
    """The catalog cannot be opened even after setting the old one aside."""


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


@dataclass(slots=True)
class SessionRow:
    """One row of the list index (the fields lists sort and filter on)."""

    session_id: str
    agent: str
    project: str
    file_id: int | None
    workflow: bool
    title: str
    base_status: str
    created_at: str | None
    updated_at: str


def status_of_ending(ending: str, error: str | None) -> tuple[str, str | None]:
    """The status of a session no process holds, from how its transcript ends."""
    if ending in ("reply", "empty"):
        return "completed", None
    if ending == "waiting":
        return "waiting_for_input", None
    if ending == "api_error":
        return "failed", error
    return "interrupted", "The conversation ends without the agent's reply."


def _casefold_contains(text: str | None, needle: str) -> int:
    return 1 if text is not None and needle in text.casefold() else 0


class Catalog:
    """The catalog database of one cache folder; see the module docstring.

    One connection per thread (sqlite3 connections are not shared across threads).
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.path = cache_dir / DB_NAME
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened = False

    # -- connection -------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if not self._opened:
                try:
                    self._open_or_rebuild()
                except (CatalogError, OSError) as exc:
                    # Never fatal: work from a private catalog of this process's own.
                    fallback = Path(tempfile.mkdtemp(prefix="threadline-catalog-"))
                    logger.error("%s Using a temporary catalog in %s instead.", exc, fallback)
                    self.cache_dir, self.path = fallback, fallback / DB_NAME
                    self._open_or_rebuild()
                self._opened = True
        return self._connect_once()

    def _connect_once(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.create_function("casefold_contains", 2, _casefold_contains, deterministic=True)
        return conn

    def _open_or_rebuild(self) -> None:
        """Open the database, creating it; set a corrupt one aside; rebuild on a schema change."""
        _private_dir(self.cache_dir)
        set_aside = False
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                conn = self._connect_once()
                try:
                    self._ensure_schema(conn)
                finally:
                    conn.close()
                with suppress(OSError):
                    os.chmod(self.path, 0o600)
                return
            except sqlite3.OperationalError as exc:
                # Another process is creating or converting it right now: that is not
                # corruption. Wait for it (switching to WAL may refuse instead of waiting).
                busy = "locked" in str(exc) or "busy" in str(exc)
                if busy and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if set_aside:
                    raise CatalogError(f"The session catalog {self.path} cannot be opened: {exc}.") from exc
                self._set_aside(str(exc))
                set_aside = True
            except sqlite3.DatabaseError as exc:
                if set_aside:
                    raise CatalogError(f"The session catalog {self.path} cannot be opened: {exc}.") from exc
                self._set_aside(str(exc))
                set_aside = True

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            conn.execute("SELECT count(*) FROM sessions").fetchone()
            return
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if version != 0 or tables:
            conn.close()
            logger.info("the session catalog has schema %s, this Threadline %s: rebuilding it", version, SCHEMA_VERSION)
            self._remove_files()
            conn = self._connect_once()
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _files(self) -> list[Path]:
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]

    def _remove_files(self) -> None:
        for path in self._files():
            with suppress(FileNotFoundError):
                path.unlink()

    def _set_aside(self, reason: str) -> None:
        """Rename a corrupt database (never delete it) so a new one can be built."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for path in self._files():
            if path.exists():
                target = path.with_name(f"{path.name}.corrupt-{stamp}")
                with suppress(OSError):
                    os.replace(path, target)
        logger.warning("the session catalog %s was unreadable (%s); it is kept aside and rebuilt", self.path, reason)

    def recover(self, exc: sqlite3.DatabaseError) -> None:
        """A query found the database corrupt: set it aside and start a new one."""
        with self._lock:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.close()
                self._local.conn = None
            self._set_aside(str(exc))
            self._opened = False

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front, so two writers never deadlock on upgrade."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- files ------------------------------------------------------------------------------
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

    def details(self, rows: Sequence[SessionRow]) -> tuple[dict[int, tuple[str, Summary]], dict[str, dict[str, Any]]]:
        """What a page of sessions shows, in two queries: file id → (path, Summary) and
        session id → store entry (the mirror)."""
        file_ids = [r.file_id for r in rows if r.file_id is not None]
        flows = [r.session_id for r in rows if r.workflow]
        files: dict[int, tuple[str, Summary]] = {}
        workflows: dict[str, dict[str, Any]] = {}
        if file_ids:
            found = self.conn.execute(
                "SELECT id, path, summary FROM files WHERE id IN (SELECT value FROM json_each(?))",
                (orjson.dumps(file_ids).decode(),),
            )
            for file_id, path, summary in found:
                files[file_id] = (path, Summary.from_dict(orjson.loads(summary)) if summary else Summary())
        if flows:
            found = self.conn.execute(
                "SELECT session_id, data FROM workflows WHERE session_id IN (SELECT value FROM json_each(?))",
                (orjson.dumps(flows).decode(),),
            )
            workflows = {session_id: orjson.loads(data) for session_id, data in found}
        return files, workflows

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

    # -- workflows (a mirror of the project stores) ---------------------------------------------
    def put_workflows(self, project: str, entries: Iterable[dict[str, Any]], replace: bool = False) -> None:
        """Mirror store entries (their JSON); ``replace`` drops the project's others."""
        entries = list(entries)
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO projects (path) VALUES (?)", (project,))
            touched = {str(e["sessionId"]) for e in entries}
            if replace:
                gone = [
                    r[0]
                    for r in conn.execute("SELECT session_id FROM workflows WHERE project = ?", (project,))
                    if r[0] not in touched
                ]
                for session_id in gone:
                    conn.execute("DELETE FROM workflows WHERE session_id = ?", (session_id,))
                    self._sync_session(conn, session_id)
            for entry in entries:
                conn.execute(
                    "INSERT OR REPLACE INTO workflows (session_id, project, data) VALUES (?, ?, ?)",
                    (entry["sessionId"], project, orjson.dumps(entry)),
                )
                self._sync_session(conn, str(entry["sessionId"]))

    def workflow(self, session_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM workflows WHERE session_id = ?", (session_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def workflows_of(self, project: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT data FROM workflows WHERE project = ?", (project,))
        return [orjson.loads(r[0]) for r in rows]

    def running_workflows(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT w.data FROM workflows w JOIN sessions s USING (session_id) WHERE s.base_status = 'running'"
        )
        return [orjson.loads(r[0]) for r in rows]

    def projects(self) -> dict[str, str | None]:
        """Every project that holds a Threadline store → the store signature last mirrored."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT path, store_signature FROM projects")}

    def set_store_signature(self, project: str, signature: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO projects (path, store_signature) VALUES (?, ?)"
                " ON CONFLICT(path) DO UPDATE SET store_signature = excluded.store_signature",
                (project, signature),
            )

    # -- the list index -----------------------------------------------------------------------
    def _sync_session(self, conn: sqlite3.Connection, session_id: str) -> None:
        """Recompute one session's list row from its files and its store entry."""
        files = conn.execute(
            "SELECT id, agent, project, summary, message_count, updated_at FROM files WHERE session_id = ?"
            " ORDER BY message_count DESC, updated_at DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        wf_row = conn.execute("SELECT data, project FROM workflows WHERE session_id = ?", (session_id,)).fetchone()
        if files is None and wf_row is None:
            conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
            return
        summary = Summary.from_dict(orjson.loads(files[3])) if files and files[3] else Summary()
        workflow = orjson.loads(wf_row[0]) if wf_row else None
        title = summary.custom_title or (workflow or {}).get("title") or summary.first_prompt or "(untitled)"
        if workflow is not None:
            status = str(workflow.get("status", "completed"))
        else:
            status = status_of_ending(summary.ending, summary.ending_error)[0]
        created = [v for v in (summary.created_at, (workflow or {}).get("createdAt")) if v]
        updated = [v for v in (summary.updated_at, (workflow or {}).get("updatedAt")) if v]
        project = (files[2] if files else None) or (wf_row[1] if wf_row else None) or ""
        agent = (workflow or {}).get("agent") or (files[1] if files else DEFAULT_AGENT)
        conn.execute(
            "INSERT OR REPLACE INTO sessions (session_id, agent, project, file_id, workflow, title, base_status,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                agent,
                project,
                files[0] if files else None,
                1 if workflow is not None else 0,
                title,
                status,
                min(created) if created else None,
                max(updated) if updated else "",
            ),
        )

    def session(self, session_id: str) -> SessionRow | None:
        row = self.conn.execute(
            "SELECT session_id, agent, project, file_id, workflow, title, base_status, created_at, updated_at"
            " FROM sessions WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        return _session_row(row) if row else None

    def ids_with_prefix(self, prefix: str, project: str | None) -> list[str]:
        """Session ids that start with ``prefix`` (an index range scan, not a listing)."""
        upper = prefix + "\uffff"
        if project is None:
            rows = self.conn.execute(
                "SELECT session_id FROM sessions WHERE session_id >= ? AND session_id < ?", (prefix, upper)
            )
        else:
            rows = self.conn.execute(
                "SELECT session_id FROM sessions WHERE session_id >= ? AND session_id < ? AND project = ?",
                (prefix, upper, project),
            )
        return sorted(r[0] for r in rows)

    def session_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT session_id FROM sessions")}

    def page(
        self,
        *,
        project: str | None,
        after: tuple[str, str] | None,
        limit: int,
        statuses: Sequence[str] | None,
        agents: Sequence[str] | None,
        live: Sequence[str],
        candidates: tuple[str, list[Any]] | None = None,
    ) -> Iterator[SessionRow]:
        """Sessions newest first from a keyset cursor, filtered in SQL.

        ``live`` are the ids some process runs now (their status is ``running`` whatever the
        stored one); ``candidates`` is an extra SQL condition on ``s`` from a search. Yields
        rows lazily so a search can stop as soon as its page is full.
        """
        where: list[str] = []
        args: list[Any] = []
        if project is not None:
            where.append("s.project = ?")
            args.append(project)
        if after is not None:
            where.append("(s.updated_at < ? OR (s.updated_at = ? AND s.session_id < ?))")
            args += [after[0], after[0], after[1]]
        if agents:
            where.append(f"s.agent IN ({','.join('?' * len(agents))})")
            args += list(agents)
        if statuses is not None:
            live_json = orjson.dumps(list(live)).decode()
            wanted = list(statuses)
            marks = ",".join("?" * len(wanted)) or "NULL"
            running = "running" in wanted
            where.append(
                f"(CASE WHEN s.session_id IN (SELECT value FROM json_each(?)) THEN {1 if running else 0}"
                f" ELSE s.base_status IN ({marks}) END)"
            )
            args += [live_json, *wanted]
        if candidates:
            where.append(candidates[0])
            args += candidates[1]
        sql = (
            "SELECT s.session_id, s.agent, s.project, s.file_id, s.workflow, s.title, s.base_status, s.created_at,"
            " s.updated_at FROM sessions s"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY s.updated_at DESC, s.session_id DESC"
            + (f" LIMIT {int(limit)}" if limit > 0 else "")
        )
        for row in self.conn.execute(sql, args):
            yield _session_row(row)

    # -- search -------------------------------------------------------------------------------
    def search_backlog(self) -> list[tuple[int, str, str]]:
        """(file id, agent, path) of files whose search text lags what was parsed, newest first."""
        rows = self.conn.execute(
            "SELECT id, agent, path FROM files WHERE search_to < parsed_to ORDER BY updated_at DESC"
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def replace_search_text(self, file_id: int, parsed_to: int, bodies: Iterable[str]) -> bool:
        """Index a whole file's search text under a new generation, if the file is still as
        it was read (``parsed_to``); False when it moved on meanwhile (it is read again later)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT parsed_to FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None or row[0] != parsed_to:
                return False
            gen = conn.execute("INSERT INTO generations DEFAULT VALUES").lastrowid or 0
            chunks = 0
            for body in bodies:
                conn.execute("INSERT INTO search (rowid, body) VALUES (?, ?)", ((gen << CHUNK_BITS) | chunks, body))
                chunks += 1
            conn.execute(
                "UPDATE files SET search_gen = ?, chunks = ?, search_to = ? WHERE id = ?",
                (gen, chunks, parsed_to, file_id),
            )
        return True

    def search_generations(self, needle: str) -> set[int] | None:
        """Search generations whose text may contain ``needle`` (casefolded); None: no index can tell.

        The trigram index is a superset filter: every text that contains the needle holds
        all of its trigrams, so no true match is ever lost; the read side checks each
        candidate. A needle shorter than three characters has no trigram.
        """
        grams = {needle[i : i + 3] for i in range(len(needle) - 2)}
        if not grams:
            return None
        picked = sorted(grams, key=lambda g: (-len(set(g)), g))[:16]
        query = " AND ".join('"' + g.replace('"', '""') + '"' for g in picked)
        rows = self.conn.execute("SELECT rowid FROM search WHERE search MATCH ?", (query,))
        return {r[0] >> CHUNK_BITS for r in rows}


class MessageOffsets(Sequence[int]):
    """A file's Message start offsets as a sequence that reads only the blocks it is asked
    for: a page of a 300 MB transcript costs one or two small queries."""

    def __init__(self, catalog: Catalog, file_id: int, count: int) -> None:
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


def _session_row(row: Sequence[Any]) -> SessionRow:
    return SessionRow(
        session_id=row[0],
        agent=row[1],
        project=row[2],
        file_id=row[3],
        workflow=bool(row[4]),
        title=row[5],
        base_status=row[6],
        created_at=row[7],
        updated_at=row[8],
    )


def _private_dir(path: Path) -> None:
    """Create the cache folder private to the user (0700), like the agents' own folders."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
