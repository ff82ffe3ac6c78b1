"""The catalog's search text: a contentless FTS5 trigram index that picks candidates.

A query's trigrams select the transcript files that may contain it; the read side checks
each candidate's texts, so a search answers exactly what a full scan would, without one.
"""

from __future__ import annotations

from collections.abc import Iterable

from threadline.catalog.database import CatalogDatabase

CHUNK_BITS = 24
"""A search document's rowid is ``search_gen << CHUNK_BITS | chunk``: a file read again from
the start gets a new generation, and documents of an old one are simply never matched (a
contentless FTS5 table cannot delete them)."""


class SearchIndex(CatalogDatabase):
    """The ``search`` table: per-file search text under a generation, and its candidates."""

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
