"""The ``threadline`` command line, run as a user runs it: a process, in a pseudo-terminal
for what a terminal shows (widths 80 and 200, colour on and off), piped for scripts.

Sessions come from the recorded sample transcripts and from workflows started with the
fake ``claude``.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from watchfiles import watch

from tests.agents.fixtures import Agent
from tests.conftest import FAKE_CLAUDE, install_transcripts
from threadline.cli import main
from threadline.cli.parser import build_parser

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;[25])[0-9;]*m")
"""An SGR sequence that sets a foreground colour (bold alone is not colour)."""
TIMEOUT = 60


class Cli:
    """Runs ``threadline`` in one project with one Claude config folder and the fake agent."""

    def __init__(self, project: Path, claude_home: Path) -> None:
        self.project = project
        self.claude_home = claude_home
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "CLAUDE_CONFIG_DIR", "TERM")
        }
        self.env.update(
            CLAUDE_CONFIG_DIR=str(claude_home),
            THREADLINE_CLAUDE_COMMAND=json.dumps([sys.executable, str(FAKE_CLAUDE)]),
            FAKE_CLAUDE_RETRY_DELAY_MS="1",
            CLAUDE_CODE_MAX_RETRIES="0",
        )

    def argv(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "threadline", *args]

    def run(
        self, *args: str, stdin: str | None = "", cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Piped: stdout and stderr captured, stdin from ``stdin``."""
        return subprocess.run(
            self.argv(list(args)),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or self.project,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
        )

    def tty(self, *args: str, width: int, colour: bool = True, cwd: Path | None = None) -> tuple[int, str]:
        """In a pseudo-terminal of ``width`` columns: the exit code and all it printed."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
        env = {**self.env, "TERM": "xterm-256color"}
        if not colour:
            env["NO_COLOR"] = "1"
        process = subprocess.Popen(
            self.argv(list(args)),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd or self.project,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        output = b""
        try:
            while True:
                ready, _, _ = select.select([master], [], [], TIMEOUT)
                if not ready:
                    raise AssertionError(f"no output for {TIMEOUT} s; so far: {output!r}")
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                output += chunk
        finally:
            os.close(master)
        return process.wait(TIMEOUT), output.decode("utf-8").replace("\r\n", "\n")

    def start(self, prompt: str, *extra: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        done = self.run("start", prompt, *extra)
        return done.stdout.splitlines()[0], done


@pytest.fixture
def cli(project: Path, claude_home: Path) -> Cli:
    install_transcripts(claude_home, project)
    return Cli(project, claude_home)


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert lines[0].startswith("threadline") and lines[0].endswith("."), lines[0]
    return lines[0]


# --------------------------------------------------------------------------- bad input
@contextlib.contextmanager
def busy_port() -> Iterator[int]:
    """A port of 127.0.0.1 that something listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


