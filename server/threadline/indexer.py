"""Reading transcripts into the catalog: only files that changed, only from the stored offset.

A file whose (device, inode, size, mtime) equals what the catalog recorded is not opened.
A changed one is read from the stored byte offset with the stored reader state; a
truncated or replaced one (a new inode, or shorter than what was parsed) from 0. Progress
is saved every few MiB, so a 300 MB transcript is never held in memory and a kill -9 in
the middle loses at most one step (each save is one transaction).

The first indexing of a large history runs in worker processes (parsing is CPU-bound and
Python threads would share one core), newest files first, each worker writing its own
transactions to the shared catalog; smaller work runs in the calling thread.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from threadline.agents.base import AgentAdapter
from threadline.catalog import Catalog
from threadline.jsonl import JsonlTail

logger = logging.getLogger(__name__)

SAVE_EVERY_BYTES = 8 * 1024 * 1024
PARALLEL_BYTES = 48 * 1024 * 1024
"""Below this much to read, worker processes cost more than they save."""
BATCH_FILES = 32
SEARCH_DOCUMENT_CHARS = 1 << 20
FIRST_BYTES = 8 * 1024 * 1024
"""How much of the newest history a bulk indexing reads itself before its workers run."""


@dataclass(slots=True)
class Work:
    """One file to (re)read: which agent, where, and its stat for ordering."""

    agent: str
    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Outcome:
    """What :func:`index_file` did to one file."""

    status: str
    """``indexed``, ``unchanged``, ``touched`` (nothing new to parse), ``gone`` or ``raced``."""
    touched_from: int | None = None
    reset: bool = False
    expected: tuple[int, int] | None = None
    """The (generation, parsed_to) the read started from."""


class Realpaths:
    """``os.path.realpath`` of a session's cwd, once per distinct cwd (it costs syscalls)."""

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def __call__(self, cwd: str | None) -> str | None:
        if not cwd:
            return None
        found = self._cache.get(cwd)
        if found is None:
            found = self._cache[cwd] = os.path.realpath(cwd)
        return found


def signature(path: str) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime_ns) of a regular file, None for anything else or an error."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat_module.S_ISREG(info.st_mode):
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def index_file(catalog: Catalog, adapter: AgentAdapter, path: str, realpath: Realpaths, search: bool = True) -> Outcome:
    """Bring one file's catalog row up to date (see the module docstring).

    ``search`` false leaves the search text to :func:`index_search_text` (a bulk first indexing:
    the trigram index costs several times the parsing)."""
    row = catalog.file(path)
    tail = JsonlTail(path)
    state = None
    expect: tuple[int, int] | None = None
    if row is not None:
        sig = signature(path)
        if sig is not None and sig == (row.dev, row.ino, row.size, row.mtime_ns):
            return Outcome("unchanged", expected=(row.gen, row.parsed_to))
        tail.restore(row.position, (row.dev, row.ino))
        state = row.state
        expect = (row.gen, row.parsed_to)
    opened = tail.open_new()
    if opened is None:
        return Outcome("gone", expected=expect)
    records, reset = opened
    if reset:
        state = None
    summarizer = adapter.summarizer(Path(path), state)
    known = len(summarizer.offsets)
    """Offsets the summarizer already had (one that keeps them all in its state)."""
    touched: int | None = 0 if reset else None
    saved_at = tail.offset

    def save(complete: bool) -> bool:
        """Record the progress; an incomplete step records no size, so a rescan goes on."""
        nonlocal expect, touched, saved_at, reset, known
        step = summarizer.take_touched()
        if step is not None and (touched is None or step < touched):
            touched = step
        summary = summarizer.summary
        offsets = summarizer.offsets
        added = offsets[known:]
        result = catalog.save_progress(
            agent=adapter.id,
            path=path,
            expect=expect,
            reset=reset,
            identity=tail.identity or (0, 0),
            size=tail.size if complete else -1,
            mtime_ns=tail.mtime_ns,
            parsed_to=tail.offset,
            position=tail.position(),
            state=summarizer.state(),
            summary=summary,
            project=realpath(summary.cwd),
            first_index=summary.message_count - len(added),
            offsets=added,
            texts=summarizer.take_search_text(),
            search=search,
        )
        if result is None:
            return False
        expect, reset, saved_at = result, False, tail.offset
        known = len(offsets)
        return True

    started = (expect, reset)
    for record in records:
        summarizer.add(record.data, record.offset)
        if tail.offset - saved_at >= SAVE_EVERY_BYTES and not save(complete=False):
            return Outcome("raced", expected=started[0])
    if row is not None and not started[1] and tail.offset == row.parsed_to:
        catalog.touch_file(path, tail.size, tail.mtime_ns)
        return Outcome("touched", expected=started[0])
    if not save(complete=True):
        return Outcome("raced", expected=started[0])
    return Outcome("indexed", touched_from=touched, reset=started[1], expected=started[0])


