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
from typing import Any

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.protocol import lsp_method

from threadline import __version__
from threadline import protocol as wire
from threadline.config import Options, defaults, parse_options
from threadline.errors import ThreadlineError
from threadline.protocol import Message, SessionInfo
from threadline.sessions import MAX_APPENDED, Refresh, SessionManager
from threadline.transport import SafeProtocol, SafeServer
from threadline.watcher import FolderWatcher

logger = logging.getLogger(__name__)

UPDATE_INTERVAL = 0.05
"""``session/updated`` is coalesced to at most one per session per 50 ms."""
FOREIGN_CHECK_SECONDS = 2.0
PROGRESS_THRESHOLD = 50
"""A first indexing that must read at least this many transcripts reports ``$/progress``."""
FIRST_ANSWER_SECONDS = 1.0
"""A list that arrives during the first indexing waits at most this long, then answers with
what is indexed so far (newest files first): the recent sessions show at once."""


@attrs.define
class RawRequest:
    """A request to one of our methods: params stay a plain dict for pydantic to check."""

    id: int | str
    method: str
    jsonrpc: str
    params: Any = None


class ThreadlineProtocol(SafeProtocol):
    """Keeps the params of Threadline's own methods as JSON, not pygls' namedtuples."""

    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]
        if method in wire.REQUEST_METHODS:
            return RawRequest
        return super().get_message_type(method)

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams) -> Generator[Any, Any, lsp.InitializeResult]:
        """Add ``capabilities.experimental.threadline`` to pygls' computed result."""
        result: lsp.InitializeResult = yield from super().lsp_initialize(params)
        core = self._server.core  # type: ignore[attr-defined]
        agents = core.runnable_agents() if core else []
        result.capabilities.experimental = {
            "threadline": {"protocolVersion": wire.PROTOCOL_VERSION, "agents": agents},
        }
        return result


class ThreadlineServer(SafeServer):
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
            if "\x00" in folder:  # no file system path holds one: nothing to watch
                logger.warning("not watching the workspace folder %r: a path cannot hold a NUL character", folder)
                continue
            self.core.watch_project(folder)

    async def start_watching(self) -> None:
        if self.core is None or not self.options.watch:
            return
        self.watcher = FolderWatcher(self.core.watch_roots(), self.core.on_paths_changed, since=self._scanned_at)
        self.watcher.start()
        self.run_task(self._check_foreign_turns())

    def start_indexing(self) -> None:
        """Bring the catalog up to date in the background; requests are answered meanwhile."""
        if self.core is not None:
            self.run_task(self.core.index_history(self._progress_for))

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

    async def _progress_for(self, total: int) -> Any:
        """A ``$/progress`` reporter for a first indexing of ``total`` files, if worth one."""
        capabilities = self.client_capabilities.window
        if total < PROGRESS_THRESHOLD or capabilities is None or not capabilities.work_done_progress:
            return None
        token = f"threadline-index-{uuid.uuid4()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception:
            logger.info("the client declined a progress token", exc_info=True)
            return None
        self.work_done_progress.begin(
            token,
            lsp.WorkDoneProgressBegin(
                title="Threadline: reading session history",
                percentage=0,
                cancellable=False,
                message=f"0 of {total} transcripts",
            ),
        )
        ended = False

        def report(done: int, of: int) -> None:
            nonlocal ended
            if ended:
                return
            self.work_done_progress.report(
                token,
                lsp.WorkDoneProgressReport(percentage=done * 100 // of, message=f"{done} of {of} transcripts"),
            )
            if done >= of:
                ended = True
                self.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=f"{of} transcripts read"))

        return report

    def require_core(self) -> SessionManager:
        if self.core is None:
            raise ThreadlineError("The server is not initialized yet.")
        return self.core

    # -- SessionEvents ----------------------------------------------------------------------
    def session_detected(self, info: SessionInfo) -> None:
        self.protocol.notify(wire.SESSION_DETECTED, wire.dump(wire.SessionDetectedParams(session=info)))

    def session_changed(self, session_id: str, refresh: Refresh | None) -> None:
        if refresh is not None and refresh.appended_from is not None and session_id in self.following:
            start = self._pending.get(session_id)
            if start is None or refresh.appended_from < start:
                self._pending[session_id] = refresh.appended_from
        self._pending_status.add(session_id)
        self._schedule(session_id)

    def session_removed(self, session_id: str) -> None:
        self.following.discard(session_id)
        self._pending.pop(session_id, None)
        self.protocol.notify(wire.SESSION_REMOVED, {"sessionId": session_id})

    def _schedule(self, session_id: str) -> None:
        if session_id in self._timers:
            return
        loop = asyncio.get_event_loop()
        wait = max(0.0, self._last_sent.get(session_id, 0.0) + UPDATE_INTERVAL - loop.time())
        self._timers[session_id] = loop.call_later(wait, self._flush, session_id)

    def _flush(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        self._pending_status.discard(session_id)
        self._last_sent[session_id] = asyncio.get_event_loop().time()
        core = self.require_core()
        try:
            info = core.info(session_id)
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
        if start is not None and session_id in self.following:
            appended = core.messages_from(session_id, start, MAX_APPENDED)
            if start + len(appended) < info.message_count:
                # A follower further behind gets the rest in the next updates (protocol §4).
                self._pending[session_id] = start + len(appended)
                self._pending_status.add(session_id)
                self._schedule(session_id)
        else:
            start = None
        streaming = None
        if session_id in self.following:
            text = core.streaming_text(session_id)
            streaming = wire.StreamingText(text=text) if text is not None else None
        params = wire.SessionUpdatedParams(session=info, appended=appended, appended_from=start, streaming=streaming)
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
    ls.start_indexing()
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
    if ls.watcher is None:
        await core.reindex()  # nothing tells this server what changed: look now
    else:
        await core.wait_indexed(FIRST_ANSWER_SECONDS)
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
    result = await ls.require_core().resume(
        request.session_id,
        request.prompt,
        request.fork,
        permission_mode=request.permission_mode,
        allowed_tools=request.allowed_tools,
        model=request.model,
    )
    return wire.dump(result)


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
