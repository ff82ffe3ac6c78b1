"""Make docs/cli.svg: the ``threadline`` command in a terminal, on sessions run by the fake agent.

Run from the repository: ``.venv/bin/python scripts/cli-screenshot.py``. The project lives
in a throw-away home folder, so the picture shows ``~/src/app`` and nothing of this machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

from rich.console import Console
from rich.text import Text

REPO = Path(__file__).resolve().parent.parent
WIDTH = 100


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        project = home / "src" / "app"
        (project / ".git").mkdir(parents=True)
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")},
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "THREADLINE_CLAUDE_COMMAND": json.dumps(
                [sys.executable, str(REPO / "tests" / "agents" / "fake_claude.py")]
            ),
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "TERM": "xterm-256color",
        }

        def run(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "threadline", *args], cwd=project, env=env, capture_output=True, text=True
            )
            return done.stdout

        run("start", "summarise the README")
        run("start", "fix the flaky test in tests/test_sync.py [[tool:bash:echo 3 passed]]")
        run("start", "deploy to staging [[http500]]")
        waiting = run("start", "create the release notes file [[tool:bash:touch NOTES.md]]").split()[0]
        run("activate", waiting[:8])
        listing = tty(["list"], project, env)
        follow = ["go ahead [[tool:bash:touch NOTES.md]]", "--allow", "Bash(touch:*)", "--follow"]
        resumed = tty(["resume", waiting[:4], *follow], project, env)
        screens = [("list", listing), (f"resume {waiting[:4]} \"go ahead\" --allow 'Bash(touch:*)' --follow", resumed)]
        with open(os.devnull, "w") as sink:
            console = Console(record=True, width=WIDTH, force_terminal=True, color_system="truecolor", file=sink)
            for command, output in screens:
                console.print(Text("$ threadline " + command, style="bold"))
                console.print(Text.from_ansi(output.rstrip("\n")))
            sys.stdout.write(console.export_text(clear=False))
            console.save_svg(str(REPO / "docs" / "cli.svg"), title="threadline")


def tty(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, WIDTH, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "threadline", *args], cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait()
    os.close(master)
    # The spinner redraws one line; keep what stays on the screen.
    text = output.decode().replace("\r\n", "\n")
    return "\n".join(line.split("\r")[-1] for line in text.split("\n") if "Working…" not in line.split("\r")[-1])


if __name__ == "__main__":
    main()
