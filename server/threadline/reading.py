"""The read side: SessionInfo, lists, searches and message pages, answered from the catalog.

One answer per id: every request joins the same three sources the same way — the
catalog (what the transcripts say, and a mirror of the project stores), the turns that
some process runs now (ours, another Threadline process's claim, the agent's own live
registry), and the project's active marker. Lists page with a keyset cursor on
(updatedAt, sessionId) and filter in SQL; a page costs O(page), whatever the history.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from threadline.agents.base import AgentAdapter, Summary
from threadline.catalog import Catalog, FileRow, SessionRow, status_of_ending
from threadline.errors import InvalidParams, SessionNotFound
from threadline.jsonl import JsonlTail
from threadline.protocol import Message, SessionInfo, SessionListParams, SessionListResult, Status

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 200


class SessionReader:
    """Builds what clients read; see the module docstring.

    ``live`` returns session id → pid of every turn running now; ``active_of`` the active
    session of a project; ``refresh`` brings one session's transcript row up to date.
    """

    def __init__(
        self,
        catalog: Catalog,
        adapters: dict[str, AgentAdapter],
        live: Callable[[], dict[str, int]],
        active_of: Callable[[str], str | None],
        refresh: Callable[[str], None],
    ) -> None:
        self.catalog = catalog
        self.adapters = adapters
        self._live = live
        self._active_of = active_of
        self._refresh = refresh

    # -- one session ------------------------------------------------------------------------
    def info(self, session_id: str, refresh: bool = True) -> SessionInfo:
        """Everything known about one session (SessionNotFound if nothing is)."""
        if refresh:
            self._refresh(session_id)
        row = self.catalog.session(session_id)
        if row is None:
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        actives: dict[str, str | None] = {}
        files, workflows = self.catalog.details([row])
        return self._build(row, self._live(), actives, files, workflows)

    def primary_file(self, session_id: str) -> FileRow | None:
        row = self.catalog.session(session_id)
        if row is None or row.file_id is None:
            return None
        return self.catalog.file_by_id(row.file_id)

    def _build(
        self,
        row: SessionRow,
        live: dict[str, int],
        actives: dict[str, str | None],
        files: dict[int, tuple[str, Summary]],
        workflows: dict[str, dict[str, Any]],
    ) -> SessionInfo:
        path, summary = files.get(row.file_id, (None, Summary())) if row.file_id is not None else (None, Summary())
        workflow = workflows.get(row.session_id)
        pid = live.get(row.session_id)
        status: Status
        last_error: str | None
        if pid is not None:
            status, last_error = "running", None
        elif workflow is not None:
            status, last_error = workflow.get("status", "completed"), workflow.get("lastError")
        else:
            status, last_error = status_of_ending(summary.ending, summary.ending_error)  # type: ignore[assignment]
        usage = summary.usage()
        if usage.cost_usd is None and workflow is not None:
            usage.cost_usd = total_cost(workflow)
        project = row.project
        if project and project not in actives:
            actives[project] = self._active_of(project)
        return SessionInfo(
            session_id=row.session_id,
            agent=row.agent,
            cwd=summary.cwd or (workflow or {}).get("cwd") or project,
            title=row.title,
            status=status,
            source="workflow" if workflow is not None else "external",
            active=bool(project) and actives.get(project) == row.session_id,
            created_at=row.created_at,
            updated_at=row.updated_at or None,
            message_count=summary.message_count,
            usage=usage,
            model=summary.model,
            git_branch=summary.git_branch,
            skill=(workflow or {}).get("skill"),
            transcript_path=path,
            pid=pid,
            last_error=last_error if status in ("failed", "interrupted", "cancelled") else None,
            parent_session_id=(workflow or {}).get("parentSessionId") or summary.parent_session_id,
        )

    # -- lists ------------------------------------------------------------------------------
    def page(self, params: SessionListParams, project: str | None) -> SessionListResult:
        """One page of a project's (or every project's) sessions, newest first."""
        live = self._live()
        after = decode_cursor(params.cursor) if params.cursor else None
        rows: Iterator[SessionRow]
        snippets: dict[str, str | None] = {}
        common: dict[str, Any] = {
            "project": project,
            "after": after,
            "statuses": params.status,
            "agents": params.agent,
            "live": list(live),
        }
        if params.query:
            rows = self._search(params.query, params.limit + 1, snippets, common)
        else:
            rows = self.catalog.page(limit=params.limit + 1, **common)
        page = []
        for row in rows:
            page.append(row)
            if len(page) > params.limit:
                break
        more = len(page) > params.limit
        page = page[: params.limit]
        actives: dict[str, str | None] = {}
        files, workflows = self.catalog.details(page)
        sessions = []
        for row in page:
            info = self._build(row, live, actives, files, workflows)
            if params.query:
                info.snippet = snippets.get(row.session_id)
            sessions.append(info)
        next_cursor = encode_cursor((page[-1].updated_at, page[-1].session_id)) if more and page else None
        active = None
        if project is not None:
            active = actives[project] if project in actives else self._active_of(project)
        return SessionListResult(sessions=sessions, next_cursor=next_cursor, active_session_id=active)

    def _search(
        self, query: str, wanted: int, snippets: dict[str, str | None], common: dict[str, Any]
    ) -> Iterator[SessionRow]:
        """Rows whose title or message text contains ``query`` (case-insensitive), in order.

        The trigram index narrows the candidates; each candidate is then checked against its
        title and transcript texts, so the result is exactly what a full scan finds. Rows
        are checked lazily: a page stops reading as soon as it is full.
        """
        needle = query.casefold()
        generations = self.catalog.search_generations(needle)
        condition = None
        if generations is not None:
            condition = (
                "(casefold_contains(s.title, ?) OR s.file_id IN (SELECT id FROM files"
                " WHERE search_gen IN (SELECT value FROM json_each(?)) OR search_to < parsed_to))",
                [needle, orjson.dumps(sorted(generations)).decode()],
            )
        found = 0
        for row in self.catalog.page(limit=0, candidates=condition, **common):
            snippet = self._match(row, needle)
            if snippet is None:
                continue
            snippets[row.session_id] = snippet
            yield row
            found += 1
            if found >= wanted:
                return

    def _match(self, row: SessionRow, needle: str) -> str | None:
        """A snippet around the first match in the title or the transcript, or None."""
        if needle in row.title.casefold():
            return snippet_of(row.title, needle)
        if row.file_id is None:
            return None
        file = self.catalog.file_by_id(row.file_id)
        if file is None:
            return None
        adapter = self.adapters.get(file.agent)
        if adapter is None or absent_from_bytes(file.path, file.parsed_to, needle):
            return None
        summarizer = adapter.summarizer(Path(file.path), None)
        tail = JsonlTail(file.path)
        opened = tail.open_new()
        if opened is None:
            return None
        records, _ = opened
        for record in records:
            if record.offset >= file.parsed_to:
                break
            summarizer.add(record.data, record.offset)
            for text in summarizer.take_search_text():
                if needle in text.casefold():
                    return snippet_of(text, needle)
        return None

    # -- messages -----------------------------------------------------------------------------
    def messages(self, session_id: str, offset: int, limit: int) -> tuple[list[Message], int]:
        """Messages ``offset`` … ``offset+limit-1`` and the total, read by byte range."""
        file = self.primary_file(session_id)
        if file is None:
            return [], 0
        adapter = self.adapters.get(file.agent)
        total = file.message_count
        if adapter is None or offset >= total or limit <= 0:
            return [], total
        offsets = self.catalog.offsets_of(file.id, total)
        messages = adapter.read_messages(Path(file.path), offsets, file.parsed_to, offset, limit)
        return messages, total


RAW_CHUNK = 4 << 20
FOLDS_TO_ASCII = (
    "\u00df\u0130\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e\u212a\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
)
"""The only characters beyond ASCII whose case folding yields ASCII letters (sharp s, dotted
capital I, long s, the Kelvin sign, the Latin ligatures, …);
``tests/unit/test_catalog.py`` recomputes the list from Python's Unicode data."""
_FOLDING_BYTES = [c.encode() for c in FOLDS_TO_ASCII]
_UNESCAPED = re.compile(r"[ -!#-.0-\[\]-~]+")
"""ASCII characters that a JSON string holds as they are (no quote, backslash, slash, control)."""


