"""The commands other than ``serve``: each drives :class:`~threadline.sessions.SessionManager`
in process, the same code that answers the editors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from rich.console import Console

from threadline import protocol as wire
from threadline.cli.parser import EXIT_USAGE
from threadline.cli.render import console, print_message, print_session_header, print_sessions
from threadline.cli.resolve import UsageError, project_root, resolve_id
from threadline.config import AgentOptions, Options, default_cache_dir, default_claude_config_dir
from threadline.errors import ThreadlineError
from threadline.protocol import AGENTS, DEFAULT_AGENT, SessionInfo
from threadline.sessions import Refresh, SessionManager
from threadline.store import ProjectStore, WorkflowMetadata, utc_now
from threadline.watcher import FolderWatcher

EXIT_ERROR = 1
EXIT_FAILED = 3
EXIT_WAITING = 4
EXIT_CANCELLED = 130
WORKING = "Working… (Ctrl-C cancels)"
STREAM_TAIL = 60
"""How much of a reply being written the spinner line shows."""
CANCEL_GRACE = 3.0
"""Seconds between SIGINT and SIGTERM (and SIGTERM and SIGKILL) when cancelling elsewhere."""


def options_from(args: argparse.Namespace) -> Options:
    config_dir = Path(args.claude_config_dir).expanduser() if args.claude_config_dir else default_claude_config_dir()
    cache_dir = Path(args.cache_dir).expanduser() if getattr(args, "cache_dir", None) else default_cache_dir()
    agents = {agent_id: AgentOptions(_command_from_env(agent_id)) for agent_id in AGENTS}
    if args.claude_command:
        agents[DEFAULT_AGENT] = AgentOptions([args.claude_command])
    return Options(claude_config_dir=config_dir, agents=agents, watch=True, cache_dir=cache_dir)


def _command_from_env(agent_id: str) -> list[str]:
    """``$THREADLINE_<AGENT>_COMMAND`` (a word, or a JSON list), else the agent id on PATH."""
    variable = f"THREADLINE_{agent_id.upper()}_COMMAND"
    raw = os.environ.get(variable)
    if not raw:
        return [agent_id]
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise UsageError(f"{variable} starts with '[' but is not a JSON list of strings.")
        return value
    return [raw]


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class Printer:
    """Core events to the terminal: JSON lines (``watch``) or followed conversations."""

    def __init__(self, out: Console, json_lines: bool) -> None:
        self.core: SessionManager | None = None
        self.out = out
        self.json_lines = json_lines
        self.follow: set[str] = set()
        self.printed: dict[str, int] = {}
        self.status: Any = None
        """The spinner of a followed turn on a terminal: it shows the reply as it is written."""

    def _emit(self, method: str, params: Any) -> None:
        sys.stdout.write(json.dumps({"method": method, "params": wire.dump(params)}, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def session_detected(self, info: SessionInfo) -> None:
        if self.json_lines:
            self._emit(wire.SESSION_DETECTED, wire.SessionDetectedParams(session=info))

    def session_changed(self, session_id: str, refresh: Refresh | None) -> None:
        if self.core is None:
            return
        try:
            info = self.core.info(session_id)
        except ThreadlineError:
            return
        if self.json_lines:
            start = refresh.appended_from if refresh else None
            appended = self.core.messages_from(session_id, start) if start is not None else []
            self._emit(
                wire.SESSION_UPDATED, wire.SessionUpdatedParams(session=info, appended=appended, appended_from=start)
            )
        elif session_id in self.follow:
            self.print_new(session_id)
            self.show_streaming(session_id)

    def session_removed(self, session_id: str) -> None:
        if self.json_lines:
            sys.stdout.write(json.dumps({"method": wire.SESSION_REMOVED, "params": {"sessionId": session_id}}) + "\n")
            sys.stdout.flush()

    def show_streaming(self, session_id: str) -> None:
        """The reply being written, in the spinner's line (the whole Message prints once saved)."""
        if self.status is None or self.core is None:
            return
        text = self.core.streaming_text(session_id)
        if text:
            tail = " ".join(text.split())[-STREAM_TAIL:]
            self.status.update(f"agent: …{tail}" if len(text) > STREAM_TAIL else f"agent: {tail}")
        else:
            self.status.update(WORKING)

    def print_new(self, session_id: str) -> None:
        assert self.core is not None
        done = self.printed.get(session_id, 0)
        messages = self.core.messages_from(session_id, done)
        # The newest message may still grow: print only complete ones unless the turn is over.
        running = session_id in self.core.runs
        complete = messages[:-1] if running and messages else messages
        for message in complete:
            print_message(self.out, message)
            self.out.print()
        self.printed[session_id] = done + len(complete)


