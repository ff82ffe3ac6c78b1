"""The transport-free core: every session of every watched project, one id each.

:class:`SessionManager` joins four sources into one :class:`SessionInfo` per id: the
agent's transcript on disk (read incrementally), Threadline's project store (for the
workflows it started), the turns running in this process, and the agent's own
live-process registry. It knows nothing of JSON-RPC: requests come in as method calls,
and what a client should hear about goes out through :class:`SessionEvents`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from threadline.agents.base import AgentCommand, TurnOutcome, TurnRequest
from threadline.agents.claude import ClaudeAdapter
from threadline.agents.claude.records import one_line
from threadline.agents.claude.transcript import ClaudeTranscript, Refresh
from threadline.config import Options
from threadline.errors import AgentUnavailable, InvalidParams, SessionBusy, SessionNotFound, StoreError
from threadline.protocol import (
    Message,
    SessionInfo,
    SessionListParams,
    SessionListResult,
    SessionMessagesResult,
    StartResult,
    Status,
    WorkflowStartParams,
    is_session_id,
    new_session_id,
)
from threadline.runs import AgentRun, SpawnSpec
from threadline.store import ProjectStore, TurnRecord, WorkflowMetadata, utc_now

logger = logging.getLogger(__name__)


class SessionEvents(Protocol):
    """Where the core reports what clients should hear about."""

    def session_detected(self, info: SessionInfo) -> None: ...

    def session_changed(self, session_id: str, refresh: Refresh | None) -> None: ...


@dataclass(slots=True)
class _Workflow:
    """A store entry this process knows about: its project and last metadata read."""

    cwd: str
    meta: WorkflowMetadata


class SessionManager:
    """See the module docstring."""

    def __init__(self, options: Options, events: SessionEvents) -> None:
        self.options = options
        self.events = events
        claude = options.agents["claude"]
        self.claude = ClaudeAdapter(options.claude_config_dir, AgentCommand(claude.command, claude.env))
        self.adapters = {self.claude.id: self.claude}
        self.watched: dict[str, Path] = {}
        """Watched project (realpath) → its encoded transcript folder."""
        self._transcripts: dict[Path, ClaudeTranscript] = {}
        self._paths: dict[str, Path] = {}
        self._workflows: dict[str, _Workflow] = {}
        self._stores: dict[str, ProjectStore] = {}
        self.runs: dict[str, AgentRun] = {}
        self._detected: set[str] = set()
        self._live: dict[str, int] = {}
        self._background: set[asyncio.Future[None]] = set()
        self._foreign: dict[str, int] = {}
        """Store entries still ``running`` under another process (another server, before a restart)."""
        self._carried_cost: dict[str, float] = {}
        """Running turn → the cost its agent's totals already include (resumed from a cost-state)."""

    # -- projects ---------------------------------------------------------------------------
    def watch_project(self, cwd: str) -> str:
        """Start watching a project; sessions already on disk count as seen (no detection)."""
        real = os.path.realpath(cwd)
        if real in self.watched:
            return real
        folder = self.claude.project_dir(real)
        self.watched[real] = folder
        for path in self.claude.paths.iter_transcripts([folder]):
            self._detected.add(path.stem)
        self._load_store(real)
        return real

    def _store(self, cwd: str) -> ProjectStore:
        real = os.path.realpath(cwd)
        store = self._stores.get(real)
        if store is None:
            store = self._stores[real] = ProjectStore(Path(real))
        return store

    def _load_store(self, real: str) -> None:
        store = self._store(real)
        if not store.root.is_dir():
            return
        try:
            store.sweep_temp_files()
            metas = store.list_metadata()
        except OSError as exc:
            logger.warning("cannot read the Threadline store of %s: %s", real, exc)
            return
        for meta in metas:
            self._workflows[meta.session_id] = _Workflow(real, meta)
            if meta.transcript_path:
                self._detected.add(meta.session_id)
            if meta.status == "running" and meta.session_id not in self.runs:
                self._recover(meta)
        try:
            store.heal_markers(lambda sid: sid in self._workflows or self._find(sid) is not None)
        except OSError as exc:
            logger.warning("cannot heal the active marker of %s: %s", real, exc)

    def _recover(self, meta: WorkflowMetadata) -> None:
        """A store entry says ``running`` but this process runs no such turn."""
        if meta.pid is not None and self.claude.pid_alive(meta.pid):
            self._foreign[meta.session_id] = meta.pid
            return
        transcript = self._transcript(meta.session_id)
        finished = transcript is not None and transcript.ending.kind == "reply"
        status: Status = "completed" if finished else "interrupted"
        error = None if finished else "The agent process was gone when Threadline restarted."
        logger.info("session %s was running under pid %s, now gone: %s", meta.session_id, meta.pid, status)
        self._finish_turn(meta.session_id, TurnOutcome(status, last_error=error), exit_code=None)

    def check_foreign(self) -> None:
        """Re-check turns run by other processes; called on registry changes and periodically."""
        for session_id, pid in list(self._foreign.items()):
            if not self.claude.pid_alive(pid):
                del self._foreign[session_id]
                workflow = self._workflows.get(session_id)
                if workflow is not None:
                    self._reload(session_id)
                    if workflow.meta.status == "running":
                        self._recover(workflow.meta)
                self.events.session_changed(session_id, None)

    @property
    def has_foreign(self) -> bool:
        return bool(self._foreign)

    # -- transcripts ------------------------------------------------------------------------
    def _find(self, session_id: str) -> Path | None:
        path = self._paths.get(session_id)
        if path is not None and path.exists():
            return path
        workflow = self._workflows.get(session_id)
        if workflow is not None:
            candidate = self.claude.transcript_path(workflow.meta.cwd, session_id)
            if candidate.exists():
                self._paths[session_id] = candidate
                return candidate
        path = self.claude.find_transcript(session_id)
        if path is not None:
            self._paths[session_id] = path
        return path

    def _open(self, path: Path) -> ClaudeTranscript:
        transcript = self._transcripts.get(path)
        if transcript is None:
            transcript = self._transcripts[path] = self.claude.open_transcript(path)
            self._paths.setdefault(transcript.session_id, path)
        return transcript

    def _transcript(self, session_id: str) -> ClaudeTranscript | None:
        path = self._find(session_id)
        if path is None:
            return None
        transcript = self._open(path)
        self._refresh(transcript)
        return transcript

    def _refresh(self, transcript: ClaudeTranscript) -> Refresh:
        """The one place a transcript is re-read, so no appended record goes unreported."""
        refresh = transcript.refresh()
        if not transcript.exists:
            return refresh
        session_id = transcript.session_id
        if session_id not in self._detected:
            if self._interesting(transcript.path):
                self._detected.add(session_id)
                # The agent registers its process before it writes the transcript: read the
                # registry now, so a new external session is reported running from the start.
                self._live = self.claude.live_sessions()
                self._note_transcript_path(session_id, transcript.path)
                self.events.session_detected(self.info(session_id))
                if refresh.appended:
                    self.events.session_changed(session_id, refresh)
        elif refresh.changed:
            self.events.session_changed(session_id, refresh)
        return refresh

    def on_paths_changed(self, paths: Iterable[Path]) -> None:
        """The watcher saw these paths change: refresh, detect and report."""
        registry_changed = False
        paths = list(paths)
        logger.debug("changed: %s", ", ".join(str(p) for p in paths))
        for path in paths:
            if self.claude.is_registry(path):
                registry_changed = True
            elif self.claude.is_transcript(path):
                self._transcript_changed(path)
            elif path.parent == self.claude.paths.projects and path.is_dir():
                # A new project folder: files written before its watch existed are found here.
                for found in self.claude.paths.iter_transcripts([path]):
                    self._transcript_changed(found)
        if registry_changed:
            self._registry_changed()

    def _interesting(self, path: Path) -> bool:
        session_id = path.stem
        return session_id in self.runs or session_id in self._workflows or path.parent in self.watched.values()

    def _transcript_changed(self, path: Path) -> None:
        if is_session_id(path.stem) and (path in self._transcripts or self._interesting(path)):
            self._refresh(self._open(path))

    def _note_transcript_path(self, session_id: str, path: Path) -> None:
        workflow = self._workflows.get(session_id)
        if workflow is None or workflow.meta.transcript_path:
            return

        def link(meta: WorkflowMetadata) -> None:
            meta.transcript_path = str(path)

        self._update(session_id, link)

    def _registry_changed(self) -> None:
        live = self.claude.live_sessions()
        before, self._live = self._live, live
        for session_id in {s for s in before.keys() | live.keys() if before.get(s) != live.get(s)}:
            if session_id in self.runs:
                continue
            if self._find(session_id) is not None or session_id in self._workflows:
                self.events.session_changed(session_id, None)
        self.check_foreign()

    # -- store ------------------------------------------------------------------------------
    def _update(self, session_id: str, change: Callable[[WorkflowMetadata], None]) -> WorkflowMetadata | None:
        workflow = self._workflows.get(session_id)
        if workflow is None:
            return None
        store = self._store(workflow.cwd)
        try:
            meta = store.update_metadata(session_id, change)
        except (KeyError, StoreError, OSError) as exc:
            logger.warning("cannot update the store entry of %s: %s", session_id, exc)
            return None
        workflow.meta = meta
        return meta

    def _reload(self, session_id: str) -> None:
        workflow = self._workflows.get(session_id)
        if workflow is None:
            return
        meta = self._store(workflow.cwd).read_metadata(session_id)
        if meta is not None:
            workflow.meta = meta

    # -- SessionInfo ------------------------------------------------------------------------
    def info(self, session_id: str) -> SessionInfo:
        """Everything known about one session (SessionNotFound if nothing is)."""
        transcript = self._transcript(session_id)
        workflow = self._workflows.get(session_id)
        if transcript is None and workflow is None:
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        return self._build_info(session_id, transcript, workflow)

    def _build_info(
        self,
        session_id: str,
        transcript: ClaudeTranscript | None,
        workflow: _Workflow | None,
        active: str | bool | None = False,
    ) -> SessionInfo:
        meta = workflow.meta if workflow else None
        cwd = (transcript.cwd if transcript else None) or (meta.cwd if meta else None) or ""
        run = self.runs.get(session_id)
        pid: int | None = None
        status: Status
        last_error: str | None = meta.last_error if meta else None
        if run is not None and not run.done.is_set():
            status, pid = "running", run.pid
        elif session_id in self._foreign:
            status, pid = "running", self._foreign[session_id]
        elif (live := self._live_pid(session_id)) is not None:
            status, pid = "running", live
        elif meta is not None:
            status = meta.status
        else:
            status, last_error = self._status_from_transcript(transcript)
        title = (
            (transcript.custom_title if transcript else None)
            or (meta.title if meta else None)
            or (transcript.first_prompt if transcript else None)
            or "(untitled)"
        )
        usage = transcript.usage if transcript else None
        cost = transcript.cost_usd if transcript else None
        if cost is None and meta is not None:
            cost = _total_cost(meta)
        info = SessionInfo(
            session_id=session_id,
            agent=meta.agent if meta else self.claude.id,
            cwd=cwd,
            title=title,
            status=status,
            source="workflow" if meta else "external",
            created_at=_earliest(meta.created_at if meta else None, transcript.created_at if transcript else None),
            updated_at=_latest(meta.updated_at if meta else None, transcript.updated_at if transcript else None),
            message_count=transcript.message_count if transcript else 0,
            model=transcript.model if transcript else None,
            git_branch=transcript.git_branch if transcript else None,
            skill=meta.skill if meta else None,
            transcript_path=str(transcript.path) if transcript is not None and transcript.exists else None,
            pid=pid,
            last_error=last_error if status in ("failed", "interrupted", "cancelled") else None,
            parent_session_id=(meta.parent_session_id if meta else None)
            or (transcript.parent_session_id if transcript else None),
        )
        if usage is not None:
            info.usage = usage
        info.usage.cost_usd = cost
        if active is False and cwd:
            active = self._active_id(cwd)
        info.active = active == session_id
        return info

    def _live_pid(self, session_id: str) -> int | None:
        pid = self._live.get(session_id)
        if pid is not None and self.claude.pid_alive(pid):
            return pid
        return None

    @staticmethod
    def _status_from_transcript(transcript: ClaudeTranscript | None) -> tuple[Status, str | None]:
        ending = transcript.ending if transcript else None
        if ending is None or ending.kind in ("reply", "empty"):
            return "completed", None
        if ending.kind == "api_error":
            return "failed", ending.error
        return "interrupted", "The conversation ends without the agent's reply."

    def _active_id(self, cwd: str) -> str | None:
        store = self._store(cwd)
        try:
            return store.active_session_id() if store.root.is_dir() else None
        except OSError:
            return None

    # -- requests ---------------------------------------------------------------------------
    def unread_transcripts(self, cwd: str | None) -> list[Path]:
        """Transcripts a listing would read for the first time (what makes a first listing slow)."""
        real = None if cwd is None else os.path.realpath(cwd)
        return [p for p in self.claude.iter_transcripts(real) if p not in self._transcripts and is_session_id(p.stem)]

    def index(self, paths: list[Path]) -> None:
        """Read these transcripts now (in chunks, so a caller can report progress between them)."""
        for path in paths:
            self._refresh(self._open(path))

    def list_sessions(self, params: SessionListParams) -> SessionListResult:
        """Every session of one project (or of all), newest first, filtered and paged."""
        self._live = self.claude.live_sessions()
        if params.cwd is not None:
            real = self.watch_project(params.cwd)
            paths = self.claude.iter_transcripts(real)
            projects = [real]
        else:
            paths = self.claude.iter_transcripts(None)
            projects = list(self.watched)
            real = None
        sessions: dict[str, SessionInfo] = {}
        actives = {p: self._active_id(p) for p in projects}

        reals: dict[str, str] = {}

        def realpath(path: str) -> str:
            """``os.path.realpath`` once per distinct path in this listing (it costs syscalls)."""
            if path not in reals:
                reals[path] = os.path.realpath(path)
            return reals[path]

        def active_in(cwd: str | None) -> str | None:
            """The active session of a project, read once per listing."""
            if not cwd:
                return None
            key = cwd if cwd in actives else realpath(cwd)
            if key not in actives:
                actives[key] = self._active_id(key)
            return actives[key]

        for path in paths:
            if not is_session_id(path.stem):
                continue
            transcript = self._open(path)
            self._refresh(transcript)
            if real is not None and transcript.cwd is not None and realpath(transcript.cwd) != real:
                continue  # the folder-name encoding collides; the records say where it belongs
            session_id = transcript.session_id
            workflow = self._workflows.get(session_id)
            active = active_in(transcript.cwd or (workflow.cwd if workflow else None))
            sessions[session_id] = self._build_info(session_id, transcript, workflow, active)
        for session_id, workflow in self._workflows.items():
            if session_id in sessions or (real is not None and workflow.cwd != real):
                continue
            sessions[session_id] = self._build_info(
                session_id, self._transcript(session_id), workflow, actives.get(workflow.cwd)
            )
        found = list(sessions.values())
        if params.status:
            wanted = set(params.status)
            found = [s for s in found if s.status in wanted]
        if params.agent is not None:
            found = [s for s in found if s.agent in params.agent]
        if params.query:
            found = [s for s in found if self._matches(s, params.query)]
        found.sort(key=_sort_key)
        if params.cursor:
            after = _decode_cursor(params.cursor)
            found = [s for s in found if _sort_key(s) > after]
        page = found[: params.limit]
        next_cursor = _encode_cursor(_sort_key(page[-1])) if len(found) > params.limit else None
        return SessionListResult(
            sessions=page, next_cursor=next_cursor, active_session_id=actives.get(real) if real else None
        )

    def _matches(self, info: SessionInfo, query: str) -> bool:
        if query.casefold() in info.title.casefold():
            return True
        transcript = self._transcript(info.session_id)
        return transcript is not None and transcript.contains(query)

    def messages(self, session_id: str, offset: int, limit: int, from_end: bool) -> SessionMessagesResult:
        transcript = self._transcript(session_id)
        if transcript is None:
            if session_id in self._workflows:
                return SessionMessagesResult(session_id=session_id, messages=[], offset=0, total=0)
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        total = transcript.message_count
        if from_end:
            offset = max(0, total - limit)
        messages = transcript.read_messages(offset, limit)
        return SessionMessagesResult(session_id=session_id, messages=messages, offset=offset, total=total)

    def messages_from(self, session_id: str, start: int) -> list[Message]:
        transcript = self._transcript(session_id)
        if transcript is None:
            return []
        return transcript.read_messages(start, max(0, transcript.message_count - start))

    def _check_command(self) -> list[str]:
        argv = self.claude.command.argv
        exe = argv[0]
        found = shutil.which(exe, path=self.claude.command.env.get("PATH") or os.environ.get("PATH"))
        if found is None:
            raise AgentUnavailable(
                f"The Claude Code command {exe!r} was not found or is not executable; "
                f"set '{self.claude.command_setting}' (VS Code: threadline.claude.command) to the claude binary.",
                agent=self.claude.id,
                command=argv,
            )
        return argv

    async def start(self, params: WorkflowStartParams) -> StartResult:
        """Mint the id, write the store entry, spawn the agent; answer once it exists."""
        if params.agent not in self.adapters:
            raise InvalidParams(
                f"Invalid params: 'agent' {params.agent!r} is not an agent this server runs.", field="agent"
            )
        if not os.path.isdir(params.cwd):
            raise InvalidParams(f"Invalid params: 'cwd' {params.cwd} is not an existing folder.", field="cwd")
        self._check_command()
        real = self.watch_project(params.cwd)
        session_id = new_session_id()
        while self.claude.find_transcript(session_id) is not None or session_id in self._workflows:
            session_id = new_session_id()
        now = utc_now()
        meta = WorkflowMetadata(
            session_id=session_id,
            agent=params.agent,
            cwd=real,
            skill=params.skill,
            title=one_line(params.title or params.prompt),
            status="running",
            created_at=now,
            updated_at=now,
            turns=[TurnRecord(prompt=params.prompt, started_at=now, status="running")],
        )
        turn = TurnRequest(
            session_id=session_id,
            cwd=real,
            prompt=params.prompt,
            skill=params.skill,
            model=params.model,
            permission_mode=params.permission_mode,
        )
        self.claude.check_turn(turn)
        await self._launch(turn, meta, new_entry=True)
        return StartResult(session_id=session_id, session=self.info(session_id))

    async def resume(
        self,
        session_id: str,
        prompt: str,
        fork: bool,
        permission_mode: str | None = None,
        allowed_tools: list[str] | None = None,
        model: str | None = None,
    ) -> StartResult:
        """Continue any session under its own id (or a new one with ``fork``); the permission
        mode, tool rules and model apply to this turn only."""
        options = TurnRequest(
            session_id, "", prompt, model=model, permission_mode=permission_mode, allowed_tools=allowed_tools
        )
        self.claude.check_turn(options)
        transcript = self._transcript(session_id)
        workflow = self._workflows.get(session_id)
        if transcript is None and workflow is None:
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        if not fork:
            self._refuse_if_busy(session_id)
        self._check_command()
        cwd = (transcript.cwd if transcript else None) or (workflow.cwd if workflow else None)
        if not cwd or not os.path.isdir(cwd):
            raise InvalidParams(
                f"The project folder of session {session_id} ({cwd}) no longer exists.", field="sessionId"
            )
        real = self.watch_project(cwd)
        now = utc_now()
        turn_record = TurnRecord(prompt=prompt, started_at=now, status="running")
        if fork:
            new_id = new_session_id()
            parent = workflow.meta if workflow else None
            meta = WorkflowMetadata(
                session_id=new_id,
                agent=self.claude.id,
                cwd=real,
                skill=parent.skill if parent else None,
                title=(transcript.title if transcript else None) or (parent.title if parent else one_line(prompt)),
                status="running",
                created_at=now,
                updated_at=now,
                parent_session_id=session_id,
                turns=[turn_record],
            )
            turn = dataclasses.replace(options, session_id=new_id, cwd=real, fork_from=session_id)
            self._carry_cost(new_id, transcript)
            await self._launch(turn, meta, new_entry=True)
            return StartResult(session_id=new_id, session=self.info(new_id))
        if workflow is None:
            # An external session continued through Threadline gets a store entry from now on.
            meta = WorkflowMetadata(
                session_id=session_id,
                agent=self.claude.id,
                cwd=real,
                skill=None,
                title=(transcript.title if transcript else None) or one_line(prompt),
                status="running",
                created_at=(transcript.created_at if transcript else None) or now,
                updated_at=now,
                transcript_path=str(transcript.path) if transcript else None,
                turns=[turn_record],
            )
            new_entry = True
        else:
            meta = workflow.meta.model_copy(deep=True)
            meta.status, meta.updated_at, meta.last_error = "running", now, None
            meta.turns.append(turn_record)
            new_entry = False
        turn = dataclasses.replace(options, cwd=real, resume=True)
        self._carry_cost(session_id, transcript)
        await self._launch(turn, meta, new_entry=new_entry)
        return StartResult(session_id=session_id, session=self.info(session_id))

    def _carry_cost(self, session_id: str, transcript: ClaudeTranscript | None) -> None:
        """Remember the cost an agent resuming ``transcript`` starts its totals from.

        An agent that keeps a running cost in its transcript (Claude Code's ``cost-state``,
        2.1.3xx) restores it on resume and reports totals that include it; one that keeps
        none (2.1.197) reports each process's own cost. Subtracting what was carried gives
        every turn its own cost either way.
        """
        if transcript is not None and transcript.cost_usd is not None:
            self._carried_cost[session_id] = transcript.cost_usd
        else:
            self._carried_cost.pop(session_id, None)

    def _refuse_if_busy(self, session_id: str) -> None:
        run = self.runs.get(session_id)
        pid = run.pid if run is not None and not run.done.is_set() else None
        if pid is None:
            pid = self._foreign.get(session_id) or self._live_pid(session_id)
        if pid is None:
            self._live = self.claude.live_sessions()
            pid = self._live_pid(session_id)
        if pid is not None:
            raise SessionBusy(
                f"Session {session_id} is busy: a turn is running in process {pid}.", sessionId=session_id, pid=pid
            )

    async def _launch(self, turn: TurnRequest, meta: WorkflowMetadata, new_entry: bool) -> None:
        store = self._store(meta.cwd)
        # Off the event loop: a fsynced write can take tens of ms on a busy disk, and other
        # requests and notifications should not wait for it.
        await asyncio.to_thread(store.write_metadata, meta)
        self._workflows[meta.session_id] = _Workflow(meta.cwd, meta)
        run = AgentRun(turn.session_id, self.claude.new_monitor(), on_event=lambda: None, on_exit=self._run_exited)
        self.runs[turn.session_id] = run
        spec = SpawnSpec(
            argv=self.claude.argv(turn), cwd=turn.cwd, env=self.claude.env(), stdin=self.claude.stdin_bytes(turn)
        )
        try:
            await run.start(spec)
        except OSError as exc:
            del self.runs[turn.session_id]
            reason = f"The Claude Code command {spec.argv[0]!r} could not be started ({exc.strerror or exc})."
            self._finish_turn(turn.session_id, TurnOutcome("failed", last_error=reason), exit_code=None)
            raise AgentUnavailable(
                f"{reason} Set '{self.claude.command_setting}' to a working claude binary.",
                agent=self.claude.id,
                command=self.claude.command.argv,
            ) from None

        self._record_pid_soon(turn.session_id, run)
        logger.info("started %s turn of %s (pid %s)", "a resumed" if turn.resume else "a new", turn.session_id, run.pid)
        if not new_entry:
            self.events.session_changed(turn.session_id, None)

    def _record_pid_soon(self, session_id: str, run: AgentRun) -> None:
        """Write the turn's pid into the store off the response path (it only serves restarts).

        The write runs in a worker thread (the store's file locks serialize it with every
        other writer) and only touches an entry whose turn is still open, so a turn that
        ends first never gets a stale pid back.
        """
        workflow = self._workflows.get(session_id)
        if workflow is None:
            return
        store = self._store(workflow.cwd)

        def set_pid(meta: WorkflowMetadata) -> None:
            if meta.status == "running" and meta.turns and meta.turns[-1].ended_at is None:
                meta.pid = run.pid

        async def write() -> None:
            try:
                await asyncio.to_thread(store.update_metadata, session_id, set_pid, False)
            except (KeyError, StoreError, OSError) as exc:
                logger.warning("cannot record the pid of %s: %s", session_id, exc)
                return
            self._reload(session_id)

        task = asyncio.ensure_future(write())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _run_exited(self, run: AgentRun, outcome: TurnOutcome, exit_code: int) -> None:
        if self.runs.get(run.session_id) is run:
            del self.runs[run.session_id]
        self._finish_turn(run.session_id, outcome, exit_code)
        path = self._find(run.session_id)
        if path is not None:
            self._transcript_changed(path)
        self.events.session_changed(run.session_id, None)

    def _finish_turn(self, session_id: str, outcome: TurnOutcome, exit_code: int | None) -> None:
        now = utc_now()
        carried = self._carried_cost.pop(session_id, None)
        path = self._find(session_id)

        def finish(meta: WorkflowMetadata) -> None:
            meta.status, meta.last_error, meta.pid, meta.updated_at = outcome.status, outcome.last_error, None, now
            if path is not None:
                meta.transcript_path = str(path)
            if meta.turns and meta.turns[-1].ended_at is None:
                last = meta.turns[-1]
                last.ended_at, last.exit_code, last.status, last.cost_usd = (
                    now,
                    exit_code,
                    outcome.status,
                    _own_cost(outcome.cost_usd, carried),
                )

        self._update(session_id, finish)

    async def cancel(self, session_id: str) -> SessionInfo:
        run = self.runs.get(session_id)
        if run is None:
            return self.info(session_id)
        await run.cancel()
        await run.done.wait()
        return self.info(session_id)

    def activate(self, cwd: str, session_id: str | None) -> str | None:
        real = self.watch_project(cwd)
        if session_id is not None and session_id not in self._workflows and self._find(session_id) is None:
            raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)
        store = self._store(real)
        before = store.active_session_id() if store.root.is_dir() else None
        store.ensure()
        store.set_active(session_id)
        for changed in {before, session_id} - {None}:
            if changed is not None and (changed in self._workflows or self._find(changed) is not None):
                self.events.session_changed(changed, None)
        return session_id

    async def shutdown(self) -> None:
        """Leave running turns alone: they finish on their own and a restart picks them up."""
        logger.info("shutting down with %d running turn(s)", len(self.runs))


def _own_cost(reported: float | None, carried: float | None) -> float | None:
    """A turn's own cost from the total its agent reported (see ``_carry_cost``)."""
    if reported is None or carried is None:
        return reported
    return max(0.0, round(reported - carried, 9))


def _total_cost(meta: WorkflowMetadata) -> float | None:
    """The sum of the turns' own costs, or None when no turn reported one."""
    costs = [t.cost_usd for t in meta.turns if t.cost_usd is not None]
    return round(sum(costs), 9) if costs else None


def _earliest(*values: str | None) -> str | None:
    present = [v for v in values if v]
    return min(present) if present else None


def _latest(*values: str | None) -> str | None:
    present = [v for v in values if v]
    return max(present) if present else None


def _sort_key(info: SessionInfo) -> tuple[str, str]:
    """Newest ``updatedAt`` first: invert the timestamp's characters for an ascending sort."""
    stamp = info.updated_at or ""
    return ("".join(chr(0x10FFFF - ord(c)) for c in stamp), info.session_id)


def _encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        first, second = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(first), str(second)
    except (ValueError, TypeError):
        raise InvalidParams("Invalid params: 'cursor' is not a cursor this server gave out.", field="cursor") from None
