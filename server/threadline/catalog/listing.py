"""The catalog's list index and its mirror of the project stores.

One ``sessions`` row per session, recomputed from its best transcript file and its store
entry whenever either changes, is what lists sort, filter and page on (keyset, O(page)).
``workflows`` mirrors the stores' metadata (the store stays the truth) so a session has one
status and one title wherever it is asked for; ``projects`` records every project that
holds a store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from threadline.agents.base import Summary
from threadline.catalog.database import CatalogDatabase
from threadline.protocol import DEFAULT_AGENT


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


class SessionIndex(CatalogDatabase):
    """The ``sessions`` list rows and the ``workflows`` / ``projects`` store mirror."""

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
