"""The transport-free core: every session of every agent, one id each, one answer per id.

:class:`SessionManager` wires the parts along the data flow and is what the JSON-RPC
layer and the CLI call:

* the adapters (``agents/``) say where each agent keeps its sessions and how to read them;
* the indexer (``indexer.py``) reads what changed into the catalog (``catalog/``);
* the read side (``reading.py``) answers lists, searches, pages and SessionInfo from the
  catalog, the turns running now and the active markers;
* the write side (``turns.py``) starts, resumes, forks and cancels turns behind the busy
  guard (``claims.py``) and records them in the project store (``store/``);
* liveness (``liveness.py``) knows which turns other processes run, and when they end.

It knows nothing of JSON-RPC: requests come in as method calls, and what a client should
hear about goes out through :class:`SessionEvents`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from threadline.agents.base import AgentAdapter, AgentCommand
from threadline.agents.registry import build_adapters
from threadline.catalog import Catalog, status_of_ending
from threadline.config import Options
from threadline.errors import AgentUnavailable, InvalidParams, SessionNotFound
from threadline.indexer import (
    Outcome,
    Realpaths,
    Work,
    index_all,
    index_file,
    index_search_backlog,
    scan,
    signature,
)
from threadline.liveness import ForeignTurns, registry_of
from threadline.protocol import (
    DEFAULT_AGENT,
    Message,
    SessionInfo,
    SessionListParams,
    SessionListResult,
    SessionMessagesResult,
    StartResult,
    WorkflowStartParams,
)
from threadline.reading import SessionReader
from threadline.runs import AgentRun
from threadline.store import ProjectStore, WorkflowMetadata
from threadline.turns import ResumeRequest, Stores, TurnWriter

logger = logging.getLogger(__name__)

Progress = Callable[[int], Awaitable[Callable[[int, int], None] | None]]
"""Given how many files an indexing reads, returns a callback told (done, total), or None."""

MAX_APPENDED = 500
"""At most this many Messages in one ``session/updated`` (protocol §4)."""


@dataclass(slots=True)
class Refresh:
    """What changed in a session's transcript, for ``session/updated``."""

    appended_from: int | None = None
    """Index of the first Message created or grown (None when no Message changed)."""
    reset: bool = False


class SessionEvents(Protocol):
    """Where the core reports what clients should hear about."""

    def session_detected(self, info: SessionInfo) -> None: ...

    def session_changed(self, session_id: str, refresh: Refresh | None) -> None: ...

    def session_removed(self, session_id: str) -> None: ...


