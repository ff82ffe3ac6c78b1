"""The ``threadline`` argument parser: every command and option, with help and examples.

Values are checked here (types and choices), so a bad one is a usage error (exit 2) with
one sentence, before any session is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from threadline import __version__
from threadline.protocol import AGENTS, PERMISSION_MODES, STATUSES, TOOL_RULE

EXIT_USAGE = 2
SHELLS = ("bash", "zsh", "fish")

EXIT_CODES = """exit codes:
  0    done (for start and resume: the turn completed)
  1    error
  2    usage error (a bad command, option or value)
  3    the turn failed, was interrupted, or was cancelled elsewhere
  4    the turn ended waiting for input (a tool permission was denied, or the agent asked)
  130  the turn was cancelled with Ctrl-C"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``threadline list: <what is wrong> (see --help)``."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see '{self.prog} --help').\n")
        raise SystemExit(EXIT_USAGE)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def limit(text: str) -> int:
    """A count between 1 and 1000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, not {value}")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 (any free port) and 65535, not {value}")
    return value


def folder(text: str) -> str:
    """An existing folder, as an absolute path."""
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.isdir(path):
        what = "is not a folder" if os.path.exists(path) else "does not exist"
        raise argparse.ArgumentTypeError(f"{text} {what}")
    return path


def tool_rule(text: str) -> str:
    if not TOOL_RULE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a tool rule (a tool name, optionally with a pattern: 'Bash', 'Bash(touch:*)')"
        )
    return text


def status_list(text: str) -> list[str]:
    """One status or several, comma separated."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    for value in values:
        if value not in STATUSES:
            raise argparse.ArgumentTypeError(f"{value!r} is not a status (one of {', '.join(STATUSES)})")
    if not values:
        raise argparse.ArgumentTypeError("give at least one status")
    return values


def agent_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    for value in values:
        if value not in AGENTS:
            raise argparse.ArgumentTypeError(f"{value!r} is not an agent (one of {', '.join(AGENTS)})")
    if not values:
        raise argparse.ArgumentTypeError("give at least one agent")
    return values


def _complete_with(action: argparse.Action, values: tuple[str, ...]) -> None:
    """Shell completion for an option whose values are checked by a ``type`` (argcomplete)."""
    from argcomplete.completers import ChoicesCompleter

    action.completer = ChoicesCompleter(dict.fromkeys(values, ""))  # type: ignore[attr-defined]


def complete_session_ids(prefix: str, parsed_args: argparse.Namespace, **_: object) -> dict[str, str]:
    """Shell completion of an ID: the sessions of the current project, with their titles."""
    import logging

    logging.disable(logging.CRITICAL)  # nothing may reach the shell but the candidates
    from threadline.cli.commands import Printer, options_from
    from threadline.cli.render import console
    from threadline.cli.resolve import all_sessions, project_root
    from threadline.sessions import SessionManager

    try:
        core = SessionManager(options_from(parsed_args), Printer(console(), json_lines=False))
        folder = getattr(parsed_args, "cwd", None) or os.getcwd()
        sessions = all_sessions(core, project_root(folder))
    except Exception:  # a completion never fails loudly
        return {}
    return {s.session_id: s.title[:60] for s in sessions if s.session_id.startswith(prefix.lower())}


def _id_argument(parser: Parser) -> None:
    action = parser.add_argument(
        "session_id", metavar="ID", help="the session id or a unique start of it (example: 18d822a4)"
    )
    action.completer = complete_session_ids  # type: ignore[attr-defined]


def _command(
    sub: argparse._SubParsersAction[Parser], name: str, summary: str, description: str, examples: list[str]
) -> Parser:
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    parser: Parser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=_formatter,
    )
    return parser