BAD_INPUT: list[Any] = [
    pytest.param(["nonsense"], "", 2, "invalid choice", id="unknown-command"),
    pytest.param(["list", "--limit", "0"], "", 2, "between 1 and 1000", id="list-limit-0"),
    pytest.param(["list", "--limit", "-5"], "", 2, "between 1 and 1000", id="list-limit-negative"),
    pytest.param(["list", "--limit", "many"], "", 2, "not a whole number", id="list-limit-word"),
    pytest.param(["list", "--cwd", "/nonexistent"], "", 2, "does not exist", id="list-cwd-missing"),
    pytest.param(["list", "--status", "done"], "", 2, "not a status", id="list-status"),
    pytest.param(["list", "--agent", "cursor"], "", 2, "not an agent", id="list-agent"),
    pytest.param(["list", "--all", "--cwd", "/tmp"], "", 2, "not allowed with", id="list-all-and-cwd"),
    pytest.param(["show"], "", 2, "required", id="show-no-id"),
    pytest.param(["show", "zz"], "", 2, "not a session id", id="show-not-hex"),
    pytest.param(["show", "../../etc/passwd"], "", 2, "not a session id", id="show-path"),
    pytest.param(["show", "0000"], "", 1, "No session id starts with", id="show-unknown"),
    pytest.param(["show", "1111", "--tail", "0"], "", 2, "between 1 and 1000", id="show-tail-0"),
    pytest.param(["show", "11111111"], "", 2, "matches 2 sessions", id="show-ambiguous"),
    pytest.param(["start", ""], "", 2, "prompt is empty", id="start-empty"),
    pytest.param(["start", "   "], "", 2, "prompt is empty", id="start-blank"),
    pytest.param(["start", "-"], "", 2, "prompt is empty", id="start-empty-stdin"),
    pytest.param(["start", "x", "--permission-mode", "bogus"], "", 2, "invalid choice", id="start-mode"),
    pytest.param(["start", "x", "--model", "a model"], "", 2, "'model'", id="start-model"),
    pytest.param(["start", "x", "--skill", "../up"], "", 2, "'skill'", id="start-skill"),
    pytest.param(["start", "x", "--cwd", "/nonexistent"], "", 2, "does not exist", id="start-cwd"),
    pytest.param(["start", "x", "--json", "--follow"], "", 2, "cannot be used with --follow", id="start-json-follow"),
    pytest.param(["resume", "3333", "x", "--follow", "--json"], "", 2, "cannot be used", id="resume-json-follow"),
    pytest.param(["resume", "1111", ""], "", 2, "prompt is empty", id="resume-empty"),
    pytest.param(["resume", "zz", "x"], "", 2, "not a session id", id="resume-bad-id"),
    pytest.param(["resume", "1111", "x", "--allow=-rf"], "", 2, "not a tool rule", id="resume-allow"),
    pytest.param(["resume", "1111", "x", "--permission-mode", "yolo"], "", 2, "invalid choice", id="resume-mode"),
    pytest.param(["cancel", "3333"], "", 1, "is not running", id="cancel-not-running"),
    pytest.param(["cancel"], "", 2, "required", id="cancel-no-id"),
    pytest.param(["activate"], "", 2, "either a session ID", id="activate-nothing"),
    pytest.param(["activate", "3333", "--clear"], "", 2, "either a session ID", id="activate-both"),
    pytest.param(["activate", "9999"], "", 1, "No session id starts with", id="activate-unknown"),
    pytest.param(["watch", "--cwd", "/nonexistent"], "", 2, "does not exist", id="watch-cwd"),
    pytest.param(["completion", "powershell"], "", 2, "invalid choice", id="completion-shell"),
    pytest.param(
        ["serve", "--tcp", "--port", "65536"], "", 2, "between 0 (any free port) and 65535", id="serve-port-65536"
    ),
    pytest.param(["serve", "--tcp", "--port", "BUSY"], "", 1, "already in use", id="serve-busy-port"),
    pytest.param(["--log-file", "/nonexistent/dir/t.log", "list"], "", 1, "cannot write the log file", id="log-file"),
]