class SessionManager(ForeignTurns):
    """See the module docstring."""

    def __init__(self, options: Options, events: SessionEvents) -> None:
        self.options = options
        self.events = events
        self.adapters: dict[str, AgentAdapter] = build_adapters(
            {agent_id: agent.home or options.claude_config_dir for agent_id, agent in options.agents.items()},
            {agent_id: AgentCommand(agent.command, agent.env) for agent_id, agent in options.agents.items()},
        )
        self.catalog = Catalog(options.cache_dir)
        self.stores = Stores(self.catalog)
        self.writer = TurnWriter(
            self.catalog,
            self.adapters,
            self.stores,
            self._turn_started,
            self._turn_ended,
            lambda session_id: self.events.session_changed(session_id, None),
        )
        self.reader = SessionReader(self.catalog, self.adapters, self.live, self._active_of, self.refresh_session)
        self.realpath = Realpaths()
        self.watched: set[str] = set()
        self._seen: dict[str, tuple[int, int, int]] = self.catalog.file_states()
        self._known: set[str] = self.catalog.session_ids()
        self._restarted = bool(self._known)
        """The catalog already held sessions: a list need not wait for the start-up scan, and
        sessions that scan finds new are announced (they appeared while no server ran)."""
        self._folders: dict[str, int] = {}
        """Project transcript folder → its mtime when this process last looked for new files."""
        self._interest: set[str] = set()
        self._registry: dict[str, int] = {}
        self._foreign: dict[str, int] = {}
        self._index_task: asyncio.Future[None] | None = None
        self.indexed = asyncio.Event()
        self.search_backlog = True
        """Index search text a bulk first indexing left out, after it (a server; not the CLI)."""

    # -- projects -------------------------------------------------------------------------------
    def watch_project(self, cwd: str) -> str:
        """Watch a project: its sessions get pushes; its store is mirrored and healed."""
        real = os.path.realpath(cwd)
        if real in self.watched:
            return real
        self.watched.add(real)
        store = self.stores(real)
        if store.root.is_dir():
            try:
                store.sweep_temp_files()
            except OSError as exc:
                logger.warning("cannot clean the Threadline store of %s: %s", real, exc)
            self.sync_store(real, force=True)
            for workflow in self.catalog.workflows_of(real):
                if workflow.get("status") == "running":
                    self.refresh_session(str(workflow["sessionId"]))  # how its transcript ends
                    self._check_running(str(workflow["sessionId"]), real)
            try:
                store.heal_markers(lambda sid: self.catalog.session(sid) is not None)
            except OSError as exc:
                logger.warning("cannot heal the active marker of %s: %s", real, exc)
        return real

    def sync_store(self, project: str, force: bool = False) -> None:
        """Mirror a project's store into the catalog when its index changed on disk."""
        store = self.stores(project)
        sig = signature(str(store.index_path))
        text = None if sig is None else ":".join(map(str, sig))
        known = self.catalog.projects()
        if not force and project in known and known[project] == text:
            return
        if not store.root.is_dir():
            return
        try:
            metas = store.list_metadata()
        except OSError as exc:
            logger.warning("cannot read the Threadline store of %s: %s", project, exc)
            return
        self.catalog.put_workflows(project, (m.model_dump(mode="json", by_alias=True) for m in metas), replace=True)
        self.catalog.set_store_signature(project, text)

    def _active_of(self, project: str) -> str | None:
        store = self.stores(project)
        try:
            return store.active_session_id() if store.root.is_dir() else None
        except OSError:
            return None

    def runnable_agents(self) -> list[str]:
        """The agents whose command is found (``capabilities.experimental.threadline.agents``)."""
        found = []
        for agent_id, adapter in sorted(self.adapters.items()):
            try:
                self.writer.check_command(adapter)
            except AgentUnavailable:
                continue
            found.append(agent_id)
        return found

    def watch_roots(self) -> list[Path]:
        return [root for adapter in self.adapters.values() for root in adapter.watch_roots()]

    # -- running turns ----------------------------------------------------------------------------
    @property
    def runs(self) -> dict[str, AgentRun]:
        return self.writer.runs

    def _turn_started(self, session_id: str, new_entry: bool) -> None:
        self._interest.add(session_id)
        if not new_entry:
            self.events.session_changed(session_id, None)

    def _turn_ended(self, session_id: str) -> None:
        self.refresh_session(session_id)
        self.events.session_changed(session_id, None)

    # -- indexing ---------------------------------------------------------------------------------
    def plan_index(self) -> tuple[list[Work], list[str]]:
        """Transcripts that changed since the catalog saw them, and the ones now gone."""
        return scan(self.catalog, self.adapters.values())

    def run_index(self, work: list[Work], gone: list[str], progress: Callable[[int, int], None] | None = None) -> None:
        """Read ``work`` into the catalog (blocking: run it in a thread); forget ``gone``."""
        index_all(self.catalog, self.adapters, work, progress)
        for path in gone:
            self.catalog.remove_file(path)

    async def index_history(self, progress: Progress | None = None) -> None:
        """Bring the catalog up to date with every agent's files; once per process.

        ``progress(total)`` may return a callback that is told (done, total) as files are read.
        """
        if self._index_task is None:
            self._index_task = asyncio.ensure_future(self._index_history(progress))
        await asyncio.shield(self._index_task)

    async def _index_history(self, progress: Progress | None) -> None:
        try:
            await self.reindex(progress)
        finally:
            self.indexed.set()
        if self.search_backlog:
            # Lists are complete now; searches stay exact meanwhile (unindexed files are scanned).
            done = await asyncio.to_thread(index_search_backlog, self.catalog, self.adapters)
            logger.info("indexed the search text of %d transcripts", done)

    async def reindex(self, progress: Progress | None = None) -> None:
        work, gone = await asyncio.to_thread(self.plan_index)
        report = await progress(len(work)) if progress is not None else None
        callback = None
        if report is not None:
            loop = asyncio.get_running_loop()

            def callback(done: int, total: int) -> None:
                loop.call_soon_threadsafe(report, done, total)

        await asyncio.to_thread(self.run_index, work, gone, callback)
        self._absorb_all()

    def index_now(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Bring the catalog up to date now, blocking (a short-lived process: the CLI).

        The agents' liveness signals are read too: a short-lived process has no watcher to
        learn them from, and without them a session running in a terminal reads as ended."""
        work, gone = self.plan_index()
        self.run_index(work, gone, progress)
        self._absorb_all()
        self.refresh_liveness()
        self.indexed.set()

    def sessions_with_prefix(self, prefix: str, project: str | None) -> list[str]:
        """Ids that start with ``prefix`` (of one project, or of all), from the catalog."""
        return self.catalog.ids_with_prefix(prefix.lower(), project)

    async def wait_indexed(self, timeout: float) -> None:
        """Wait for the first indexing, at most ``timeout`` (then answer with what is there).

        With a catalog from an earlier run nothing is waited for: it answers at once, and
        what changed meanwhile follows as ``session/detected`` / ``session/updated``."""
        if self.indexed.is_set() or self._restarted:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.indexed.wait()), timeout)
        except TimeoutError:
            logger.info("answering before the first indexing has finished")

    def _absorb_all(self) -> None:
        """After a bulk indexing: learn what changed, telling clients about watched sessions."""
        states = self.catalog.file_states()
        for path in set(self._seen) - set(states):
            self._seen.pop(path, None)
        for path, state in states.items():
            if self._seen.get(path) != state:
                self._absorb(path, None, quiet_new=not self._restarted)

    # -- changes on disk ----------------------------------------------------------------------------
    def on_paths_changed(self, paths: Iterable[Path]) -> None:
        """The watcher saw these paths change: index, detect and report."""
        registry_changed = False
        for path in paths:
            for adapter in self.adapters.values():
                if adapter.is_liveness_path(path):
                    registry_changed = True
                elif adapter.is_transcript(path):
                    self._index_path(adapter, str(path))
                elif _is_folder_of_transcripts(adapter, path):
                    # A new project folder: files written before its watch existed are found here.
                    for found in sorted(path.glob("*.jsonl")):
                        if adapter.is_transcript(found):
                            self._index_path(adapter, str(found))
        if registry_changed:
            self._registry_changed()

    def _index_path(self, adapter: AgentAdapter, path: str) -> None:
        try:
            outcome = index_file(self.catalog, adapter, path, self.realpath)
        except Exception:
            logger.exception("indexing %s failed", path)
            return
        if outcome.status == "gone" and not os.path.lexists(path):
            self.catalog.remove_file(path)
        self._absorb(path, outcome)

    def _absorb(self, path: str, outcome: Outcome | None, quiet_new: bool = False) -> None:
        """Compare a file's catalog row with what this process saw last; report the difference."""
        row = self.catalog.file(path)
        before = self._seen.get(path)
        if row is None:
            if before is None:
                return
            del self._seen[path]
            self._session_gone(path)
            return
        now = (row.gen, row.parsed_to, row.message_count)
        if before == now:
            return
        self._seen[path] = now
        session_id = row.session_id
        if not session_id:
            return
        project = self.realpath(row.summary.cwd)
        if session_id not in self._known:
            self._known.add(session_id)
            if quiet_new or not self._interesting(session_id, project):
                return
            self._link_transcript(session_id, path)
            self._registry = {**self._registry, **registry_of(self.adapters.values())}
            try:
                self.events.session_detected(self.reader.info(session_id, refresh=False))
            except SessionNotFound:
                return
            if row.message_count:
                # A follower (of a workflow followed before its transcript existed) gets the
                # Messages the first read found.
                self.events.session_changed(session_id, Refresh(appended_from=0))
            return
        if not self._interesting(session_id, project):
            return
        self._watch_foreign_turn(session_id)
        if before is None or before[0] != now[0]:
            touched: int | None = 0
        elif outcome is not None and outcome.status == "indexed" and outcome.expected == before[:2]:
            touched = outcome.touched_from
        else:
            touched = max(0, before[2] - 1)
        self.events.session_changed(
            session_id, Refresh(appended_from=touched, reset=before is not None and before[0] != now[0])
        )

    def _session_gone(self, path: str) -> None:
        """A transcript disappeared: the session is removed when nothing of it remains."""
        # The row is already gone: the file name says whose it was.
        for adapter in self.adapters.values():
            session_id = adapter.session_id_from_path(Path(path))
            if session_id is None:
                continue
            if self.catalog.session(session_id) is None:
                self._known.discard(session_id)
                self.events.session_removed(session_id)
            else:
                self.events.session_changed(session_id, None)
            return

    def _interesting(self, session_id: str, project: str | None) -> bool:
        return (
            session_id in self.writer.turns
            or session_id in self._interest
            or (project is not None and project in self.watched)
            or self.catalog.workflow(session_id) is not None
        )

    def _link_transcript(self, session_id: str, path: str) -> None:
        workflow = self.catalog.workflow(session_id)
        if workflow is None or workflow.get("transcriptPath"):
            return
        project = str(workflow.get("cwd", ""))

        def link(meta: WorkflowMetadata) -> None:
            meta.transcript_path = path

        try:
            meta = self.stores(project).update_metadata(session_id, link, False)
        except (KeyError, OSError, Exception) as exc:
            logger.warning("cannot link the transcript of %s: %s", session_id, exc)
            return
        self.stores.mirror(project, meta)

    def refresh_session(self, session_id: str) -> None:
        """Bring one session's transcript rows up to date (a request may come before the watcher)."""
        files = self.catalog.files_of(session_id)
        paths = [f.path for f in files]
        if not paths:
            found = self._find_transcript(session_id)
            if found is None:
                return
            paths = [str(found)]
        for path in paths:
            for adapter in self.adapters.values():
                if adapter.is_transcript(Path(path)):
                    self._index_path(adapter, path)
                    break

    def _find_transcript(self, session_id: str) -> Path | None:
        """A transcript the catalog does not have yet: where the store says, else ask each agent."""
        workflow = self.catalog.workflow(session_id)
        if workflow is not None:
            adapter = self.adapters.get(str(workflow.get("agent", DEFAULT_AGENT)))
            hint = adapter.transcript_hint(str(workflow.get("cwd", "")), session_id) if adapter else None
            if hint is not None and hint.exists():
                return hint
        for adapter in self.adapters.values():
            finder = getattr(adapter, "find_transcript", None)
            found = finder(session_id) if finder is not None else None
            if found is not None:
                return Path(found)
        return None

    # -- requests -----------------------------------------------------------------------------------
    def info(self, session_id: str) -> SessionInfo:
        """Everything known about one session (SessionNotFound if nothing is)."""
        self._sync_store_of(session_id)
        self._recheck_foreign(session_id)
        info = self.reader.info(session_id)
        self._interest.add(session_id)
        return info

    def _sync_store_of(self, session_id: str) -> None:
        workflow = self.catalog.workflow(session_id)
        if workflow is not None:
            self.sync_store(str(workflow.get("cwd", "")))

    def list_sessions(self, params: SessionListParams) -> SessionListResult:
        """Every session of one project (or of all), newest first, filtered and paged."""
        project = None
        if params.cwd is not None:
            project = self.watch_project(params.cwd)
            self.sync_store(project)
            self._pick_up_new(project)
        else:
            for known in self.catalog.projects():
                self.sync_store(known)
        self.refresh_liveness()
        result = self.reader.page(params, project)
        self._interest.update(s.session_id for s in result.sessions)
        return result

    def _pick_up_new(self, project: str) -> None:
        """Index a project's transcripts this process has not seen (the watcher may lag a file
        written a moment ago); names only, so an unchanged history costs one folder listing.

        Not while the start-up indexing runs: it reads those files already (in worker
        processes), and a list must not do that work again on the event loop."""
        if self._index_task is not None and not self.indexed.is_set():
            return
        for adapter in self.adapters.values():
            folder = adapter.project_folder(project)
            if folder is not None:
                try:
                    mtime = folder.stat().st_mtime_ns
                except OSError:
                    continue
                if self._folders.get(str(folder)) == mtime:
                    continue  # no file added or removed since this process last looked
                self._folders[str(folder)] = mtime
            for path in adapter.project_transcripts(project):
                if str(path) not in self._seen:
                    self._index_path(adapter, str(path))

    def messages(self, session_id: str, offset: int, limit: int, from_end: bool) -> SessionMessagesResult:
        self.refresh_session(session_id)
        if self.catalog.session(session_id) is None:
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        self._interest.add(session_id)
        file = self.reader.primary_file(session_id)
        total = file.message_count if file is not None else 0
        if from_end:
            offset = max(0, total - limit)
        messages, total = self.reader.messages(session_id, offset, limit)
        return SessionMessagesResult(session_id=session_id, messages=messages, offset=offset, total=total)

    def streaming_text(self, session_id: str) -> str | None:
        """The reply a running turn of this process is writing, not in the transcript yet."""
        return self.writer.streaming_text(session_id)

    def messages_from(self, session_id: str, start: int, limit: int = MAX_APPENDED) -> list[Message]:
        """Messages from index ``start`` on, at most ``limit`` (for ``session/updated``)."""
        messages, _ = self.reader.messages(session_id, start, limit)
        return messages

    async def start(self, params: WorkflowStartParams) -> StartResult:
        """Mint the id, write the store entry, spawn the agent; answer once it exists."""
        self.writer.adapter(params.agent)
        if not os.path.isdir(params.cwd):
            raise InvalidParams(f"Invalid params: 'cwd' {params.cwd} is not an existing folder.", field="cwd")
        self.writer.check_command(self.writer.adapter(params.agent))
        project = self.watch_project(params.cwd)
        session_id = await self.writer.start(params, project, lambda sid: self.catalog.session(sid) is not None)
        self._known.discard(session_id)
        return StartResult(session_id=session_id, session=self.reader.info(session_id, refresh=False))

    async def resume(
        self,
        session_id: str,
        prompt: str,
        fork: bool,
        permission_mode: str | None = None,
        allowed_tools: list[str] | None = None,
        model: str | None = None,
    ) -> StartResult:
        """Continue any session under its own id (or a new one with ``fork``)."""
        self.refresh_session(session_id)
        self._sync_store_of(session_id)
        row = self.catalog.session(session_id)
        if row is None:
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        file = self.reader.primary_file(session_id)
        summary = file.summary if file is not None else None
        workflow = self.catalog.workflow(session_id) or {}
        cwd = (summary.cwd if summary else None) or workflow.get("cwd") or ""
        project = os.path.realpath(cwd) if cwd else ""
        if cwd and os.path.isdir(cwd):
            project = self.watch_project(cwd)
        request = ResumeRequest(session_id, prompt, fork, permission_mode, allowed_tools, model)
        new_id = await self.writer.resume(
            request,
            project=project,
            cwd=cwd,
            agent=row.agent,
            title=(summary.title if summary else None) or workflow.get("title"),
            created_at=(summary.created_at if summary else None),
            transcript_path=file.path if file is not None else None,
            carried_cost=summary.cost_usd if summary else None,
            skill=workflow.get("skill"),
        )
        if fork:
            self._known.discard(new_id)
        return StartResult(session_id=new_id, session=self.reader.info(new_id, refresh=False))

    async def cancel(self, session_id: str) -> SessionInfo:
        await self.writer.cancel(session_id)
        return self.info(session_id)

    def activate(self, cwd: str, session_id: str | None) -> str | None:
        real = self.watch_project(cwd)
        if session_id is not None and self.catalog.session(session_id) is None:
            self.refresh_session(session_id)
            if self.catalog.session(session_id) is None:
                raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        store: ProjectStore = self.stores(real)
        before = store.active_session_id() if store.root.is_dir() else None
        store.ensure()
        store.set_active(session_id)
        self.catalog.put_workflows(real, [])
        for changed in {before, session_id} - {None}:
            if changed is not None and self.catalog.session(changed) is not None:
                self.events.session_changed(changed, None)
        return session_id

    async def shutdown(self) -> None:
        """Leave running turns alone: they finish on their own and a restart picks them up."""
        logger.info("shutting down with %d running turn(s)", len(self.writer.turns))


def _is_folder_of_transcripts(adapter: AgentAdapter, path: Path) -> bool:
    check = getattr(adapter, "is_project_folder", None)
    return bool(check is not None and check(path) and path.is_dir())


__all__ = ["Refresh", "SessionEvents", "SessionManager", "status_of_ending"]