def _json_option(parser: Parser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON (example: --json)")


def any_folder(text: str) -> str:
    """A folder as an absolute path, which may be gone (its sessions are still recorded)."""
    return os.path.abspath(os.path.expanduser(text))


def _cwd_option(parser: Parser, gone_ok: bool = False) -> None:
    parser.add_argument(
        "--cwd",
        type=any_folder if gone_ok else folder,
        metavar="DIR",
        help="a folder of the project (default: the current folder); a subfolder means its project: "
        "the nearest folder holding .threadline/, else the git root (example: --cwd ~/src/app)",
    )


def _turn_options(parser: Parser) -> None:
    parser.add_argument(
        "--follow", action="store_true", help="print the conversation as it is written (example: --follow)"
    )
    parser.add_argument(
        "--permission-mode",
        choices=PERMISSION_MODES,
        metavar="MODE",
        help=f"the agent's permission mode for this turn: {', '.join(PERMISSION_MODES)} "
        "(example: --permission-mode acceptEdits)",
    )
    parser.add_argument(
        "--model", metavar="MODEL", help="the model for this turn, a name or an alias (example: --model sonnet)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the session as JSON once the turn ends, instead of its id and status (example: --json)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="threadline",
        description=(
            "One id for a workflow, a session and an agent conversation.\n"
            "Run 'threadline serve' for editors, or drive sessions from the shell with the commands below.\n"
            "Wherever a command takes an ID, any unique start of it will do (8 characters are shown)."
        ),
        epilog=EXIT_CODES
        + '\n\nexamples:\n  threadline start "fix the flaky test" --follow\n  threadline list --status running\n'
        "  threadline show 18d822a4 --tail 5",
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=f"threadline {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more to stderr: -v info, -vv debug (example: -vv)"
    )
    parser.add_argument(
        "--log-file", metavar="FILE", help="write the log to FILE instead of stderr (example: --log-file tl.log)"
    )
    parser.add_argument(
        "--claude-config-dir",
        metavar="DIR",
        help="Claude Code's config folder (default: $CLAUDE_CONFIG_DIR, else ~/.claude) "
        "(example: --claude-config-dir ~/.claude-work)",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="the session catalog's folder, shared with the server (default: $THREADLINE_CACHE_DIR, "
        "else ~/.cache/threadline) (example: --cache-dir /tmp/tl-cache)",
    )
    parser.add_argument(
        "--claude-command",
        metavar="PATH",
        help="the claude executable to run (default: $THREADLINE_CLAUDE_COMMAND, else 'claude' on PATH) "
        "(example: --claude-command ~/.local/bin/claude)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    serve = _command(
        sub,
        "serve",
        "run the JSON-RPC server for editors (stdio by default)",
        "Run the JSON-RPC server (LSP framing) that editors start: stdio by default, or TCP on 127.0.0.1.",
        ["threadline serve", "threadline serve --tcp --port 8765"],
    )
    serve.add_argument("--tcp", action="store_true", help="listen on TCP, 127.0.0.1 only (example: --tcp)")
    serve.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the catalog's folder, where --tcp also writes its token (example: --cache-dir /tmp/tl-cache)",
    )
    serve.add_argument(
        "--port", type=port, default=8765, help="the TCP port, default 8765; 0 picks a free one (example: --port 9000)"
    )
    serve.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)  # sent by vscode-languageclient

    listing = _command(
        sub,
        "list",
        "list sessions, newest first",
        "List the sessions of a project (both those Threadline started and those run in a terminal), newest\n"
        "first. On a terminal: a table that fits its width (* marks the active session); piped: one\n"
        "tab-separated line per session with the full id.",
        [
            "threadline list",
            "threadline list --status waiting_for_input,failed",
            "threadline list --query 'flaky test' --limit 5",
            "threadline list --all --json",
        ],
    )
    where = listing.add_mutually_exclusive_group()
    _cwd_option(where, gone_ok=True)  # type: ignore[arg-type]
    where.add_argument(
        "--all",
        action="store_true",
        help="every project the agent has recorded, with a project column (example: --all)",
    )
    status = listing.add_argument(
        "--status",
        type=status_list,
        action="extend",
        metavar="STATUS",
        help=f"keep these statuses, comma separated or repeated: {', '.join(STATUSES)} (example: --status running)",
    )
    listing.add_argument(
        "--query", metavar="TEXT", help="keep sessions whose title or messages contain TEXT (example: --query flaky)"
    )
    agent = listing.add_argument(
        "--agent",
        type=agent_list,
        action="extend",
        metavar="AGENT",
        help=f"keep these agents' sessions: {', '.join(AGENTS)} (example: --agent claude)",
    )
    _complete_with(status, STATUSES)
    _complete_with(agent, AGENTS)
    listing.add_argument(
        "--limit",
        type=limit,
        default=100,
        metavar="N",
        help="at most N sessions, 1 to 1000, default 100 (example: --limit 20)",
    )
    _json_option(listing, "the sessions")

    show = _command(
        sub,
        "show",
        "show a session and its last messages",
        "Show one session: its title, status, cost and project, then its last messages.",
        ["threadline show 18d822a4", "threadline show 18d8 --tail 50", "threadline show 18d822a4 --json"],
    )
    _id_argument(show)
    show.add_argument(
        "--tail",
        type=limit,
        default=20,
        metavar="N",
        help="the last N messages, 1 to 1000, default 20 (example: --tail 5)",
    )
    _json_option(show, "the session and its messages")

    start = _command(
        sub,
        "start",
        "start a workflow (prints its id first)",
        "Start a workflow: a new agent session in the project. Prints its id first, then waits for the turn\n"
        "to end; Ctrl-C cancels the turn. The exit code tells how the turn ended (see 'threadline --help').",
        [
            'threadline start "fix the flaky test" --follow',
            "git diff | threadline start - --permission-mode plan",
            "threadline start -- '--help is a prompt here'",
        ],
    )
    start.add_argument(
        "prompt",
        metavar="PROMPT",
        help="the prompt; '-' reads it from stdin; put '--' before a prompt that starts with '-' "
        '(example: "add a test")',
    )
    _cwd_option(start)
    start.add_argument(
        "--skill", metavar="NAME", help="run the prompt with this skill, as /NAME PROMPT (example: --skill code-review)"
    )
    start_agent = start.add_argument(
        "--agent",
        choices=AGENTS,
        default="claude",
        metavar="AGENT",
        help=f"the agent to run: {', '.join(AGENTS)}; default claude (example: --agent codex)",
    )
    _complete_with(start_agent, AGENTS)
    _turn_options(start)

    resume = _command(
        sub,
        "resume",
        "continue a session under the same id",
        "Continue any session, started here or in a terminal, under the same id (or a new one with --fork).\n"
        "To approve a tool the agent was denied, allow its rule: the next turn may run it.",
        [
            'threadline resume 18d822a4 "now add a regression test"',
            "threadline resume 18d8 \"go ahead\" --allow 'Bash(touch:*)'",
            'threadline resume 18d8 "apply the edits" --permission-mode acceptEdits',
        ],
    )
    _id_argument(resume)
    resume.add_argument(
        "prompt", metavar="PROMPT", help="the follow-up prompt; '-' reads it from stdin (example: \"go ahead\")"
    )
    resume.add_argument(
        "--allow",
        type=tool_rule,
        action="append",
        metavar="RULE",
        help="allow a tool for this turn, repeatable: a tool name, optionally with a pattern "
        "(example: --allow 'Bash(touch:*)')",
    )
    resume.add_argument(
        "--fork",
        action="store_true",
        help="continue in a new session with a new id, leaving this one (example: --fork)",
    )
    _turn_options(resume)

    cancel = _command(
        sub,
        "cancel",
        "stop a running turn",
        "Stop the running turn of a session that Threadline started (here, in another terminal or in an editor):\n"
        "SIGINT, then SIGTERM after a grace period. The session becomes 'cancelled'.",
        ["threadline cancel 18d822a4"],
    )
    _id_argument(cancel)
    _json_option(cancel, "the session")

    activate = _command(
        sub,
        "activate",
        "mark the project's active session",
        "Make a session the project's single active one (editors show it in the status bar), or clear it.",
        ["threadline activate 18d822a4", "threadline activate --clear"],
    )
    activate_id = activate.add_argument(
        "session_id", metavar="ID", nargs="?", help="the session id or a unique start of it (example: 18d822a4)"
    )
    activate_id.completer = complete_session_ids  # type: ignore[attr-defined]
    activate.add_argument("--clear", action="store_true", help="clear the active session (example: --clear)")
    _cwd_option(activate)
    _json_option(activate, "the active session id")

    watch = _command(
        sub,
        "watch",
        "print session changes as JSON lines",
        "Print session/detected and session/updated notifications as JSON lines until Ctrl-C.",
        ["threadline watch", "threadline watch --cwd ~/src/app | jq .params.session.status"],
    )
    _cwd_option(watch)
    watch.add_argument("--json", action="store_true", help="JSON lines (the default; example: --json)")

    completion = _command(
        sub,
        "completion",
        "print a shell completion script",
        "Print the completion script of a shell; load it from the shell's start-up file.",
        [
            'eval "$(threadline completion bash)"     # in ~/.bashrc',
            'eval "$(threadline completion zsh)"      # in ~/.zshrc',
            "threadline completion fish > ~/.config/fish/completions/threadline.fish",
        ],
    )
    completion.add_argument(
        "shell", choices=SHELLS, metavar="SHELL", help=f"one of {', '.join(SHELLS)} (example: bash)"
    )
    return parser
