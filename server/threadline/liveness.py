"""Turns that run outside this process: another Threadline server's or CLI's (their claims),
or an agent run in a terminal (its own live-process registry or writer lock).

No exit of ours announces their end, and their end is written to a project store or an agent
file no watcher event of ours may announce: so they are remembered here and their claims
probed, now and then and before a request answers. Part of :class:`SessionManager`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from threadline import claims
from threadline.agents.base import AgentAdapter, TurnOutcome
from threadline.catalog import Catalog, status_of_ending
from threadline.procs import pid_alive
from threadline.protocol import Status
from threadline.store import WorkflowMetadata

if TYPE_CHECKING:
    from threadline.reading import SessionReader
    from threadline.sessions import SessionEvents
    from threadline.turns import Stores, TurnWriter

logger = logging.getLogger("threadline.sessions")


class ForeignTurns:
    """The liveness half of the core: which sessions run now, by this process or another."""

    adapters: dict[str, AgentAdapter]
    catalog: Catalog
    stores: Stores
    writer: TurnWriter
    reader: SessionReader
    events: SessionEvents
    _registry: dict[str, int]
    """Session id → pid from the agents' own live-process registries."""
    _foreign: dict[str, int]
    """Session id → pid of a turn another Threadline process runs (its claim is held)."""

    def sync_store(self, project: str, force: bool = False) -> None:
        raise NotImplementedError

    def refresh_session(self, session_id: str) -> None:
        raise NotImplementedError

    def live(self) -> dict[str, int]:
        """Session id → pid of every turn running now, by this process or any other."""
        live = {sid: pid for sid, pid in self._registry.items() if pid_alive(pid)}
        live.update(self._foreign)
        live.update(self.writer.running())
        return live

    def refresh_liveness(self) -> None:
        """Re-read the agents' live-process registries and the claims of running store entries."""
        registry: dict[str, int] = {}
        for adapter in self.adapters.values():
            registry.update(adapter.live_sessions())
        self._registry = registry
        checked = set()
        for workflow in self.catalog.running_workflows():
            session_id = str(workflow["sessionId"])
            if session_id not in self.writer.turns:
                checked.add(session_id)
                self._check_running(session_id, str(workflow.get("cwd", "")))
        for session_id in set(self._foreign) - checked:
            self._recheck_foreign(session_id)

    def _check_running(self, session_id: str, project: str) -> None:
        """A store entry says ``running``: another process's turn, or one whose process died."""
        if session_id in self.writer.turns:
            return
        holder = claims.Claims(self.stores(project).workflows_dir / session_id).holder(session_id)
        if holder is None:
            # A turn recorded before claims existed, or by a process that left no claim.
            workflow = self.catalog.workflow(session_id) or {}
            pid = workflow.get("pid")
            holder = pid if isinstance(pid, int) and pid_alive(pid) else None
        if holder is not None:
            self._foreign[session_id] = holder
            return
        self._foreign.pop(session_id, None)
        self._recover(session_id, project)

    def _recover(self, session_id: str, project: str) -> None:
        """No process holds a turn the store calls running: record how its transcript ends, by
        the rule for a session no process holds (a reply, the model API's error, …).

        The transcript is read again first: the agent may have written its reply moments
        before it let go of the claim, sooner than the watcher reports the change."""
        self.refresh_session(session_id)
        file = self.reader.primary_file(session_id)
        summary = file.summary if file is not None else None
        gone = TurnOutcome("interrupted", last_error="The agent process was gone when Threadline restarted.")
        outcome = gone
        if summary is not None and summary.ending != "empty":  # a turn that wrote nothing did not complete
            status, error = status_of_ending(summary.ending, summary.ending_error)
            if status != "interrupted":
                outcome = TurnOutcome(cast(Status, status), last_error=error)
        store = self.stores(project)

        def still_running(meta: WorkflowMetadata) -> bool:
            return meta.status == "running"

        meta = store.read_metadata(session_id)
        if meta is None or not still_running(meta):
            self.sync_store(project)
            return
        logger.info("session %s was running under pid %s, now gone: %s", session_id, meta.pid, outcome.status)
        self.writer.finish(session_id, project, outcome, None, None)

    def check_foreign(self) -> None:
        """Re-check turns run by other processes; called on registry changes and periodically."""
        if self._registry:
            before = self._registry
            self._registry = registry_of(self.adapters.values())
            for session_id in set(before) - set(self._registry):
                if session_id not in self.writer.turns and self.catalog.session(session_id) is not None:
                    self.events.session_changed(session_id, None)
        for session_id in list(self._foreign):
            self._recheck_foreign(session_id)

    def _recheck_foreign(self, session_id: str) -> None:
        """Is another process's turn of this session still running? If not, take its end from
        the store (or recover it) and tell the clients. One claim probe: cheap enough for a
        request to call before it answers, so no answer shows a turn running that has ended."""
        if session_id not in self._foreign:
            return
        workflow = self.catalog.workflow(session_id)
        project = str((workflow or {}).get("cwd", ""))
        if project:
            self.sync_store(project)
        folder = self.stores(project).workflows_dir / session_id
        holder = claims.Claims(folder).holder(session_id) if project else None
        pid = (workflow or {}).get("pid")
        if holder is None and isinstance(pid, int) and pid_alive(pid):
            holder = pid
        if holder is None:
            del self._foreign[session_id]
            workflow = self.catalog.workflow(session_id)
            if workflow is not None and workflow.get("status") == "running":
                self._recover(session_id, project)
            self.events.session_changed(session_id, None)

    @property
    def has_foreign(self) -> bool:
        """Something runs outside this process that no file event will announce the end of:
        a turn of another Threadline process, or a live agent in an agent's registry (Codex
        leaves its lock file behind when killed, Claude its registry entry)."""
        return bool(self._foreign) or bool(self._registry)

    def _watch_foreign_turn(self, session_id: str) -> None:
        """A session another process runs a turn in: check its claim every 2 s, since the end
        of that turn is written to its store, which no watcher event of ours announces."""
        if session_id in self.writer.turns or session_id in self._foreign:
            return
        workflow = self.catalog.workflow(session_id)
        if workflow is not None and workflow.get("status") == "running":
            project = str(workflow.get("cwd", ""))
            holder = claims.Claims(self.stores(project).workflows_dir / session_id).holder(session_id)
            if holder is not None:
                self._foreign[session_id] = holder

    def _registry_changed(self) -> None:
        before = self._registry
        self._registry = registry_of(self.adapters.values())
        for session_id in {s for s in before.keys() | self._registry.keys() if before.get(s) != self._registry.get(s)}:
            if session_id in self.writer.turns:
                continue
            if self.catalog.session(session_id) is not None:
                self._watch_foreign_turn(session_id)
                self.events.session_changed(session_id, None)
        self.check_foreign()


def registry_of(adapters: Iterable[AgentAdapter]) -> dict[str, int]:
    live: dict[str, int] = {}
    for adapter in adapters:
        live.update(adapter.live_sessions())
    return live
