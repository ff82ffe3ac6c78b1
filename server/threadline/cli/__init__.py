"""The ``threadline`` command: the server (``serve``) and a command line over the same core.

Every command other than ``serve`` drives :class:`~threadline.sessions.SessionManager`
in process (see :mod:`threadline.cli.commands`). Results go to stdout; errors are one
sentence on stderr, never a traceback, with the exit codes of :data:`parser.EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
from pathlib import Path
from typing import Any

from threadline.cli.parser import EXIT_USAGE, build_parser
from threadline.errors import InvalidParams, ThreadlineError

logger = logging.getLogger(__name__)
EXIT_ERROR = 1


def _say(message: str) -> None:
    sys.stderr.write(f"threadline: {message}\n")


def completion_script(shell: str) -> str:
    """The shell's completion script (argcomplete: it calls ``threadline`` back to complete)."""
    from argcomplete import shellcode

    return str(shellcode(["threadline"], shell=shell))


def serve(args: argparse.Namespace) -> int:
    from threadline.server import server

    if args.tcp:
        from threadline.cli.commands import options_from
        from threadline.transport import serve_tcp

        cache_dir = options_from(args).cache_dir
        try:
            return serve_tcp(server, args.port, cache_dir, _tcp_server_options(args, cache_dir))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                _say(f"port {args.port} on 127.0.0.1 is already in use; choose another with --port.")
            else:
                _say(f"cannot listen on 127.0.0.1 port {args.port} ({exc.strerror or exc}).")
            return EXIT_ERROR
    server.start_io()
    return 0


def _tcp_server_options(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    """The settings a TCP client may not choose (protocol §1): this command's options and environment."""
    from threadline.cli.commands import options_from

    options = options_from(args)
    return {
        "cacheDir": str(cache_dir),
        "claudeConfigDir": str(options.claude_config_dir),
        "agents": {
            agent_id: {"command": agent.command, **({"home": str(agent.home)} if agent.home else {})}
            for agent_id, agent in options.agents.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if os.environ.get("_ARGCOMPLETE"):
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    try:
        from threadline.log import setup_logging

        setup_logging(args.verbose, args.log_file)
    except OSError as exc:
        _say(f"cannot write the log file {args.log_file} ({exc.strerror or exc}).")
        return EXIT_ERROR
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "serve":
        return serve(args)
    if args.command == "completion":
        sys.stdout.write(completion_script(args.shell))
        return 0
    from threadline.cli.commands import COMMANDS
    from threadline.cli.resolve import UsageError

    try:
        return asyncio.run(COMMANDS[args.command](args))
    except (UsageError, InvalidParams) as exc:
        _say(exc.message)
        return EXIT_USAGE
    except ThreadlineError as exc:
        _say(exc.message)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`threadline list | head -1`): stop quietly, and keep Python
        # from complaining about the unflushed stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        _say(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}.")
        return EXIT_ERROR
    except Exception as exc:  # the promise: no traceback on a terminal, ever
        logger.debug("unexpected error", exc_info=True)
        _say(f"unexpected error: {type(exc).__name__}: {exc} (run with -vv for the details).")
        return EXIT_ERROR


__all__ = ["main"]