def make_core(args: argparse.Namespace, printer: Printer) -> SessionManager:
    """The core over the shared catalog, brought up to date first (only what changed is read;
    a first indexing of a large history shows a progress bar on a terminal)."""
    core = SessionManager(options_from(args), printer)
    printer.core = core
    with index_progress() as progress:
        core.index_now(progress)
    return core


@contextlib.contextmanager
def index_progress() -> Any:
    """A progress bar on stderr while many transcripts are read, on a terminal only (it is
    started only once an indexing turns out to be large, so a small one prints nothing)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bars: list[Any] = []

    def report(done: int, total: int) -> None:
        if total < PROGRESS_FILES:
            return
        if not bars:
            bar = Progress(
                TextColumn("reading session history"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            bar.start()
            bars.append((bar, bar.add_task("index", total=total)))
        bar, task = bars[0]
        bar.update(task, completed=done)

    try:
        yield report
    finally:
        for bar, _ in bars:
            bar.stop()


PROGRESS_FILES = 50
"""A first indexing that reads at least this many transcripts shows a progress bar."""


def project_of(args: argparse.Namespace) -> str:
    return project_root(args.cwd or os.getcwd())


async def _watch_until(core: SessionManager, done: asyncio.Event) -> None:
    watcher = FolderWatcher(core.watch_roots(), core.on_paths_changed)
    watcher.start()
    await watcher.ready.wait()
    try:
        await done.wait()
    finally:
        await watcher.stop()


def _read_prompt(text: str) -> str:
    if text == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise UsageError("The prompt is '-' but there is no stdin to read it from.")
        if sys.stdin.isatty():
            sys.stderr.write("Type the prompt, then press Ctrl-D on a line of its own.\n")
        try:
            text = sys.stdin.read()
        except UnicodeDecodeError:
            raise UsageError("The prompt on stdin is not UTF-8 text.") from None
    if not text.strip():
        raise UsageError("The prompt is empty; give it as an argument, or on stdin with '-'.")
    return text


# -- commands ----------------------------------------------------------------------------
async def run_list(args: argparse.Namespace) -> int:
    core = make_core(args, Printer(console(), json_lines=False))
    cwd = None if args.all else project_of(args)
    params = wire.SessionListParams(
        cwd=cwd, limit=args.limit, query=args.query or None, status=args.status, agent=args.agent
    )
    if cwd is not None and not os.path.isdir(cwd) and not core.sessions_with_prefix("", os.path.realpath(cwd)):
        # A project folder that is gone still lists the sessions recorded there.
        raise UsageError(f"{args.cwd} does not exist, and no session was recorded there.")
    result = core.list_sessions(params)
    if args.json:
        _dump(wire.dump(result))
        return 0
    out = console()
    if not result.sessions and not out.is_terminal:
        sys.stderr.write("No sessions.\n")
        return 0
    print_sessions(out, result.sessions, with_project=args.all)
    return 0


async def run_show(args: argparse.Namespace) -> int:
    core = make_core(args, Printer(console(), json_lines=False))
    session_id = resolve_id(core, args.session_id, project_root(os.getcwd()))
    info = core.info(session_id)
    page = core.messages(session_id, 0, args.tail, from_end=True)
    if args.json:
        _dump({"session": wire.dump(info), "messages": wire.dump(page)["messages"]})
        return 0
    out = console()
    print_session_header(out, info)
    if page.offset:
        out.print(f"… {page.offset} earlier messages (--tail N shows more)", style="dim")
    for message in page.messages:
        out.print()
        print_message(out, message)
    return 0


def turn_exit_code(status: str, interrupted_here: bool) -> int:
    """The exit code of a command that ran a turn (documented in ``threadline --help``)."""
    if interrupted_here:
        return EXIT_CANCELLED
    return {"completed": 0, "waiting_for_input": EXIT_WAITING}.get(status, EXIT_FAILED)


async def _run_turn(
    args: argparse.Namespace, printer: Printer, core: SessionManager, begin: Callable[[], Awaitable[Any]]
) -> int:
    out = printer.out
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    # Ctrl-C from here on cancels the turn (even one pressed before the agent has started).
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    result = await begin()
    session_id = result.session_id
    if not args.json:
        sys.stdout.write(session_id + "\n")
        sys.stdout.flush()
    if args.follow:
        printer.follow.add(session_id)
        printer.printed[session_id] = result.session.message_count
    run = core.runs.get(session_id)

    async def cancel_on_interrupt() -> None:
        await interrupted.wait()
        if run is not None:
            await run.cancel()

    canceller = asyncio.ensure_future(cancel_on_interrupt())
    done = asyncio.Event()
    watch_task = asyncio.ensure_future(_watch_until(core, done)) if args.follow else None
    status = out.status(WORKING, spinner="dots") if out.is_terminal else contextlib.nullcontext()
    with status as spinner:
        printer.status = spinner if args.follow and out.is_terminal else None
        if run is not None:
            await run.done.wait()
        done.set()
        if watch_task is not None:
            await watch_task
    if not interrupted.is_set():
        canceller.cancel()
    await asyncio.gather(canceller, return_exceptions=True)
    loop.remove_signal_handler(signal.SIGINT)
    if args.follow:
        printer.print_new(session_id)
    info = core.info(session_id)
    if args.json:
        _dump(wire.dump(wire.StartResult(session_id=session_id, session=info)))
    else:
        detail = f": {info.last_error}" if info.last_error else ""
        sys.stderr.write(f"{session_id} {info.status}{detail}\n")
    return turn_exit_code(info.status, interrupted.is_set())


def _check_turn_args(args: argparse.Namespace) -> None:
    if args.json and args.follow:
        raise UsageError("--json prints one JSON document when the turn ends; it cannot be used with --follow.")


async def run_start(args: argparse.Namespace) -> int:
    _check_turn_args(args)
    prompt = _read_prompt(args.prompt)
    printer = Printer(console(), json_lines=False)
    core = make_core(args, printer)
    params = wire.parse_params(
        wire.WorkflowStartParams,
        {
            "cwd": project_of(args),
            "prompt": prompt,
            "agent": args.agent,
            "skill": args.skill,
            "model": args.model,
            "permissionMode": args.permission_mode,
        },
    )
    return await _run_turn(args, printer, core, lambda: core.start(params))


async def run_resume(args: argparse.Namespace) -> int:
    _check_turn_args(args)
    prompt = _read_prompt(args.prompt)
    printer = Printer(console(), json_lines=False)
    core = make_core(args, printer)
    session_id = resolve_id(core, args.session_id, project_root(os.getcwd()))
    params = wire.parse_params(
        wire.SessionResumeParams,
        {
            "sessionId": session_id,
            "prompt": prompt,
            "fork": args.fork,
            "permissionMode": args.permission_mode,
            "allowedTools": args.allow,
            "model": args.model,
        },
    )

    def begin() -> Awaitable[wire.StartResult]:
        return core.resume(
            params.session_id,
            params.prompt,
            params.fork,
            permission_mode=params.permission_mode,
            allowed_tools=params.allowed_tools,
            model=params.model,
        )

    return await _run_turn(args, printer, core, begin)


async def run_cancel(args: argparse.Namespace) -> int:
    core = make_core(args, Printer(console(), json_lines=False))
    session_id = resolve_id(core, args.session_id, project_root(os.getcwd()))
    info = core.info(session_id)
    pid = info.pid
    if info.status != "running" or pid is None:
        raise ThreadlineError(f"Session {session_id} is not running (it is {info.status}).")
    if info.source != "workflow":
        adapter = core.adapters.get(info.agent)
        agent = adapter.display_name if adapter is not None else info.agent
        raise ThreadlineError(
            f"Session {session_id} runs in a {agent} process that Threadline did not start "
            f"(pid {pid}); stop it where it runs."
        )
    if session_id in core.runs:
        info = await core.cancel(session_id)
    else:
        await _stop_process(pid)
        info = await _record_cancelled(core, info)
    if args.json:
        _dump(wire.dump(wire.SessionResult(session=info)))
    else:
        sys.stderr.write(f"{session_id} {info.status}\n")
    return 0


async def _stop_process(pid: int) -> None:
    """SIGINT to the agent's process group, then SIGTERM, then SIGKILL, until it is gone.

    The agent runs in its own process group (its pid is the group id), so the commands its
    tools started stop with it.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            raise ThreadlineError(f"Not allowed to stop process {pid} (it belongs to another user).") from None
        if await _exited(pid, CANCEL_GRACE):
            return