def scan(catalog: Catalog, adapters: Iterable[AgentAdapter]) -> tuple[list[Work], list[str]]:
    """Files that changed since the catalog saw them (newest first), and paths now gone."""
    work: list[Work] = []
    gone: list[str] = []
    for adapter in adapters:
        known = catalog.file_signatures(adapter.id)
        for found in adapter.iter_transcripts():
            path = str(found)
            sig = signature(path)
            if sig is None:
                continue
            if known.pop(path, None) != sig:
                work.append(Work(adapter.id, path, sig[2], sig[3]))
        gone.extend(p for p in known if not os.path.lexists(p))
    work.sort(key=lambda w: w.mtime_ns, reverse=True)
    return work, gone


def search_bodies(adapter: AgentAdapter, path: str, end: int) -> Iterator[str]:
    """A file's search text up to byte ``end``, casefolded, in documents of about 1 MiB."""
    summarizer = adapter.summarizer(Path(path), None)
    opened = JsonlTail(path).open_new()
    if opened is None:
        return
    records, _ = opened
    pending: list[str] = []
    size = 0
    for record in records:
        if record.offset >= end:
            break
        summarizer.add(record.data, record.offset)
        for text in summarizer.take_search_text():
            if text:
                pending.append(text.casefold())
                size += len(text)
        if size >= SEARCH_DOCUMENT_CHARS:
            yield "\n".join(pending)
            pending, size = [], 0
    if pending:
        yield "\n".join(pending)


def index_search_text(catalog: Catalog, adapters: dict[str, AgentAdapter], file_id: int, agent: str, path: str) -> bool:
    """Index one lagging file's search text (see :meth:`Catalog.replace_search_text`)."""
    row = catalog.file_by_id(file_id)
    adapter = adapters.get(agent)
    if row is None or adapter is None or row.path != path:
        return False
    return catalog.replace_search_text(file_id, row.parsed_to, search_bodies(adapter, path, row.parsed_to))


def _worker_state(cache_dir: str, agents: dict[str, str]) -> tuple[Catalog, dict[str, AgentAdapter]]:
    from threadline.agents.registry import make_adapter

    catalog = Catalog(Path(cache_dir))
    return catalog, {agent_id: make_adapter(agent_id, Path(home)) for agent_id, home in agents.items()}


def _index_batch(cache_dir: str, agents: dict[str, str], batch: list[tuple[str, str]]) -> int:
    """Worker process: index a batch of files into the shared catalog (returns how many)."""
    catalog, adapters = _worker_state(cache_dir, agents)
    realpath = Realpaths()
    for agent_id, path in batch:
        try:
            index_file(catalog, adapters[agent_id], path, realpath, search=False)
        except Exception:
            logger.exception("indexing %s failed", path)
    catalog.close()
    return len(batch)


