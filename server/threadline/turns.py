"""The write side: start, resume, fork and cancel turns, behind a busy guard no race gets past.

Every turn runs the same way: claim the session across processes (``claims.py``), check
the agent's own liveness signal, record the turn in the project store (read-modify-write
under the session's lock, never a rewrite from a cached copy), spawn the agent from an
argv list with the prompt on stdin, and on exit record how the turn ended, then release
the claim. The claim is taken before anything is written or spawned, so two requests for
one session — on one server or on several, at the same instant — start exactly one agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadline import claims
from threadline.agents.base import AgentAdapter, TurnOutcome, TurnRequest
from threadline.catalog import Catalog
from threadline.errors import (
    AgentStartFailed,
    AgentUnavailable,
    InvalidParams,
    SessionBusy,
    SessionNotFound,
    StoreError,
)
from threadline.protocol import WorkflowStartParams, new_session_id
from threadline.runs import AgentRun, SpawnSpec
from threadline.store import ProjectStore, TurnRecord, WorkflowMetadata, utc_now
from threadline.text import one_line

logger = logging.getLogger(__name__)

ID_TIMEOUT_SECONDS = 15.0
"""How long a start waits for an agent that names its own session (protocol §3: Codex)."""


@dataclass(slots=True)
class ResumeRequest:
    """A follow-up turn in an existing session (or a fork of it)."""

    session_id: str
    prompt: str
    fork: bool = False
    permission_mode: str | None = None
    allowed_tools: list[str] | None = None
    model: str | None = None


@dataclass(slots=True)
class Turn:
    """A turn this process runs: its process, its claim, and the cost it started from."""

    run: AgentRun
    claim: claims.Claim
    project: str
    carried_cost: float | None


class Stores:
    """One :class:`ProjectStore` per project, mirrored into the catalog on every write."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._stores: dict[str, ProjectStore] = {}

    def __call__(self, project: str) -> ProjectStore:
        store = self._stores.get(project)
        if store is None:
            store = self._stores[project] = ProjectStore(Path(project))
        return store

    def mirror(self, project: str, meta: WorkflowMetadata) -> None:
        self.catalog.put_workflows(project, [meta.model_dump(mode="json", by_alias=True)])