def absent_from_bytes(path: str, end: int, needle: str) -> bool:
    """True when a file's raw bytes prove no text in it contains ``needle``; False: it may.

    A search candidate whose trigrams all occur is usually a false positive; proving it on raw
    bytes costs a fraction of parsing it. The proof holds only where raw bytes and decoded
    text agree on an ASCII needle of characters JSON never escapes: no ``\\u`` escape in the
    file, and none of the few characters whose case folding yields ASCII letters
    (:data:`FOLDS_TO_ASCII`); then every match is ASCII text, written as it is, and
    lower-casing the bytes is exactly case folding it.
    """
    if not _UNESCAPED.fullmatch(needle):
        return False
    probe = needle.encode()
    overlap = len(probe)
    try:
        with open(path, "rb") as handle:
            previous = b""
            read = 0
            while read < end:
                chunk = handle.read(min(RAW_CHUNK, end - read))
                if not chunk:
                    break
                read += len(chunk)
                window = previous + chunk
                if b"\\u" in window or probe in window.lower():
                    return False
                if not window.isascii() and any(folding in window for folding in _FOLDING_BYTES):
                    return False
                previous = window[-overlap:]
    except OSError:
        return False
    return True


def total_cost(workflow: dict[str, Any]) -> float | None:
    """The sum of a workflow's turns' own costs, or None when no turn reported one."""
    costs = [t.get("costUsd") for t in workflow.get("turns", []) if isinstance(t.get("costUsd"), int | float)]
    return round(sum(costs), 9) if costs else None


def snippet_of(text: str, needle: str) -> str:
    """Up to 200 characters of ``text`` around the first case-insensitive match."""
    folded = text.casefold()
    base = text if len(folded) == len(text) else folded
    index = folded.find(needle)
    if index < 0:
        index = 0
    start = max(0, index - (SNIPPET_CHARS - len(needle)) // 2)
    piece = base[start : start + SNIPPET_CHARS]
    line = " ".join(piece.split())
    if start > 0:
        line = "…" + line[1:] if line else line
    if start + SNIPPET_CHARS < len(base):
        line = line[:-1] + "…" if line else line
    return line[:SNIPPET_CHARS]


def encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        first, second = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(first), str(second)
    except (ValueError, TypeError):
        raise InvalidParams("Invalid params: 'cursor' is not a cursor this server gave out.", field="cursor") from None
