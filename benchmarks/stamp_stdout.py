"""Run a command, relay its stdout unchanged, and note when it printed ``thread.started``.

    python -I -S benchmarks/stamp_stdout.py STAMPS -- ARGV...

The benchmark puts this in front of ``codex`` (fake or real) to learn, per start, when Codex
itself printed its id: the ``CLOCK_MONOTONIC`` time at which the chunk holding
``thread.started`` came out of Codex's stdout pipe is appended to STAMPS as
``<seconds> <thread id>``, after the chunk is passed on. stdin, stderr and every other
descriptor are the child's own; the exit status is the child's. A relay hop sits between Codex
and the server, so a gap measured from these stamps is an upper bound. stdlib only (``-I -S``
keeps its start short).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    stamps, sep, command = argv[0], argv[1], argv[2:]
    if sep != "--" or not command:
        sys.stderr.write("usage: stamp_stdout.py STAMPS -- ARGV...\n")
        return 2
    # A handler, not SIG_IGN (which the child would inherit): the child decides what a signal does.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, close_fds=False)
    assert child.stdout is not None
    fd = child.stdout.fileno()
    head = b""
    stamped = False
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        at = time.monotonic()
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(1, view) :]
        if not stamped:
            head += chunk
            for line in head.split(b"\n")[:-1]:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("type") == "thread.started":
                    with open(stamps, "a") as out:
                        out.write(f"{at:.6f} {event.get('thread_id')}\n")
                    stamped = True
                    head = b""
                    break
            stamped = stamped or len(head) > 1 << 20  # no id in the first MB: it will not come
    code = child.wait()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