async def _exited(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited (a pidfd where the system has one), at most ``timeout`` s."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        fd = None
    if fd is None:  # no pidfd: look every 50 ms
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            await asyncio.sleep(0.05)
        return False
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(fd, gone.set)
    try:
        await asyncio.wait_for(gone.wait(), timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def _record_cancelled(core: SessionManager, info: SessionInfo) -> SessionInfo:
    """Mark the turn another process ran as cancelled, once that process has recorded its end.

    The process that started the turn records how it ended (a turn stopped by a signal from
    outside reads as ``interrupted``); waiting for that write first, then writing
    ``cancelled`` over it, leaves the store saying what the user did.
    """
    store = ProjectStore(Path(os.path.realpath(info.cwd)))
    folder = store.workflows_dir / info.session_id

    def recorded() -> bool:
        meta = store.read_metadata(info.session_id)
        return meta is None or meta.status != "running"

    if not recorded():
        from watchfiles import awatch

        stop = asyncio.Event()

        async def wait_for_write() -> None:
            async for _ in awatch(folder, stop_event=stop, debounce=50, step=20):
                if recorded():
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wait_for_write(), 2 * CANCEL_GRACE)
        stop.set()
    now = utc_now()

    def cancelled(meta: WorkflowMetadata) -> None:
        meta.status, meta.pid, meta.updated_at = "cancelled", None, now
        meta.last_error = "Cancelled with 'threadline cancel'."
        if meta.turns:
            meta.turns[-1].status = "cancelled"
            meta.turns[-1].ended_at = meta.turns[-1].ended_at or now

    await asyncio.to_thread(store.update_metadata, info.session_id, cancelled)
    fresh = SessionManager(core.options, Printer(console(), json_lines=False))  # reads the store as it is now
    fresh.watch_project(str(store.project))
    return fresh.info(info.session_id)


async def run_activate(args: argparse.Namespace) -> int:
    if args.clear == (args.session_id is not None):
        raise UsageError("Give either a session ID to activate or --clear, not both and not neither.")
    core = make_core(args, Printer(console(), json_lines=False))
    project = project_of(args)
    session_id = None if args.clear else resolve_id(core, args.session_id, project)
    active = core.activate(project, session_id)
    if args.json:
        _dump(wire.dump(wire.ActivateResult(active_session_id=active)))
    elif active is None:
        sys.stderr.write(f"No active session in {project} now.\n")
    else:
        sys.stderr.write(f"{active} is the active session of {project}.\n")
    return 0


async def run_watch(args: argparse.Namespace) -> int:
    printer = Printer(console(), json_lines=True)
    core = make_core(args, printer)
    core.watch_project(project_of(args))
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await _watch_until(core, done)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "list": run_list,
    "show": run_show,
    "start": run_start,
    "resume": run_resume,
    "cancel": run_cancel,
    "activate": run_activate,
    "watch": run_watch,
}

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_USAGE", "turn_exit_code"]