class TurnWriter:
    """Runs turns; ``on_change(session_id)`` is told when a turn starts or ends."""

    def __init__(
        self,
        catalog: Catalog,
        adapters: dict[str, AgentAdapter],
        stores: Stores,
        on_started: Callable[[str, bool], None],
        on_ended: Callable[[str], None],
        on_streaming: Callable[[str], None] = lambda session_id: None,
    ) -> None:
        self.catalog = catalog
        self.adapters = adapters
        self.stores = stores
        self.turns: dict[str, Turn] = {}
        self._on_started = on_started
        self._on_ended = on_ended
        self._on_streaming = on_streaming
        self._background: set[asyncio.Future[None]] = set()

    @property
    def runs(self) -> dict[str, AgentRun]:
        return {session_id: turn.run for session_id, turn in self.turns.items()}

    def running(self) -> dict[str, int]:
        """Session id → pid of the turns this process runs now."""
        return {
            session_id: turn.run.pid
            for session_id, turn in self.turns.items()
            if turn.run.pid is not None and not turn.run.done.is_set()
        }

    # -- checks -----------------------------------------------------------------------------
    def adapter(self, agent: str) -> AgentAdapter:
        adapter = self.adapters.get(agent)
        if adapter is None:
            raise InvalidParams(f"Invalid params: 'agent' {agent!r} is not an agent this server runs.", field="agent")
        return adapter

    @staticmethod
    def check_command(adapter: AgentAdapter) -> None:
        argv = adapter.command.argv
        exe = argv[0] if argv else ""
        found = exe and shutil.which(exe, path=adapter.command.env.get("PATH") or os.environ.get("PATH"))
        if not found:
            raise AgentUnavailable(
                f"The {adapter.display_name} command {exe!r} was not found or is not executable; "
                f"set '{adapter.command_setting}' (VS Code: threadline.{adapter.id}.command) "
                f"to the {adapter.id} binary.",
                agent=adapter.id,
                command=argv,
            )

    def _claim(self, store: ProjectStore, session_id: str, adapter: AgentAdapter) -> claims.Claim:
        """Refuse a busy session, else claim it across processes.

        A turn of ours or a live agent process (a terminal session) refuses before anything is
        written; then the claim decides between Threadline processes, and the agent's registry
        is read once more, for a terminal session that started meanwhile.
        """
        self._refuse_if_live(session_id, adapter)
        folder = store.workflows_dir / session_id
        try:
            store.ensure()
            folder.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(
                f"Cannot write the Threadline store in {store.root}: {exc.strerror or exc}.", path=str(store.root)
            ) from None
        claim = claims.Claims(folder).try_claim(session_id)
        try:
            self._refuse_if_live(session_id, adapter)
        except SessionBusy:
            claim.release()
            raise
        return claim

    def _refuse_if_live(self, session_id: str, adapter: AgentAdapter) -> None:
        ours = self.turns.get(session_id)
        pid = ours.run.pid if ours is not None and not ours.run.done.is_set() else None
        if pid is None:
            pid = adapter.live_sessions().get(session_id)
        if pid is not None:
            raise SessionBusy(
                f"Session {session_id} is busy: a turn is running in process {pid}.", sessionId=session_id, pid=pid
            )

    # -- start and resume -------------------------------------------------------------------
    async def start(self, params: WorkflowStartParams, project: str, exists: Callable[[str], bool]) -> str:
        """Mint the id, claim it, write the store entry, spawn the agent; returns the id."""
        adapter = self.adapter(params.agent)
        self.check_command(adapter)
        session_id = new_session_id()
        while exists(session_id):
            session_id = new_session_id()
        named = adapter.mints_session_id
        now = utc_now()
        meta = WorkflowMetadata(
            session_id=session_id,
            agent=adapter.id,
            cwd=project,
            skill=params.skill,
            title=one_line(params.title or params.prompt),
            status="running",
            created_at=now,
            updated_at=now,
            turns=[TurnRecord(prompt=params.prompt, started_at=now, status="running")],
        )
        turn = TurnRequest(
            session_id=session_id if named else None,
            cwd=project,
            prompt=params.prompt,
            skill=params.skill,
            model=params.model,
            permission_mode=params.permission_mode,
        )
        adapter.check_turn(turn)
        store = self.stores(project)
        claim = self._claim(store, session_id, adapter) if named else None
        return await self._launch(adapter, turn, meta, None, claim, carried=None)

    async def resume(
        self,
        request: ResumeRequest,
        project: str,
        cwd: str,
        agent: str,
        title: str | None,
        created_at: str | None,
        transcript_path: str | None,
        carried_cost: float | None,
        skill: str | None,
    ) -> str:
        """Continue a session under its id (or, with ``fork``, a new one); returns the id."""
        adapter = self.adapter(agent)
        adapter.check_turn(
            TurnRequest(
                request.session_id,
                cwd,
                request.prompt,
                model=request.model,
                permission_mode=request.permission_mode,
                allowed_tools=request.allowed_tools,
            )
        )
        store = self.stores(project)
        claim = None
        if not request.fork:
            claim = self._claim(store, request.session_id, adapter)
        try:
            self.check_command(adapter)
            if not cwd or not os.path.isdir(cwd):
                raise InvalidParams(
                    f"The project folder of session {request.session_id} ({cwd}) no longer exists.", field="sessionId"
                )
        except BaseException:
            if claim is not None:
                claim.release()
            raise
        now = utc_now()
        record = TurnRecord(prompt=request.prompt, started_at=now, status="running")

        def turn_of(session_id: str | None, resume: bool = False, fork_from: str | None = None) -> TurnRequest:
            return TurnRequest(
                session_id=session_id,
                cwd=project,
                prompt=request.prompt,
                model=request.model,
                permission_mode=request.permission_mode,
                allowed_tools=request.allowed_tools,
                resume=resume,
                fork_from=fork_from,
            )

        if request.fork:
            new_id = new_session_id()
            meta = WorkflowMetadata(
                session_id=new_id,
                agent=adapter.id,
                cwd=project,
                skill=skill,
                title=title or one_line(request.prompt),
                status="running",
                created_at=now,
                updated_at=now,
                parent_session_id=request.session_id,
                turns=[record],
            )
            if getattr(adapter, "supports_fork", True) is False:
                raise InvalidParams(f"Invalid params: {adapter.display_name} cannot fork a session.", field="fork")
            named = adapter.mints_session_id
            claim = self._claim(store, new_id, adapter) if named else None
            turn = turn_of(new_id if named else None, fork_from=request.session_id)
            return await self._launch(adapter, turn, meta, None, claim, carried_cost)
        assert claim is not None
        fresh = WorkflowMetadata(
            session_id=request.session_id,
            agent=adapter.id,
            cwd=project,
            skill=None,
            title=title or one_line(request.prompt),
            status="running",
            created_at=created_at or now,
            updated_at=now,
            transcript_path=transcript_path,
            turns=[record],
        )

        def add_turn(meta: WorkflowMetadata) -> None:
            meta.status, meta.updated_at, meta.last_error, meta.pid = "running", now, None, None
            meta.turns.append(record)

        turn = turn_of(request.session_id, resume=True)
        return await self._launch(adapter, turn, fresh, add_turn, claim, carried_cost)

    async def _launch(
        self,
        adapter: AgentAdapter,
        turn: TurnRequest,
        fresh: WorkflowMetadata,
        change: Callable[[WorkflowMetadata], None] | None,
        claim: claims.Claim | None,
        carried: float | None,
    ) -> str:
        """Record the turn, then spawn; for an agent that names its own session (``claim`` is
        None, ``turn.session_id`` None), spawn first and record once it has said the id."""
        monitor = adapter.new_monitor()
        reported = asyncio.Event()
        named: list[str] = [turn.session_id] if turn.session_id else []

        def on_event() -> None:
            if not named:
                if getattr(monitor, "session_id", None):
                    reported.set()
                return
            self._on_streaming(named[0])

        run = AgentRun(turn.session_id or "(starting)", monitor, on_event=on_event, on_exit=self._run_exited)
        try:
            spec = SpawnSpec(
                argv=_argv(adapter, turn),
                cwd=turn.cwd,
                env=adapter.env(),
                stdin=_stdin(adapter, turn),
                pass_fds=(claim.fd,) if claim is not None and claim.fd is not None else (),
                hold_output=getattr(adapter, "hold_output", False),
            )
        except InvalidParams:
            if claim is not None:
                claim.release()
            raise
        if claim is not None and turn.session_id is not None:
            await self._record(fresh, change, claim)
            self.turns[turn.session_id] = Turn(run, claim, fresh.cwd, carried)
        try:
            await run.start(spec)
        except OSError as exc:
            reason = (
                f"The {adapter.display_name} command {spec.argv[0]!r} could not be started ({exc.strerror or exc})."
            )
            if claim is not None and turn.session_id is not None:
                del self.turns[turn.session_id]
                self.finish(turn.session_id, fresh.cwd, TurnOutcome("failed", last_error=reason), None, None)
                claim.release()
            raise AgentUnavailable(
                f"{reason} Set '{adapter.command_setting}' to a working {adapter.id} binary.",
                agent=adapter.id,
                command=adapter.command.argv,
            ) from None
        if claim is None:
            session_id, claim = await self._await_session_id(adapter, run, monitor, reported)
            run.session_id = session_id
            fresh.session_id = session_id
            named.append(session_id)
            await self._record(fresh, change, claim)
            self.turns[session_id] = Turn(run, claim, fresh.cwd, carried)
        session_id = named[0]
        if run.pid is not None:
            claim.note_pid(run.pid)
        self._record_pid_soon(session_id, fresh.cwd, run)
        logger.info("started %s turn of %s (pid %s)", "a resumed" if turn.resume else "a new", session_id, run.pid)
        self._on_started(session_id, change is None)
        if run.done.is_set() and run.outcome is not None:
            self._run_exited(run, run.outcome, run.exit_code if run.exit_code is not None else -1)
        return session_id

    async def _record(
        self, fresh: WorkflowMetadata, change: Callable[[WorkflowMetadata], None] | None, claim: claims.Claim
    ) -> None:
        """Write the turn into the store (under the claim) and mirror it into the catalog."""
        store = self.stores(fresh.cwd)
        try:
            meta = await asyncio.to_thread(_record_turn, store, fresh, change)
        except BaseException:
            claim.release()
            raise
        self.stores.mirror(fresh.cwd, meta)

    async def _await_session_id(
        self, adapter: AgentAdapter, run: AgentRun, monitor: Any, reported: asyncio.Event
    ) -> tuple[str, claims.Claim]:
        """The id an agent reports first (Codex: ``thread.started``), then claim it.

        Never guessed from files or times: past ``ID_TIMEOUT_SECONDS``, or if the agent exits
        first, the process is stopped and the start fails with -32005, leaving nothing behind.
        """
        waiter = asyncio.ensure_future(reported.wait())
        ended = asyncio.ensure_future(run.done.wait())
        await asyncio.wait([waiter, ended], timeout=ID_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        ended.cancel()
        session_id = getattr(monitor, "session_id", None)
        if not session_id:
            if not run.done.is_set():
                await run.cancel()
            tail = run.stderr_tail.strip()[-2000:]
            why = "exited" if run.exit_code not in (None, -2, -15, -9) or not tail else "gave no session id"
            raise AgentStartFailed(
                f"The {adapter.display_name} {why} before it named its session"
                + (f" (exit code {run.exit_code})." if run.exit_code is not None else "."),
                agent=adapter.id,
                exitCode=run.exit_code,
                stderrTail=tail,
            )
        store = self.stores(run_project(run))
        folder = store.workflows_dir / session_id
        try:
            store.ensure()
            folder.mkdir(exist_ok=True, mode=0o700)
            return session_id, claims.Claims(folder).try_claim(session_id)
        except BaseException:
            await run.cancel()
            raise

    def _record_pid_soon(self, session_id: str, project: str, run: AgentRun) -> None:
        """Write the turn's pid into the store off the response path (it only serves people)."""
        store = self.stores(project)

        def set_pid(meta: WorkflowMetadata) -> None:
            if meta.status == "running" and meta.turns and meta.turns[-1].ended_at is None:
                meta.pid = run.pid

        async def write() -> None:
            # Not mirrored into the catalog: this write may finish after the turn's end was
            # recorded, and its copy would bring back "running". Clients get the pid from
            # the turns running now, never from the store.
            try:
                await asyncio.to_thread(store.update_metadata, session_id, set_pid, False)
            except (KeyError, StoreError, OSError) as exc:
                logger.warning("cannot record the pid of %s: %s", session_id, exc)

        task = asyncio.ensure_future(write())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _run_exited(self, run: AgentRun, outcome: TurnOutcome, exit_code: int) -> None:
        turn = self.turns.get(run.session_id)
        if turn is None or turn.run is not run:
            return
        del self.turns[run.session_id]
        try:
            self.finish(run.session_id, turn.project, outcome, exit_code, turn.carried_cost)
        finally:
            turn.claim.release()
        self._on_ended(run.session_id)

    def finish(
        self,
        session_id: str,
        project: str,
        outcome: TurnOutcome,
        exit_code: int | None,
        carried: float | None,
        transcript_path: str | None = None,
    ) -> None:
        """Record how a turn ended (read-modify-write under the session's lock)."""
        now = utc_now()
        path = transcript_path or self._transcript_path(session_id)

        def change(meta: WorkflowMetadata) -> None:
            meta.status, meta.last_error, meta.pid, meta.updated_at = outcome.status, outcome.last_error, None, now
            if path is not None:
                meta.transcript_path = path
            if meta.turns and meta.turns[-1].ended_at is None:
                last = meta.turns[-1]
                last.ended_at, last.exit_code, last.status, last.cost_usd = (
                    now,
                    exit_code,
                    outcome.status,
                    own_cost(outcome.cost_usd, carried),
                )

        store = self.stores(project)
        try:
            meta = store.update_metadata(session_id, change)
        except (KeyError, StoreError, OSError) as exc:
            logger.warning("cannot record the end of the turn of %s: %s", session_id, exc)
            return
        self.stores.mirror(project, meta)

    def _transcript_path(self, session_id: str) -> str | None:
        files = self.catalog.files_of(session_id)
        return files[0].path if files else None

    def streaming_text(self, session_id: str) -> str | None:
        """What the agent of a running turn of ours has written so far and not yet saved."""
        turn = self.turns.get(session_id)
        if turn is None or turn.run.done.is_set():
            return None
        return getattr(turn.run.monitor, "streaming_text", None)

    async def cancel(self, session_id: str) -> bool:
        """Stop a turn this process runs (SIGINT, SIGTERM, SIGKILL); False if it runs none."""
        turn = self.turns.get(session_id)
        if turn is None:
            return False
        await turn.run.cancel()
        await turn.run.done.wait()
        return True


def _record_turn(
    store: ProjectStore, fresh: WorkflowMetadata, change: Callable[[WorkflowMetadata], None] | None
) -> WorkflowMetadata:
    """A new store entry, or the existing one read, changed and written under its lock."""
    if change is not None:
        try:
            return store.update_metadata(fresh.session_id, change)
        except KeyError:
            pass
    store.write_metadata(fresh)
    return fresh


def own_cost(reported: float | None, carried: float | None) -> float | None:
    """A turn's own cost from the total its agent reported.

    An agent that keeps a running cost in its transcript (Claude Code's ``cost-state``,
    2.1.3xx) restores it on resume and reports totals that include it; one that keeps none
    (2.1.197) reports each process's own cost. Subtracting what was carried gives every
    turn its own cost either way.
    """
    if reported is None or carried is None:
        return reported
    return max(0.0, round(reported - carried, 9))


def require_session(found: bool, session_id: str) -> None:
    if not found:
        raise SessionNotFound(f"No session with id {session_id} was found.", sessionId=session_id)


def run_project(run: AgentRun) -> str:
    """The project a run was started in (its working directory)."""
    return run.cwd


def _argv(adapter: AgentAdapter, turn: TurnRequest) -> list[str]:
    """The agent's argv; a turn option it cannot take is the client's error (-32602)."""
    try:
        return adapter.argv(turn)
    except ValueError as exc:
        raise InvalidParams(f"Invalid params: {exc}", field="params") from None


def _stdin(adapter: AgentAdapter, turn: TurnRequest) -> bytes:
    try:
        return adapter.stdin_bytes(turn)
    except ValueError as exc:
        raise InvalidParams(f"Invalid params: {exc}", field="prompt") from None
