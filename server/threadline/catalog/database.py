"""The catalog's SQLite database: schema, opening, setting a corrupt one aside, transactions.

Derived data: a schema change rebuilds it, a corrupt file is renamed aside (never deleted)
and rebuilt, and when even that fails the process works from a private temporary catalog.
Several processes share it: WAL, a 30 s busy timeout, write transactions taken up front.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__package__)  # log lines name the package, as before the split

SCHEMA_VERSION = 2
DB_NAME = "catalog.sqlite3"
BUSY_TIMEOUT_MS = 30_000

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


def _casefold_contains(text: str | None, needle: str) -> int:
    return 1 if text is not None and needle in text.casefold() else 0


class CatalogDatabase:
    """The database of one cache folder: one connection per thread (sqlite3 connections are
    not shared across threads), opened, checked and rebuilt on first use."""

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


def _private_dir(path: Path) -> None:
    """Create the cache folder private to the user (0700), like the agents' own folders."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
