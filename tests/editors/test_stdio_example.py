"""``examples/stdio_client.py``, the raw-stdio example of docs/editors.md, run as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import install_transcripts
from tests.e2e.conftest import options_for
from tests.editors.test_editors import PROMPT, REPO

EXAMPLE = REPO / "examples" / "stdio_client.py"


def run_example(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--server", f"{sys.executable} -m threadline serve", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_the_stdio_example_lists_starts_and_prints_the_notifications(
    project: Path, claude_home: Path, fake_claude: list[str], tmp_path: Path
) -> None:
    installed = install_transcripts(claude_home, project)
    options = json.dumps(options_for(claude_home, fake_claude))
    done = run_example(project, "--options", options, PROMPT)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()

    assert lines[0].startswith("connected to threadline ")
    listed = [line[2:38] for line in lines[1 : 1 + len(installed)]]
    assert sorted(listed) == sorted(installed)
    started = re.fullmatch(r"started ([0-9a-f-]{36})", lines[1 + len(installed)])
    assert started
    session_id = started.group(1)
    # The notifications of the new session, to the end of its turn, with the reply's text.
    notes = [line for line in lines if line.startswith("session/")]
    assert notes[-1] == f"session/updated {session_id} completed"
    assert any(line.startswith(f"session/detected {session_id} ") for line in notes)
    assert f"  assistant: stub reply #1 to: {PROMPT}" in lines
    assert f"  user: {PROMPT}" in lines
    assert not (project / "pwned").exists()


def test_the_stdio_example_says_what_is_wrong(project: Path) -> None:
    done = run_example(project)
    assert done.returncode == 2 and "give a prompt, or --list-only" in done.stderr
    missing = subprocess.run(
        [sys.executable, str(EXAMPLE), "--server", "threadline-not-installed serve", "--list-only"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == "cannot run 'threadline-not-installed serve': No such file or directory"