def _search_batch(cache_dir: str, agents: dict[str, str], batch: list[tuple[int, str, str]]) -> int:
    """Worker process: index the search text of a batch of files."""
    catalog, adapters = _worker_state(cache_dir, agents)
    for file_id, agent_id, path in batch:
        try:
            index_search_text(catalog, adapters, file_id, agent_id, path)
        except Exception:
            logger.exception("indexing the text of %s failed", path)
    catalog.close()
    return len(batch)


def index_all(
    catalog: Catalog,
    adapters: dict[str, AgentAdapter],
    work: list[Work],
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> None:
    """Read every file of ``work`` into the catalog, in worker processes when it pays.

    Small work (a restart, a CLI call) indexes search text as it goes; a bulk first
    indexing leaves it to :func:`index_search_backlog`, so that lists are complete sooner.
    """
    total = len(work)
    if not total:
        return
    size = sum(w.size for w in work)
    cores = workers if workers is not None else min(2, os.cpu_count() or 1)
    if size < PARALLEL_BYTES or cores < 2:
        realpath = Realpaths()
        for done, item in enumerate(work, 1):
            try:
                index_file(catalog, adapters[item.agent], item.path, realpath, search=size < PARALLEL_BYTES)
            except Exception:
                logger.exception("indexing %s failed", item.path)
            if progress is not None and (done % BATCH_FILES == 0 or done == total):
                progress(done, total)
        return
    # The newest files first, here, while the workers start (that takes a few hundred ms):
    # the recent sessions are listed at once.
    head, taken = 0, 0
    realpath = Realpaths()
    while head < total and taken < FIRST_BYTES:
        item = work[head]
        try:
            index_file(catalog, adapters[item.agent], item.path, realpath, search=False)
        except Exception:
            logger.exception("indexing %s failed", item.path)
        taken += item.size
        head += 1
    if progress is not None:
        progress(head, total)
    rest = work[head:]
    batches = [
        [(w.agent, w.path) for w in rest[start : start + BATCH_FILES]] for start in range(0, len(rest), BATCH_FILES)
    ]
    _in_workers(catalog, adapters, _index_batch, batches, cores, progress, total, done=head)


def index_search_backlog(catalog: Catalog, adapters: dict[str, AgentAdapter], workers: int | None = None) -> int:
    """Index the search text a bulk indexing left out, newest files first; returns how many."""
    backlog = catalog.search_backlog()
    if not backlog:
        return 0
    cores = workers if workers is not None else min(2, os.cpu_count() or 1)
    if len(backlog) < BATCH_FILES or cores < 2:
        for file_id, agent, path in backlog:
            try:
                index_search_text(catalog, adapters, file_id, agent, path)
            except Exception:
                logger.exception("indexing the text of %s failed", path)
        return len(backlog)
    batches = [backlog[start : start + BATCH_FILES] for start in range(0, len(backlog), BATCH_FILES)]
    _in_workers(catalog, adapters, _search_batch, batches, cores, None, len(backlog))
    return len(backlog)


def _in_workers(
    catalog: Catalog,
    adapters: dict[str, AgentAdapter],
    task: Callable[[str, dict[str, str], Any], int],
    batches: list[Any],
    cores: int,
    progress: Callable[[int, int], None] | None,
    total: int,
    done: int = 0,
) -> None:
    """Run batches in ``cores`` worker processes (spawned: the server has threads)."""
    agents = {a.id: str(a.home) for a in adapters.values()}
    left: list[Any] = []
    with ProcessPoolExecutor(max_workers=cores, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(task, str(catalog.cache_dir), agents, batch): batch for batch in batches}
        for future in as_completed(futures):
            try:
                done += future.result()
            except BrokenProcessPool:
                left.append(futures[future])
                continue
            except Exception:
                logger.exception("an indexing worker failed")
            if progress is not None:
                progress(done, total)
    if left:
        # The workers could not run (or died): do their part here, once, without a pool.
        logger.warning("indexing workers were lost; reading %d batches in this process", len(left))
        for batch in left:
            done += task(str(catalog.cache_dir), agents, batch)
            if progress is not None:
                progress(done, total)
