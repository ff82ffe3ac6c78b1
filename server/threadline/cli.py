"""The ``threadline`` command: the server (``serve``) and a command line over the same core.

Every subcommand other than ``serve`` drives :class:`~threadline.sessions.SessionManager`
directly, in process: the same code that answers the editors, no second implementation.
Errors are one sentence on stderr and a non-zero exit; results go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from threadline import __version__
from threadline import protocol as wire
from threadline.agents.claude.transcript import Refresh
from threadline.config import AgentOptions, Options, default_cache_dir, default_claude_config_dir
from threadline.errors import ThreadlineError
from threadline.log import setup_logging
from threadline.protocol import Message, SessionInfo
from threadline.sessions import SessionManager
from threadline.watcher import FolderWatcher

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threadline",
        description=(
            "One id for a workflow, a session and an agent conversation. "
            "Run 'threadline serve' for editors, or use the subcommands below."
        ),
    )
    parser.add_argument("--version", action="version", version=f"threadline {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    parser.add_argument("--log-file", help="write the log to this file instead of stderr")
    parser.add_argument(
        "--claude-config-dir", help="Claude Code's config folder (default: $CLAUDE_CONFIG_DIR or ~/.claude)"
    )
    parser.add_argument(
        "--claude-command",
        help="the claude executable to run (default: $THREADLINE_CLAUDE_COMMAND or 'claude' on PATH)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the JSON-RPC server (stdio by default)")
    serve.add_argument("--tcp", action="store_true", help="listen on TCP (127.0.0.1 only) instead of stdio")
    serve.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    serve.add_argument(
        "--cache-dir",
        default=None,
        help="where --tcp writes its token (default: $THREADLINE_CACHE_DIR or the user cache folder + threadline)",
    )
    serve.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)  # sent by vscode-languageclient

    listing = sub.add_parser("list", help="list the sessions of a project")
    listing.add_argument("--cwd", default=None, help="the project folder (default: the current folder)")
    listing.add_argument("--all", action="store_true", help="every project Claude Code has recorded")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--limit", type=int, default=100)

    show = sub.add_parser("show", help="show a session and its last messages")
    show.add_argument("session_id", metavar="ID")
    show.add_argument("--tail", type=int, default=20, metavar="N", help="how many messages (default 20)")
    show.add_argument("--json", action="store_true", help="print JSON")

    start = sub.add_parser("start", help="start a workflow (prints its id first)")
    start.add_argument(
        "prompt",
        metavar="PROMPT",
        help="the prompt ('-' reads it from stdin; put '--' before a prompt that starts with '-')",
    )
    start.add_argument("--cwd", default=None, help="the project folder (default: the current folder)")
    start.add_argument("--skill", default=None)
    start.add_argument("--model", default=None)
    start.add_argument("--permission-mode", default=None)
    start.add_argument("--follow", action="store_true", help="print the conversation as it is written")

    resume = sub.add_parser("resume", help="continue a session under the same id")
    resume.add_argument("session_id", metavar="ID")
    resume.add_argument("prompt", metavar="PROMPT")
    resume.add_argument("--fork", action="store_true", help="continue in a new session (a new id)")
    resume.add_argument("--follow", action="store_true", help="print the conversation as it is written")

    watch = sub.add_parser("watch", help="print session/detected and session/updated as JSON lines")
    watch.add_argument("--cwd", default=None, help="the project folder (default: the current folder)")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    config_dir = Path(args.claude_config_dir) if args.claude_config_dir else default_claude_config_dir()
    command = [args.claude_command] if args.claude_command else _command_from_env()
    return Options(claude_config_dir=config_dir, agents={"claude": AgentOptions(command)}, watch=True)


def _command_from_env() -> list[str]:
    raw = os.environ.get("THREADLINE_CLAUDE_COMMAND")
    if not raw:
        return ["claude"]
    if raw.startswith("["):
        value = json.loads(raw)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return [raw]


class Printer:
    """Turns core events into terminal output (``watch`` as JSON lines, ``--follow`` as text)."""

    def __init__(
        self, core_ref: list[SessionManager], out: TextIO, json_lines: bool, follow: set[str] | None = None
    ) -> None:
        self._core = core_ref
        self.out = out
        self.json_lines = json_lines
        self.follow = follow if follow is not None else set()
        self.printed: dict[str, int] = {}

    def _emit(self, method: str, params: Any) -> None:
        self.out.write(json.dumps({"method": method, "params": wire.dump(params)}) + "\n")
        self.out.flush()

    def session_detected(self, info: SessionInfo) -> None:
        if self.json_lines:
            self._emit(wire.SESSION_DETECTED, wire.SessionDetectedParams(session=info))

    def session_changed(self, session_id: str, refresh: Refresh | None) -> None:
        core = self._core[0]
        try:
            info = core.info(session_id)
        except ThreadlineError:
            return
        if self.json_lines:
            appended = refresh.appended if refresh else []
            start = refresh.appended_from if refresh else None
            self._emit(
                wire.SESSION_UPDATED, wire.SessionUpdatedParams(session=info, appended=appended, appended_from=start)
            )
        elif session_id in self.follow:
            self.print_new(session_id)

    def print_new(self, session_id: str) -> None:
        core = self._core[0]
        done = self.printed.get(session_id, 0)
        messages = core.messages_from(session_id, done)
        # The newest message may still grow: print only complete ones unless the turn is over.
        running = session_id in core.runs
        complete = messages[:-1] if running and messages else messages
        for message in complete:
            self.out.write(render_message(message) + "\n")
        self.printed[session_id] = done + len(complete)
        self.out.flush()


def render_message(message: Message) -> str:
    head = {"user": "you", "assistant": "agent", "system": "system"}[message.role]
    if message.is_meta:
        head += " (meta)"
    lines = []
    for block in message.content:
        if block.type in ("text", "thinking"):
            prefix = "(thinking) " if block.type == "thinking" else ""
            lines.append(prefix + block.text)
        elif block.type == "tool_use":
            lines.append(f"[tool {block.name}] {json.dumps(block.input)[:300]}")
        elif block.type == "tool_result":
            mark = "error" if block.is_error else "result"
            lines.append(f"[tool {mark}] {block.text[:300]}")
        elif block.type == "image":
            lines.append("[image]")
    body = "\n".join(lines)
    return f"{head}: {body}"


def _age(stamp: str | None) -> str:
    if not stamp:
        return "-"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    seconds = int((datetime.now(UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def print_table(sessions: list[SessionInfo], out: TextIO) -> None:
    if not sessions:
        out.write("No sessions.\n")
        return
    rows = [("ID", "STATUS", "UPDATED", "MSGS", "COST", "SOURCE", "TITLE")]
    for s in sessions:
        cost = f"${s.usage.cost_usd:.2f}" if s.usage.cost_usd is not None else "-"
        mark = "*" if s.active else " "
        rows.append(
            (mark + s.session_id, s.status, _age(s.updated_at), str(s.message_count), cost, s.source, s.title[:60])
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1] + "\n"
        )


async def _with_core(args: argparse.Namespace, printer: Printer | None = None) -> SessionManager:
    options = options_from(args)
    ref: list[SessionManager] = []
    events = printer or Printer(ref, sys.stdout, json_lines=False)
    events._core = ref
    core = SessionManager(options, events)
    ref.append(core)
    return core


async def _watch_until(core: SessionManager, done: asyncio.Event) -> None:
    watcher = FolderWatcher(core.claude.watch_roots(), core.on_paths_changed)
    watcher.start()
    await watcher.ready.wait()
    try:
        await done.wait()
    finally:
        await watcher.stop()


async def run_list(args: argparse.Namespace) -> int:
    core = await _with_core(args)
    cwd = None if args.all else os.path.abspath(args.cwd or os.getcwd())
    result = core.list_sessions(wire.SessionListParams(cwd=cwd, limit=max(1, min(args.limit, 1000))))
    if args.json:
        sys.stdout.write(json.dumps(wire.dump(result), indent=2) + "\n")
    else:
        print_table(result.sessions, sys.stdout)
    return 0


async def run_show(args: argparse.Namespace) -> int:
    if not wire.is_session_id(args.session_id):
        raise ThreadlineError(f"'{args.session_id}' is not a session id.")
    core = await _with_core(args)
    info = core.info(args.session_id)
    page = core.messages(args.session_id, 0, max(1, min(args.tail, 1000)), from_end=True)
    if args.json:
        sys.stdout.write(
            json.dumps({"session": wire.dump(info), "messages": wire.dump(page)["messages"]}, indent=2) + "\n"
        )
        return 0
    cost = f"${info.usage.cost_usd:.4f}" if info.usage.cost_usd is not None else "-"
    sys.stdout.write(
        f"{info.title}\n{info.session_id}  {info.status}  {info.source}  {info.message_count} "
        f"messages  {cost}\n{info.cwd}\n\n"
    )
    for message in page.messages:
        sys.stdout.write(render_message(message) + "\n\n")
    return 0


async def _run_turn(args: argparse.Namespace, begin: Any) -> int:
    printer = Printer([], sys.stdout, json_lines=False)
    core = await _with_core(args, printer)
    result = await begin(core)
    session_id = result.session_id
    sys.stdout.write(session_id + "\n")
    sys.stdout.flush()
    if args.follow:
        printer.follow.add(session_id)
        printer.printed[session_id] = result.session.message_count
    run = core.runs.get(session_id)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    cancelling: list[asyncio.Task[None]] = []

    def interrupt() -> None:
        if not cancelling and run is not None:
            cancelling.append(asyncio.ensure_future(run.cancel()))

    loop.add_signal_handler(signal.SIGINT, interrupt)
    watch_task = asyncio.ensure_future(_watch_until(core, done)) if args.follow else None
    if run is not None:
        await run.done.wait()
    done.set()
    if watch_task is not None:
        await watch_task
    if args.follow:
        printer.print_new(session_id)
    info = core.info(session_id)
    detail = f": {info.last_error}" if info.last_error else ""
    sys.stderr.write(f"{session_id} {info.status}{detail}\n")
    return 0 if info.status in ("completed", "waiting_for_input") else EXIT_ERROR


async def run_start(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    cwd = os.path.abspath(args.cwd or os.getcwd())
    params = wire.WorkflowStartParams.model_validate(
        {"cwd": cwd, "prompt": prompt, "skill": args.skill, "model": args.model, "permissionMode": args.permission_mode}
    )
    return await _run_turn(args, lambda core: core.start(params))


async def run_resume(args: argparse.Namespace) -> int:
    params = wire.parse_params(
        wire.SessionResumeParams, {"sessionId": args.session_id, "prompt": args.prompt, "fork": args.fork}
    )
    return await _run_turn(args, lambda core: core.resume(params.session_id, params.prompt, params.fork))


async def run_watch(args: argparse.Namespace) -> int:
    printer = Printer([], sys.stdout, json_lines=True)
    core = await _with_core(args, printer)
    core.watch_project(os.path.abspath(args.cwd or os.getcwd()))
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await _watch_until(core, done)
    return 0


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535)")
    return port


def serve(args: argparse.Namespace) -> int:
    from threadline.server import server

    if args.tcp:
        from threadline.transport import serve_tcp

        cache_dir = Path(os.path.expanduser(args.cache_dir)) if args.cache_dir else default_cache_dir()
        return serve_tcp(server, args.port, cache_dir, _tcp_server_options(args, cache_dir))
    server.start_io()
    return 0


def _tcp_server_options(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    """The settings a TCP client may not choose (protocol §1): this command's options and environment."""
    options: dict[str, Any] = {"cacheDir": str(cache_dir)}
    if args.claude_config_dir:
        options["claudeConfigDir"] = os.path.abspath(os.path.expanduser(args.claude_config_dir))
    if args.claude_command or os.environ.get("THREADLINE_CLAUDE_COMMAND"):
        command = [args.claude_command] if args.claude_command else _command_from_env()
        options["agents"] = {"claude": {"command": command}}
    return options


COMMANDS = {"list": run_list, "show": run_show, "start": run_start, "resume": run_resume, "watch": run_watch}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.log_file)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "serve":
        return serve(args)
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except ThreadlineError as exc:
        sys.stderr.write(f"threadline: {exc.message}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
