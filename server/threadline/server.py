"""The JSON-RPC face of Threadline: thin pygls handlers over :mod:`threadline.sessions`.

Handlers validate params with the wire models, call the core, and dump results by alias.
Domain errors become JSON-RPC errors with the protocol's codes; anything unexpected is
logged with its traceback here and reaches the client as one plain sentence.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from threadline import __version__
from threadline import protocol as wire
from threadline.agents.claude.transcript import Refresh
from threadline.config import Options, defaults, parse_options
from threadline.errors import ThreadlineError
from threadline.protocol import Message, SessionInfo
from threadline.sessions import SessionManager
from threadline.watcher import FolderWatcher

logger = logging.getLogger(__name__)

UPDATE_INTERVAL = 0.05
"""``session/updated`` is coalesced to at most one per session per 50 ms."""
FOREIGN_CHECK_SECONDS = 2.0
PROGRESS_THRESHOLD = 50
"""A first listing that must read at least this many transcripts reports ``$/progress``."""
PROGRESS_CHUNK = 20
MAX_APPENDED = 500
"""At most this many Messages in one ``session/updated`` (protocol §4); the rest follow."""


@attrs.define
class RawRequest:
    """A request to one of our methods: params stay a plain dict for pydantic to check."""

    id: int | str
    method: str
    jsonrpc: str
    params: Any = None


class ThreadlineProtocol(LanguageServerProtocol):
    """Keeps the params of Threadline's own methods as JSON, not pygls' namedtuples."""

    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]
        if method in wire.REQUEST_METHODS:
            return RawRequest
        return super().get_message_type(method)

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams) -> Generator[Any, Any, lsp.InitializeResult]:
        """Add ``capabilities.experimental.threadline`` to pygls' computed result."""
        result: lsp.InitializeResult = yield from super().lsp_initialize(params)
        agents = sorted(self._server.core.adapters) if self._server.core else ["claude"]  # type: ignore[attr-defined]
        result.capabilities.experimental = {
            "threadline": {"protocolVersion": wire.PROTOCOL_VERSION, "agents": agents},
        }
        return result