@pytest.mark.parametrize(("args", "stdin", "code", "words"), BAD_INPUT)
def test_bad_input_gets_one_sentence_and_no_traceback(
    cli: Cli,
    args: list[str],
    stdin: str,
    code: int,
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In process (the entry point ``main``, fast); the real executable is checked below."""
    # A second session whose id shares the first 8 characters with 11111111-1111-…
    sample = next((cli.claude_home / "projects").glob("*/11111111-1111-4111-8111-111111111111.jsonl"))
    twin = "11111111-2222-4222-8222-222222222222"
    sample.with_name(f"{twin}.jsonl").write_text(
        sample.read_text().replace("11111111-1111-4111-8111-111111111111", twin)
    )
    for name, value in cli.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cli.project)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with contextlib.ExitStack() as stack:
        if "BUSY" in args:
            port = stack.enter_context(busy_port())
            args = [str(port) if a == "BUSY" else a for a in args]
        try:
            returned = main(args)
        except SystemExit as stop:  # argparse's usage errors
            returned = stop.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    line = one_sentence(err)
    assert words in line
    assert returned == code, err
    assert out == ""
    if args[:2] == ["show", "11111111"]:
        assert "11111111-111" in line and "11111111-222" in line  # the candidates are named


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        pytest.param(["start", ""], None, "prompt is empty", id="start-empty"),
        pytest.param(["start", "-"], "", "prompt is empty", id="start-empty-stdin"),
        pytest.param(["list", "--cwd", "/nonexistent"], None, "does not exist", id="list-cwd"),
        pytest.param(["serve", "--tcp", "--port", "BUSY"], None, "already in use", id="serve-busy-port"),
    ],
)
def test_the_executable_gives_one_sentence_too(cli: Cli, args: list[str], stdin: str | None, words: str) -> None:
    with busy_port() as port:
        done = cli.run(*[str(port) if a == "BUSY" else a for a in args], stdin=stdin)
    assert words in one_sentence(done.stderr) and done.returncode in (1, 2) and done.stdout == ""


def test_a_bad_claude_command_setting_is_one_sentence(cli: Cli) -> None:
    done = cli.run("list", env={"THREADLINE_CLAUDE_COMMAND": "[not json"})
    assert "THREADLINE_CLAUDE_COMMAND" in one_sentence(done.stderr) and done.returncode == 2
    done = cli.run("start", "hi", env={"THREADLINE_CLAUDE_COMMAND": "/nonexistent/claude"})
    assert "was not found" in one_sentence(done.stderr) and done.returncode == 1


def test_every_command_and_option_has_help_and_an_example() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    assert set(commands.choices) == {  # type: ignore[arg-type]
        "serve",
        "list",
        "show",
        "start",
        "resume",
        "cancel",
        "activate",
        "watch",
        "completion",
    }
    missing = []
    for name, sub in [("threadline", parser), *commands.choices.items()]:  # type: ignore[union-attr]
        if not sub.description or "examples:" not in (sub.epilog or ""):
            missing.append(f"{name}: description or examples")
        for action in sub._actions:
            if action.help in (None, "==SUPPRESS==") or action.dest in ("help", "version", "command"):
                continue
            if "example" not in action.help:
                missing.append(f"{name} {action.option_strings or action.dest}")
    assert missing == []
    help_text = subprocess.run([sys.executable, "-m", "threadline", "--help"], capture_output=True, text=True)
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130"):
        assert f"\n  {code}" in help_text.stdout, code


# --------------------------------------------------------------------------- the terminal
@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("colour", [True, False], ids=["colour", "no-colour"])
def test_list_fits_the_terminal(cli: Cli, width: int, colour: bool) -> None:
    long_prompt = "please look at " + "the very long and winding road " * 4
    session_id, _ = cli.start(long_prompt)
    code, output = cli.tty("list", width=width, colour=colour)
    assert code == 0, output
    assert bool(COLOUR.search(output)) == colour, output
    lines = ANSI.sub("", output).rstrip("\n").split("\n")
    assert all(len(line.rstrip()) <= width for line in lines), lines
    header, *rows = lines
    assert header.split() == ["ID", "STATUS", "AGENT", "UPDATED", "MSGS", "COST", "TITLE"]
    assert len(rows) == 8
    assert session_id not in output and session_id[:8] in output  # short ids
    mine = next(r for r in rows if session_id[:8] in r)
    assert mine.index(session_id[:8]) == header.index("ID")  # the header sits over the ids
    assert mine.index("completed") == header.index("STATUS")
    title = mine[header.index("TITLE") :].rstrip()
    if width == 80:
        assert title.endswith("…") and long_prompt.startswith(title[:-1]), title
    else:
        assert title == long_prompt.strip(), title


def test_list_all_has_a_project_column(cli: Cli, tmp_path: Path) -> None:
    session_id, _ = cli.start("hello")
    _, output = cli.tty("list", "--all", width=120, colour=False)
    lines = ANSI.sub("", output).rstrip("\n").split("\n")
    assert lines[0].split() == ["ID", "STATUS", "AGENT", "UPDATED", "MSGS", "COST", "PROJECT", "TITLE"]
    mine = next(r for r in lines if session_id[:8] in r)
    assert mine[lines[0].index("PROJECT") :].startswith(str(cli.project)[-10:]) or "…" in mine
    assert "$0." in mine  # the workflow's own store entry is read across projects too
    piped = cli.run("list", "--all")
    row = next(r for r in piped.stdout.splitlines() if r.startswith(session_id))
    assert row.split("\t")[:2] == [session_id, "completed"] and str(cli.project) in row.split("\t")


def test_piped_list_is_tab_separated_with_full_ids_and_no_colour(cli: Cli) -> None:
    done = cli.run("list", env={"FORCE_COLOR": ""})
    assert "\x1b" not in done.stdout
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert len(rows) == 7 and all(len(r) == 8 for r in rows)
    assert {r[6] for r in rows} == {"claude"}
    assert {r[0] for r in rows} >= {"11111111-1111-4111-8111-111111111111", "33333333-3333-4333-8333-333333333333"}


def test_show_labels_tool_output_and_cuts_it(cli: Cli) -> None:
    long = "x" * 900
    session_id, started = cli.start(f"echo it [[tool:bash:echo {long}]]")
    assert started.returncode == 0, started.stderr
    code, output = cli.tty("show", session_id[:6], width=80, colour=False)
    assert code == 0
    text = ANSI.sub("", output)
    assert "tool output:" in text
    blocks = text.split("\n\n")
    (tool_block,) = [b for b in blocks if b.startswith("tool output:")]
    assert "you:" not in tool_block and "x" * 300 in tool_block and "x" * 500 not in tool_block
    assert tool_block.rstrip().endswith("…")
    # One cost precision: what show prints is what list prints.
    info = json.loads(cli.run("show", session_id, "--json").stdout)["session"]
    shown = f"${info['usage']['costUsd']:.4f}"
    assert shown in text
    assert shown in cli.run("list").stdout


def test_transcript_text_cannot_drive_the_terminal(cli: Cli) -> None:
    evil = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred"
    session_id, _ = cli.start(f"hi {evil}")
    code, output = cli.tty("show", session_id, width=100, colour=False)
    assert code == 0
    assert "\x1b]0;" not in output and "\x1b[2J" not in output and "\x1b[31m" not in output
    assert "hi ]0;pwned[2J[31mred" in output


# --------------------------------------------------------------------------- turns
def test_exit_codes_tell_how_the_turn_ended(cli: Cli) -> None:
    completed = cli.run("start", "hello")
    assert completed.returncode == 0 and completed.stderr.strip().endswith("completed"), completed.stderr
    waiting = cli.run("start", "please [[tool:bash:touch x]]")
    assert waiting.returncode == 4, waiting.stderr
    failed = cli.run("start", "boom [[http500]]")
    assert failed.returncode == 3, failed.stderr
    assert failed.stderr.splitlines()[-1].startswith(failed.stdout.strip() + " failed: ")


def test_ctrl_c_cancels_the_turn_and_exits_130(cli: Cli) -> None:
    process = subprocess.Popen(
        cli.argv(["start", "take your time [[slow:30]]"]),
        cwd=cli.project,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    session_id = process.stdout.readline().strip()  # printed once the agent runs
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, err
    assert err.strip().endswith(f"{session_id} cancelled"), err
    assert json.loads(cli.run("show", session_id, "--json").stdout)["session"]["status"] == "cancelled"


def test_approve_and_continue_from_the_shell(cli: Cli) -> None:
    session_id, denied = cli.start("please [[tool:bash:touch made-by-agent]]")
    assert denied.returncode == 4
    assert not (cli.project / "made-by-agent").exists()
    again = cli.run("resume", session_id[:8], "go ahead [[tool:bash:touch made-by-agent]]", "--allow", "Bash(touch:*)")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == session_id
    assert (cli.project / "made-by-agent").is_file()
    shown = json.loads(cli.run("show", session_id, "--json").stdout)
    assert shown["session"]["status"] == "completed"
    results = [b for m in shown["messages"] for b in m["content"] if b["type"] == "tool_result"]
    assert [r["isError"] for r in results] == [True, False]


def test_start_and_resume_print_the_session_as_json(cli: Cli) -> None:
    started = cli.run("start", "hello", "--json")
    assert started.returncode == 0
    result = json.loads(started.stdout)
    assert result["session"]["sessionId"] == result["sessionId"] and result["session"]["status"] == "completed"
    resumed = cli.run("resume", result["sessionId"][:5], "again", "--json", "--model", "sonnet")
    again = json.loads(resumed.stdout)
    assert again["sessionId"] == result["sessionId"] and again["session"]["messageCount"] == 4


def test_follow_prints_the_conversation(cli: Cli) -> None:
    done = cli.run("start", "hello follower", "--follow")
    lines = done.stdout.splitlines()
    assert lines[1:3] == ["you:", "hello follower"] and "agent:" in lines
    assert done.returncode == 0


def test_a_subfolder_resolves_to_its_project(cli: Cli) -> None:
    (cli.project / ".git").mkdir()
    deep = cli.project / "src" / "pkg"
    deep.mkdir(parents=True)
    done = cli.run("start", "from below", cwd=deep)
    assert done.returncode == 0, done.stderr
    session_id = done.stdout.splitlines()[0]
    assert not (deep / ".threadline").exists() and not (cli.project / "src" / ".threadline").exists()
    assert (cli.project / ".threadline" / "workflows" / session_id).is_dir()
    listed = json.loads(cli.run("list", "--json", cwd=deep).stdout)
    assert session_id in [s["sessionId"] for s in listed["sessions"]]
    assert listed["sessions"][0]["cwd"] == str(cli.project)


def test_list_filters_and_limits(cli: Cli) -> None:
    waiting, _ = cli.start("please [[tool:bash:touch x]]")
    only_waiting = json.loads(cli.run("list", "--json", "--status", "waiting_for_input").stdout)
    assert [s["sessionId"] for s in only_waiting["sessions"]] == [waiting]
    both = json.loads(cli.run("list", "--json", "--status", "waiting_for_input,completed", "--limit", "3").stdout)
    assert len(both["sessions"]) == 3 and both["nextCursor"]
    queried = json.loads(cli.run("list", "--json", "--query", "PARTIAL please").stdout)
    assert [s["sessionId"] for s in queried["sessions"]] == ["22222222-2222-4222-8222-222222222222"]
    assert json.loads(cli.run("list", "--json", "--agent", "codex").stdout)["sessions"] == []


def test_cancel_stops_a_turn_run_by_another_process(cli: Cli) -> None:
    owner = subprocess.Popen(
        cli.argv(["start", "take your time [[slow:30]]"]),
        cwd=cli.project,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert owner.stdout is not None
    session_id = owner.stdout.readline().strip()
    meta = cli.project / ".threadline" / "workflows" / session_id / "metadata.json"

    def recorded_pid() -> int | None:
        return json.loads(meta.read_text()).get("pid")

    # The owner records the agent's pid just after it prints the id: wait for that write.
    deadline = time.monotonic() + TIMEOUT
    if recorded_pid() is None:
        for _ in watch(meta.parent, rust_timeout=1000, yield_on_timeout=True, debounce=10, step=10):
            if recorded_pid() is not None:
                break
            assert time.monotonic() < deadline and owner.poll() is None, "the owner never recorded the pid"
    agent_pid = recorded_pid()
    began = time.monotonic()
    cancelled = cli.run("cancel", session_id[:8], "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["session"]["status"] == "cancelled"
    assert time.monotonic() - began < 10
    owner.communicate(timeout=TIMEOUT)
    with pytest.raises(ProcessLookupError):
        os.kill(agent_pid, 0)
    assert json.loads(cli.run("show", session_id, "--json").stdout)["session"]["status"] == "cancelled"
    assert json.loads(meta.read_text())["turns"][-1]["status"] == "cancelled"


def test_activate_and_clear(cli: Cli) -> None:
    done = cli.run("activate", "3333", "--json")
    assert json.loads(done.stdout) == {"activeSessionId": "33333333-3333-4333-8333-333333333333"}
    _, output = cli.tty("list", width=100, colour=False)
    row = next(line for line in ANSI.sub("", output).split("\n") if "33333333" in line)
    assert row.startswith("*")
    cleared = cli.run("activate", "--clear", "--json")
    assert json.loads(cleared.stdout) == {"activeSessionId": None}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(cli: Cli, shell: str) -> None:
    done = cli.run("completion", shell)
    assert done.returncode == 0 and "threadline" in done.stdout and "_ARGCOMPLETE" in done.stdout


def test_bash_completes_commands_and_options(cli: Cli) -> None:
    bin_dir = cli.project.parent / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "threadline"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m threadline "$@"\n')
    launcher.chmod(0o755)
    script = cli.run("completion", "bash").stdout

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        probe = (
            f"{script}\nCOMP_LINE={json.dumps(line)}; COMP_POINT={len(line)}; "
            f"COMP_WORDS=({' '.join(json.dumps(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
            '$(complete -p threadline | sed -E "s/.* -F ([^ ]+) .*/\\1/") threadline; '
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        env = {**cli.env, "PATH": f"{bin_dir}:{cli.env['PATH']}"}
        done = subprocess.run(
            ["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=TIMEOUT, cwd=cli.project
        )
        return [w.strip() for w in done.stdout.split("\n") if w.strip()]

    assert {"list", "show", "start", "resume", "cancel", "activate"} <= set(complete("threadline "))
    assert "--permission-mode" in complete("threadline resume --per")
    assert set(complete("threadline list --status wai")) == {"waiting_for_input"}
    assert complete("threadline show 3333") == ["33333333-3333-4333-8333-333333333333"]
    assert set(complete("threadline resume ")) >= {
        "11111111-1111-4111-8111-111111111111",
        "a658e890-a821-493e-b29a-e5c15623b847",
    }


def test_approve_and_continue_on_the_fake_and_the_real_cli(claude_agent: Agent, project: Path) -> None:
    """The user's loop from the shell, on each agent: a denied tool, approved with --allow,
    runs in the resumed turn, and the session ends completed under the same id."""
    env = {**claude_agent.env, "THREADLINE_CLAUDE_COMMAND": json.dumps(claude_agent.argv)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "threadline", *args]
        return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=120)

    denied = run("start", "please [[tool:bash:touch approved.txt]]")
    assert denied.returncode == 4, denied.stderr
    session_id = denied.stdout.split()[0]
    assert not (project / "approved.txt").exists()
    done = run(
        "resume", session_id[:8], "go ahead [[tool:bash:touch approved.txt]]", "--allow", "Bash(touch:*)", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sessionId"] == session_id and result["session"]["status"] == "completed"
    assert (project / "approved.txt").is_file()
    listed = json.loads(run("list", "--json").stdout)
    assert [s["sessionId"] for s in listed["sessions"]] == [session_id]
