"""Real editors as Threadline clients: Neovim's LSP client and Emacs's jsonrpc.el, headless.

Each editor runs a small client script (``clients/``) against a real ``threadline serve``
over stdio with the fake agent: it lists a project's sessions (real sample transcripts),
starts a workflow, waits for its ``session/detected`` and for the ``session/updated`` that
ends the turn, pages its messages, and sends an invalid id. The script reports what the
editor received as JSON lines, and this file checks them.

The editors come from Debian (``neovim``, ``emacs-nox``; ``.ci/run`` installs them). A
missing editor skips its test, unless ``THREADLINE_REQUIRE_EDITORS=1`` (CI) makes it fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import install_transcripts
from tests.e2e.conftest import options_for

CLIENTS = Path(__file__).parent / "clients"
PROMPT = 'hello from an editor: "quotes", $(touch pwned) and --help'

EDITORS = {
    "neovim": ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {CLIENTS / 'threadline.lua'}"],
    "emacs": ["emacs", "--batch", "-Q", "-l", str(CLIENTS / "threadline.el")],
}


def editor_argv(name: str) -> list[str]:
    argv = EDITORS[name]
    if shutil.which(argv[0]) is None:
        if os.environ.get("THREADLINE_REQUIRE_EDITORS") == "1":
            pytest.fail(f"{argv[0]} is not installed (THREADLINE_REQUIRE_EDITORS=1)")
        pytest.skip(f"{argv[0]} is not installed")
    return argv


def run_editor(name: str, project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path) -> dict[str, Any]:
    """Run the editor's client script; return its reports by step."""
    out = tmp_path / f"{name}.jsonl"
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "THREADLINE_SERVER": json.dumps([sys.executable, "-m", "threadline", "serve"]),
        "THREADLINE_PROJECT": str(project),
        "THREADLINE_OPTIONS": json.dumps(options_for(claude_home, fake_claude)),
        "THREADLINE_OUT": str(out),
        "THREADLINE_PROMPT": PROMPT,
    }
    (tmp_path / "home").mkdir()
    done = subprocess.run(
        editor_argv(name), env=env, cwd=project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    reports = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    steps = {r["step"]: r["value"] for r in reports}
    assert done.returncode == 0 and "error" not in steps, (
        f"{name} exited {done.returncode}: {steps.get('error')}\nstdout: {done.stdout[-2000:]}\n"
        f"stderr: {done.stderr[-2000:]}"
    )
    assert all(r["editor"] == name for r in reports)
    return steps


@pytest.mark.parametrize("editor", list(EDITORS))
def test_an_editor_lists_starts_follows_and_reads(
    editor: str, project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path
) -> None:
    installed = install_transcripts(claude_home, project)
    steps = run_editor(editor, project, claude_home, fake_claude, tmp_path)

    # The terminal sessions already on disk are listed, as external sessions.
    listed = {s["sessionId"]: s for s in steps["list"]["sessions"]}
    assert set(listed) == set(installed)
    assert {s["source"] for s in listed.values()} == {"external"}

    # The id comes back with the answer, and every push speaks the same id.
    session_id = steps["start"]["sessionId"]
    assert steps["start"]["session"]["status"] == "running"
    assert steps["detected"]["session"]["sessionId"] == session_id
    ended = steps["ended"]["session"]
    assert (ended["sessionId"], ended["status"], ended["source"]) == (session_id, "completed", "workflow")

    # The prompt arrived verbatim (no shell, no flag), and the reply follows it.
    messages = steps["messages"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"][0]["text"] == PROMPT
    assert PROMPT in messages[1]["content"][0]["text"]
    assert not (project / "pwned").exists()

    # A bad id is a clear -32602, not a crash.
    assert steps["bad-id"]["code"] == -32602
    assert "sessionId" in steps["bad-id"]["message"]
