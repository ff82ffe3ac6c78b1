"""Scenarios run the same way on the fake and the real ``gemini``, through the adapter's own
argv / stdin / env, and what a test compares of their chat files."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.agents.fixtures import AgentProcess, AgentRun
from tests.agents.gemini_fixtures import GeminiAgent
from threadline.agents.base import AgentCommand, TurnOutcome, TurnRequest
from threadline.agents.gemini import GeminiAdapter, Summary, is_stray
from threadline.agents.gemini.chat import ChatSummarizer, iter_records, read_messages
from threadline.agents.gemini.events import GeminiTurnMonitor
from threadline.protocol import Message

FAST_MODEL = "gemini-2.5-flash"
"""An explicit model: no router call, and one attempt per call (an HTTP 500 fails in ~1 s)."""


def adapter_for(agent: GeminiAgent) -> GeminiAdapter:
    return GeminiAdapter(agent.home, AgentCommand(argv=list(agent.argv), env=dict(agent.extra_env)))


def turn_env(agent: GeminiAgent, adapter: GeminiAdapter) -> dict[str, str]:
    """The adapter's environment on top of the test's clean one (not the developer's)."""
    env = dict(agent.env)
    env.update({k: v for k, v in adapter.env().items() if k.startswith("GEMINI_CLI")})
    return env


@dataclass
class Turn:
    process: AgentProcess
    request: TurnRequest
    adapter: GeminiAdapter
    monitor: GeminiTurnMonitor
    """Made when the process starts, as the server makes it."""

    def finish(self, timeout: float = 120) -> tuple[AgentRun, TurnOutcome]:
        run = self.process.finish(timeout)
        monitor = self.monitor
        for line in run.stdout.splitlines():
            monitor.feed(line.encode())
        return run, monitor.outcome(run.returncode, run.stderr[-2000:], cancelled=False)


def start_turn(
    agent: GeminiAgent,
    cwd: Path,
    prompt: str,
    session_id: str,
    resume: bool = False,
    model: str | None = None,
    permission_mode: str | None = None,
) -> Turn:
    adapter = adapter_for(agent)
    request = TurnRequest(
        session_id=session_id, cwd=str(cwd), prompt=prompt, resume=resume, model=model, permission_mode=permission_mode
    )
    argv = adapter.argv(request)
    monitor = adapter.new_monitor()
    process = agent.start(argv[len(agent.argv) :], cwd, adapter.stdin_bytes(request), turn_env(agent, adapter))
    return Turn(process, request, adapter, monitor)


def run_turn(agent: GeminiAgent, cwd: Path, prompt: str, session_id: str, **kw: Any) -> tuple[AgentRun, TurnOutcome]:
    return start_turn(agent, cwd, prompt, session_id, **kw).finish()


def stop_mid_turn(turn: Turn, signum: int) -> AgentRun:
    """Wait until the reply streams, then signal the whole process group."""
    turn.process.wait_for_event(lambda e: e.get("type") == "message" and e.get("role") == "assistant", timeout=90)
    os.killpg(turn.process.pid, signum)
    return turn.process.finish(60)


def summarize(path: Path) -> Summary:
    summarizer = ChatSummarizer(path)
    for record, offset in iter_records(path.read_bytes()):
        summarizer.add(record, offset)
    return summarizer.summary


def session_chat(agent: GeminiAgent, session_id: str) -> tuple[Path, Summary]:
    """The chat that is the session (a stray header file of a resume is not)."""
    found = [(p, summarize(p)) for p in agent.chats(session_id)]
    real = [(p, s) for p, s in found if s.session_id == session_id and not is_stray(s)]
    assert len(real) == 1, f"expected one chat for {session_id}, found {[(p.name, s) for p, s in found]}"
    return real[0]


def messages_of(path: Path) -> list[Message]:
    return read_messages(path, (), None, 0, 1000)


def message_shape(messages: list[Message]) -> list[tuple[str, list[str], bool]]:
    return [(m.role, [b.type for b in m.content], m.is_meta) for m in messages]


def message_texts(messages: list[Message]) -> list[str]:
    out = []
    for m in messages:
        for block in m.content:
            if block.type in ("text", "tool_result"):
                out.append(block.text)
            elif block.type == "tool_use":
                out.append(f"{block.name} {orjson.dumps(block.input).decode()}")
    return out


def line_shapes(path: Path) -> list[str]:
    """One word per chat line: ``meta``, ``$set:<keys>``, ``$rewindTo``, or ``<type>[+tools]``."""
    shapes = []
    for record, _ in iter_records(path.read_bytes()):
        if "$set" in record:
            shapes.append("$set:" + ",".join(sorted(record["$set"])))
        elif "$rewindTo" in record:
            shapes.append("$rewindTo")
        elif isinstance(record.get("id"), str):
            shapes.append(str(record.get("type")) + ("+tools" if record.get("toolCalls") else ""))
        else:
            shapes.append("meta")
    return shapes


def big_prompt() -> str:
    """1 MiB of varied text (repeated text trips Gemini's loop detection), ending in a newline."""
    lines = [f"line {i:06d}: {i * 7919 % 100003} 'quotes' \"and\" $(subshells) `ticks`" for i in range(20000)]
    return "\n".join(lines)[: (1 << 20) - 1] + "\n"


__all__ = ["signal"]