class ThreadlineServer(LanguageServer):
    """Holds the core, the watcher and this connection's subscriptions."""

    def __init__(self) -> None:
        super().__init__("threadline", __version__, protocol_cls=ThreadlineProtocol)
        self.options: Options = defaults()
        self.core: SessionManager | None = None
        self.watcher: FolderWatcher | None = None
        self.following: set[str] = set()
        self._pending: dict[str, int] = {}
        """Followed session → the lowest Message index changed and not yet sent. Only the index
        is kept, never the Messages: a follower far behind costs no memory, its backlog is
        re-read from the transcript 500 at a time."""
        self._pending_status: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last_sent: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanned_at = time.time()
        """When the projects were first looked at: the watcher's first rescan reports changes since."""

    # -- lifecycle --------------------------------------------------------------------------
    def setup(self, params: lsp.InitializeParams) -> None:
        self._scanned_at = time.time()
        self.options, warnings = parse_options(params.initialization_options)
        self.core = SessionManager(self.options, self)
        for warning in warnings:
            logger.warning("%s", warning)
            self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=warning))
        for folder in _workspace_paths(params):
            self.core.watch_project(folder)

    async def start_watching(self) -> None:
        if self.core is None or not self.options.watch:
            return
        self.watcher = FolderWatcher(self.core.claude.watch_roots(), self.core.on_paths_changed, since=self._scanned_at)
        self.watcher.start()
        self.run_task(self._check_foreign_turns())

    async def _check_foreign_turns(self) -> None:
        """Turns run by other processes have no exit to await: look at their pids now and then."""
        while True:
            await asyncio.sleep(FOREIGN_CHECK_SECONDS)
            if self.core is not None and self.core.has_foreign:
                self.core.check_foreign()

    def run_task(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                logger.error("background task failed", exc_info=done.exception())

        task.add_done_callback(finished)

    async def stop_watching(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        for task in list(self._tasks):
            task.cancel()

    async def index_with_progress(self, paths: list[Path]) -> None:
        """Read many transcripts in chunks, yielding to the loop and reporting ``$/progress``."""
        core = self.require_core()
        capabilities = self.client_capabilities.window
        token: str | None = None
        if capabilities is not None and capabilities.work_done_progress:
            token = f"threadline-index-{uuid.uuid4()}"
            try:
                await self.work_done_progress.create_async(token)
                self.work_done_progress.begin(
                    token,
                    lsp.WorkDoneProgressBegin(
                        title="Threadline: reading session history",
                        percentage=0,
                        cancellable=False,
                        message=f"0 of {len(paths)} transcripts",
                    ),
                )
            except Exception:
                logger.info("the client declined a progress token", exc_info=True)
                token = None
        for start in range(0, len(paths), PROGRESS_CHUNK):
            core.index(paths[start : start + PROGRESS_CHUNK])
            done = min(len(paths), start + PROGRESS_CHUNK)
            if token is not None:
                self.work_done_progress.report(
                    token,
                    lsp.WorkDoneProgressReport(
                        percentage=done * 100 // len(paths), message=f"{done} of {len(paths)} transcripts"
                    ),
                )
            await asyncio.sleep(0)
        if token is not None:
            self.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=f"{len(paths)} transcripts read"))

    def require_core(self) -> SessionManager:
        if self.core is None:
            raise ThreadlineError("The server is not initialized yet.")
        return self.core

    # -- SessionEvents ----------------------------------------------------------------------
    def session_detected(self, info: SessionInfo) -> None:
        self.protocol.notify(wire.SESSION_DETECTED, wire.dump(wire.SessionDetectedParams(session=info)))

    def session_changed(self, session_id: str, refresh: Refresh | None) -> None:
        if refresh is not None and refresh.appended_from is not None and session_id in self.following:
            known = self._pending.get(session_id)
            self._pending[session_id] = refresh.appended_from if known is None else min(known, refresh.appended_from)
        self._pending_status.add(session_id)
        self._schedule(session_id)

    def _schedule(self, session_id: str) -> None:
        if session_id in self._timers:
            return
        loop = asyncio.get_event_loop()
        wait = max(0.0, self._last_sent.get(session_id, 0.0) + UPDATE_INTERVAL - loop.time())
        self._timers[session_id] = loop.call_later(wait, self._flush, session_id)

    def _carry_on(self, session_id: str, end: int, total: int) -> None:
        """After sending Messages up to ``end``: keep what is still owed, schedule its update."""
        later = self._pending.pop(session_id, None)  # changes seen while this update was read
        owed = []
        if later is not None and later >= end:
            owed.append(later)  # (below ``end`` they are in this update already)
        if end < total:
            owed.append(end)
        if owed:
            self._pending[session_id] = min(owed)
            self._schedule(session_id)

    def _flush(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        self._pending_status.discard(session_id)
        self._last_sent[session_id] = asyncio.get_event_loop().time()
        try:
            info = self.require_core().info(session_id)
        except ThreadlineError:
            self._pending.pop(session_id, None)
            return
        except Exception:
            self._pending.pop(session_id, None)
            logger.exception("could not describe session %s", session_id)
            return
        # Read after info(): its refresh may move the pending index, and what is read below
        # is then already the newest content of every Message it covers.
        start = self._pending.pop(session_id, None)
        if session_id not in self.following:
            start = None  # unfollowed since: nothing is owed any more
        appended: list[Message] = []
        if start is not None:
            try:
                page = self.require_core().messages(session_id, start, MAX_APPENDED, False)
            except ThreadlineError:
                page = None
            if page is not None and page.messages:
                appended = page.messages
                self._carry_on(session_id, start + len(appended), page.total)
            else:
                start = None
        params = wire.SessionUpdatedParams(session=info, appended=appended, appended_from=start if appended else None)
        logger.debug(
            "session/updated %s status=%s appended_from=%s n=%d", session_id, info.status, start, len(appended)
        )
        self.protocol.notify(wire.SESSION_UPDATED, wire.dump(params))


server = ThreadlineServer()


def _workspace_paths(params: lsp.InitializeParams) -> list[str]:
    from urllib.parse import unquote, urlparse

    uris = [f.uri for f in params.workspace_folders or []] or ([params.root_uri] if params.root_uri else [])
    paths = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            paths.append(unquote(parsed.path))
    if not paths and params.root_path:
        paths.append(params.root_path)
    return paths


def _as_jsonrpc_error(exc: ThreadlineError) -> JsonRpcException:
    return JsonRpcException(message=exc.message, code=exc.code, data=exc.data or None)


Handler = Callable[[ThreadlineServer, Any], Awaitable[dict[str, Any]]]


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for one of our methods, with the protocol's error mapping."""

    def register(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
            try:
                return await handler(ls, params)
            except ThreadlineError as exc:
                logger.info("%s refused: %s", name, exc.message)
                raise _as_jsonrpc_error(exc) from None
            except Exception:
                logger.exception("%s failed", name)
                raise JsonRpcException(
                    message=f"Threadline could not complete {name}; see its log for details.", code=-32603
                ) from None

        server.feature(name)(guarded)
        return handler

    return register


@server.feature(lsp.INITIALIZE)
def on_initialize(ls: ThreadlineServer, params: lsp.InitializeParams) -> None:
    ls.setup(params)


@server.feature(lsp.INITIALIZED)
async def on_initialized(ls: ThreadlineServer, params: lsp.InitializedParams) -> None:
    await ls.start_watching()


@server.feature(lsp.SHUTDOWN)
async def on_shutdown(ls: ThreadlineServer, params: None) -> None:
    await ls.stop_watching()
    if ls.core is not None:
        await ls.core.shutdown()


@method(wire.WORKFLOW_START)
async def workflow_start(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.WorkflowStartParams, params)
    return wire.dump(await ls.require_core().start(request))


@method(wire.SESSION_LIST)
async def session_list(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionListParams, params)
    core = ls.require_core()
    unread = core.unread_transcripts(request.cwd)
    if len(unread) >= PROGRESS_THRESHOLD:
        await ls.index_with_progress(unread)
    return wire.dump(core.list_sessions(request))


@method(wire.SESSION_MESSAGES)
async def session_messages(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionMessagesParams, params)
    result = ls.require_core().messages(request.session_id, request.offset, request.limit, request.from_end)
    if request.follow:
        ls.following.add(request.session_id)
    return wire.dump(result)


@method(wire.SESSION_RESUME)
async def session_resume(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionResumeParams, params)
    return wire.dump(await ls.require_core().resume(request.session_id, request.prompt, request.fork))


@method(wire.SESSION_GET)
async def session_get(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionIdParams, params)
    return wire.dump(wire.SessionResult(session=ls.require_core().info(request.session_id)))


@method(wire.SESSION_ACTIVATE)
async def session_activate(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionActivateParams, params)
    active = ls.require_core().activate(request.cwd, request.session_id)
    return wire.dump(wire.ActivateResult(active_session_id=active))


@method(wire.WORKFLOW_CANCEL)
async def workflow_cancel(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionIdParams, params)
    return wire.dump(wire.SessionResult(session=await ls.require_core().cancel(request.session_id)))


@method(wire.SESSION_UNFOLLOW)
async def session_unfollow(ls: ThreadlineServer, params: Any) -> dict[str, Any]:
    request = wire.parse_params(wire.SessionIdParams, params)
    ls.following.discard(request.session_id)
    return {}
