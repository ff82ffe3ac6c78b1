"""One running agent turn: the process, its stdout monitor, cancellation, and its end.

The process is spawned from an argv list (never a shell), in its own process group,
with the prompt written to stdin and stdin then closed, so a prompt can never become
a flag or a shell word and the agent never waits on an idle pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from threadline.agents.base import TurnMonitor, TurnOutcome

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 8192
MAX_EVENT_LINE = 64 * 1024 * 1024
CANCEL_GRACE_SECONDS = 3.0
OUTPUT_PIPE_BYTES = 1 << 20
"""Linux's default ceiling for an unprivileged pipe (``/proc/sys/fs/pipe-max-size``)."""


@dataclass(slots=True)
class SpawnSpec:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    stdin: bytes
    pass_fds: tuple[int, ...] = ()
    """Descriptors the agent inherits: the session's claim, so a turn whose server was killed
    keeps its session busy for as long as the agent itself runs."""
    hold_output: bool = False
    """The agent also holds the read ends of its own stdout and stderr, so its writes never
    fail once this process is gone (Gemini CLI exits at its first EPIPE, its turn unfinished);
    the pipes get ``OUTPUT_PIPE_BYTES`` so it can go on writing unread for a while."""


class AgentRun:
    """A started agent process; ``on_exit`` is called once with the turn's outcome."""

    def __init__(
        self,
        session_id: str,
        monitor: TurnMonitor,
        on_event: Callable[[], None],
        on_exit: Callable[[AgentRun, TurnOutcome, int], None],
    ) -> None:
        self.session_id = session_id
        self.monitor = monitor
        self._on_event = on_event
        self._on_exit = on_exit
        self.process: asyncio.subprocess.Process | None = None
        self.cancelled = False
        self.done = asyncio.Event()
        self.outcome: TurnOutcome | None = None
        self.exit_code: int | None = None
        self.cwd = ""
        self.stderr_tail = ""
        self._stdout: asyncio.StreamReader | None = None
        self._stderr: asyncio.StreamReader | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self, spec: SpawnSpec) -> None:
        """Spawn the process; returns as soon as it exists (OSError if it cannot start)."""
        self.cwd = spec.cwd
        if spec.hold_output:
            await self._start_holding_output(spec)
        else:
            self.process = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=spec.cwd,
                env=spec.env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=spec.pass_fds,
            )
            self._stdout, self._stderr = self.process.stdout, self.process.stderr
        self._spawn(self._feed_stdin(spec.stdin))
        self._spawn(self._supervise())

    async def _start_holding_output(self, spec: SpawnSpec) -> None:
        """Spawn with stdout and stderr on pipes whose read ends the agent inherits too."""
        pipes = [os.pipe(), os.pipe()]
        try:
            for read_end, _ in pipes:
                with contextlib.suppress(OSError, AttributeError):
                    fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, OUTPUT_PIPE_BYTES)
            (out_read, out_write), (err_read, err_write) = pipes
            self.process = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=spec.cwd,
                env=spec.env,
                stdin=asyncio.subprocess.PIPE,
                stdout=out_write,
                stderr=err_write,
                start_new_session=True,
                pass_fds=(*spec.pass_fds, out_read, err_read),
            )
        except BaseException:
            for fd in (fd for pipe in pipes for fd in pipe):
                os.close(fd)
            raise
        os.close(out_write)
        os.close(err_write)
        self._stdout = await _reader(out_read)
        self._stderr = await _reader(err_read)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _feed_stdin(self, data: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        stdin = self.process.stdin
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            logger.info("agent %s closed stdin before reading the whole prompt", self.session_id)
        finally:
            with contextlib.suppress(Exception):
                stdin.close()

    async def _read_stdout(self) -> None:
        assert self._stdout is not None
        pending = b""
        while chunk := await self._stdout.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._feed(line)
            if len(pending) > MAX_EVENT_LINE:
                logger.warning("agent %s printed an event line over %d bytes; skipped", self.session_id, MAX_EVENT_LINE)
                pending = b""
        if pending.strip():
            self._feed(pending)

    def _feed(self, line: bytes) -> None:
        try:
            if self.monitor.feed(line):
                self._on_event()
        except Exception:  # one odd event must not end the supervision of a turn
            logger.exception("could not read an event of agent %s", self.session_id)

    async def _read_stderr(self) -> bytes:
        assert self._stderr is not None
        tail = b""
        while chunk := await self._stderr.read(65536):
            tail = (tail + chunk)[-STDERR_TAIL_BYTES:]
        return tail

    async def _supervise(self) -> None:
        assert self.process is not None
        stderr_task = asyncio.ensure_future(self._read_stderr())
        try:
            await self._read_stdout()
        except Exception:
            logger.exception("reading the output of agent %s failed", self.session_id)
        exit_code = self.exit_code = await self.process.wait()
        stderr = self.stderr_tail = (await stderr_task).decode("utf-8", "replace")
        if stderr.strip():
            logger.info("agent %s stderr: %s", self.session_id, stderr.strip()[-2000:])
        self.outcome = self.monitor.outcome(exit_code, stderr, self.cancelled)
        self.done.set()
        try:
            self._on_exit(self, self.outcome, exit_code)
        except Exception:
            logger.exception("recording the end of agent %s failed", self.session_id)

    async def cancel(self, grace: float = CANCEL_GRACE_SECONDS) -> None:
        """SIGINT, then SIGTERM after ``grace`` seconds, then SIGKILL; returns once it ended."""
        if self.process is None or self.done.is_set():
            return
        self.cancelled = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self._signal(sig)
            try:
                await asyncio.wait_for(self.done.wait(), grace)
                return
            except TimeoutError:
                logger.info("agent %s still running after %s; escalating", self.session_id, sig.name)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


async def _reader(fd: int) -> asyncio.StreamReader:
    """An asyncio reader of a pipe's read end (it owns and closes ``fd``)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_EVENT_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    return reader
