"""A deterministic mixed history of three agents for the scale benchmark: a third each of Claude
Code transcripts (``benchmarks/corpus.py``), Codex CLI rollouts and Gemini CLI chats.

Codex: ``<codex home>/sessions/YYYY/MM/DD/rollout-<time>-<UUIDv7>.jsonl`` in the paginated line
shape of 0.171.0 / 0.169.0 (``session_meta`` with ~21 KB of base instructions, the developer and
environment-context messages, ``world_state``, ``turn_context``, user / assistant / reasoning
``response_item`` messages, ``function_call`` / ``function_call_output`` pairs, the
``item_completed`` events that repeat them, ``token_usage_record`` and the cumulative
``token_count``, ``task_complete``), as ``tests/agents/fake_codex.py`` writes them (checked against
the real CLI). Gemini: ``<home>/.gemini/tmp/<slug>/chats/session-<time>-<id[:8]>.jsonl`` in the
shape of 0.61.0 (metadata, the ``<session_context>`` preamble as ``$set.messages``, ``user`` and
``gemini`` messages with thoughts and tokens, a tool turn's ``gemini`` message written twice — the
second time with ``toolCalls`` — and its ``functionResponse``, ``$set.lastUpdated`` after each
record, and for a few sessions a resume: a second metadata record and the whole history rewritten
as ``$set.messages``), with ``tmp/<slug>/.project_root``; two projects with one slug get ``-1``.

Sessions per project, start times, sizes and torn last lines come from ``corpus.plan`` (so the
byte distribution is the Claude corpus's, and the top project is the same). The generator records
what it wrote — each session's id, agent, project, size, output tokens and whether its searchable
text holds ``corpus.TITLE_WORD`` / ``corpus.MESSAGE_WORD`` — in the manifest: the truth the
benchmark checks the server's answers against. A torn last line never carries tokens or text.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import corpus
from benchmarks.corpus import END, MB, LineWriter, Session, lognormal_size, stamp, texts, uuid4

GENERATOR = "threadline-mixed-corpus/1"
MANIFEST = "threadline-mixed.json"
AGENTS = ("claude", "codex", "gemini")
CODEX_OLD, CODEX_NEW = "0.169.0", "0.171.0"
GEMINI_VERSION = "0.61.0"
CODEX_MODELS = ["gpt-5.5", "gpt-5.4-codex"]
GEMINI_MODELS = ["gemini-3.8-flash", "gemini-3.8-pro"]
CONTEXT_ID = "d04923d38bb0f6017037e74183378ef4"
WORDS = (corpus.TITLE_WORD, corpus.MESSAGE_WORD)

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"sessions": 60, "total_mb": 14, "big_mb": [3]},
    "medium": {"sessions": 2_000, "total_mb": 500, "big_mb": [50]},
    "large": {"sessions": 20_000, "total_mb": 5_000, "big_mb": [50, 92, 169, 302]},
}


@dataclass
class Written:
    """What one session file holds, as the generator wrote it."""

    agent: str
    session_id: str
    cwd: str
    path: str
    size: int = 0
    output_tokens: int = 0
    hits: list[str] = field(default_factory=list)


class Base(LineWriter):
    """Streams one session's records to its file; tracks the searchable text and the tokens."""

    def __init__(self, plan: Session, path: Path, agent: str) -> None:
        self.p = plan
        self.rng = random.Random(plan.seed)
        self.t = plan.start
        self.tx = texts()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path)
        self.out = Written(agent, plan.session_id, plan.cwd, str(path))
        self.found: set[str] = set()

    def searchable(self, text: str) -> str:
        """Text a ``query`` searches (prompts, replies, thinking, tool input and output)."""
        if len(self.found) < len(WORDS):
            low = text.lower()
            self.found.update(word for word in WORDS if word in low)
        return text

    def tick(self, low: float, high: float) -> str:
        self.t += low + self.rng.random() * (high - low)
        return stamp(self.t)

    def finish(self) -> Written:
        """The last record is written last; a torn file loses half of it (no newline)."""
        self.close(torn=self.p.torn)
        os.utime(self.path, (min(self.t, END), min(self.t, END)))
        self.out.size = self.written
        self.out.hits = sorted(self.found)
        return self.out

    def prompt(self, first: bool) -> str:
        rng = self.rng
        if first:
            topic = rng.choice(corpus.PROMPT_TOPICS)
            if rng.random() < 0.1:
                return f"{topic}\n\n{self.tx.neutral_text(rng, rng.randint(500, 6000))}"  # a pasted log
            return topic
        return rng.choice(["go on", "yes, do that", "now run the tests", rng.choice(corpus.PROMPT_TOPICS), "why?"])

    def rounds(self) -> int:
        return min(25, int(self.rng.paretovariate(1.1)) - 1)

    def tool_output(self) -> str:
        return self.tx.prose_text(self.rng, lognormal_size(self.rng, 3000, 1.3, 200_000))

    def command(self) -> str:
        return self.rng.choice(["pytest -q", "git status", "ls -la src", "rg -n 'def .*cache' src", "cat README.md"])

    def run(self) -> Written:
        first = True
        while first or self.size < self.p.target:
            if not first and self.rng.random() < 0.02:
                self.t += self.rng.uniform(600, 86400)  # resumed later
            self.turn(self.prompt(first), first)
            first = False
        self.end()
        return self.finish()

    def turn(self, prompt: str, first: bool) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


def uuid7(rng: random.Random, t: float) -> str:
    """A UUIDv7 of time ``t``, as Codex mints its thread ids."""
    h = f"{int(t * 1000):012x}{rng.getrandbits(80):020x}"
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


# -- Codex ------------------------------------------------------------------------------------
class CodexWriter(Base):
    def __init__(self, plan: Session, home: Path) -> None:
        rng = random.Random(plan.seed ^ 0x7C0DE)
        thread_id = uuid7(rng, plan.start)
        plan = Session(plan.index, thread_id, plan.cwd, plan.version, plan.start, plan.target, plan.torn, plan.seed)
        local = time.gmtime(plan.start)
        folder = home / "sessions" / time.strftime("%Y/%m/%d", local)
        super().__init__(
            plan, folder / f"rollout-{time.strftime('%Y-%m-%dT%H-%M-%S', local)}-{thread_id}.jsonl", "codex"
        )
        self.version = CODEX_OLD if plan.version == corpus.OLD_VERSION else CODEX_NEW
        self.model = self.rng.choice(CODEX_MODELS)
        self.ordinal = 0
        self.total = [0, 0, 0, 0, 0]  # input, cached, cache write, output, reasoning
        self.last = [0, 0, 0, 0, 0]
        self.responses = 0
        self.turn_id = ""
        self.head()

    def write(self, kind: str, payload: dict[str, Any], t: str | None = None) -> None:
        record: dict[str, Any] = {"timestamp": t or stamp(self.t), "ordinal": self.ordinal, "type": kind}
        record["payload"] = payload
        if kind == "response_item":
            record["metadata"] = {"model_search_state": None} if self.version >= "0.171" else {}
        self.ordinal += 1
        self.emit(record)

    def event(self, kind: str, payload: dict[str, Any]) -> None:
        self.write("event_msg", {"type": kind, **payload})

    def message(self, role: str, text: str) -> None:
        item: dict[str, Any] = {"type": "message", "id": f"msg_{uuid7(self.rng, self.t)}", "role": role}
        if role == "assistant":
            item["status"] = "completed"
            item["content"] = [{"type": "output_text", "text": text, "annotations": []}]
        else:
            item["content"] = [{"type": "input_text", "text": text}]
        self.write("response_item", item)

    def head(self) -> None:
        p, tx = self.p, self.tx
        meta: dict[str, Any] = {"session_id": p.session_id, "id": p.session_id, "timestamp": stamp(self.t)}
        meta.update({"cwd": p.cwd, "originator": "codex_exec", "cli_version": self.version, "source": "exec"})
        meta.update({"thread_source": "user", "model_provider": "openai"})
        meta["base_instructions"] = {"text": tx.neutral_text(self.rng, 21_000)}
        meta["history_mode"] = "paginated"
        if self.version >= "0.171":
            meta["account_scoped"] = True
            meta["runtime_workspace_roots"] = [p.cwd]
        self.write("session_meta", meta)

    def usage(self, input_tokens: int, output_tokens: int, count: bool = True) -> None:
        self.responses += 1
        self.last = [input_tokens, self.rng.randint(0, input_tokens), 0, output_tokens, 0]
        self.total = [a + b for a, b in zip(self.total, self.last, strict=True)]
        self.out.output_tokens = self.total[3]
        ids = {"thread_id": self.p.session_id, "session_id": self.p.session_id}
        self.write("token_usage_record", {**ids, "response_id": f"resp_{self.rng.getrandbits(96):024x}"})
        if count:
            self.count()

    def count(self) -> None:
        info = {"total_token_usage": _codex_usage(self.total), "last_token_usage": _codex_usage(self.last)}
        self.event("token_count", {"info": info})

    def completed(self, item: dict[str, Any]) -> None:
        self.event("item_completed", {"thread_id": self.p.session_id, "turn_id": self.turn_id, "item": item})

    def turn(self, prompt: str, first: bool) -> None:
        rng, tx, cwd = self.rng, self.tx, self.p.cwd
        self.t += 5 if first else rng.expovariate(1 / 120)
        self.turn_id = uuid7(rng, self.t)
        started = int(self.t)
        self.event("task_started", {"turn_id": self.turn_id, "started_at": started, "model_context_window": 258400})
        if first:
            developer = f"<permissions instructions>\n{tx.neutral_text(rng, 4_800)}\n</permissions instructions>"
            self.message("developer", developer)
            context = f"<environment_context>\n  <cwd>{cwd}</cwd>\n  <shell>bash</shell>\n</environment_context>"
            self.message("user", context)
            self.write("world_state", {"full": True, "state": {"model": self.model, "cwd": cwd}})
        self.write(
            "turn_context", {"turn_id": self.turn_id, "cwd": cwd, "approval_policy": "never", "model": self.model}
        )
        if first:
            settings = {"model": self.model, "model_provider_id": "openai", "cwd": cwd}
            self.event("thread_settings_applied", {"thread_id": self.p.session_id, "thread_settings": settings})
        self.message("user", self.searchable(prompt))
        self.completed({"type": "UserMessage", "id": uuid7(rng, self.t), "content": [{"type": "text", "text": prompt}]})
        context = len(prompt) // 4 + 6900
        for n in range(self.rounds() + 1):
            last = self.size >= self.p.target or n == 25
            self.tick(1.0, 12.0)
            if rng.random() < 0.35:
                text = self.searchable(tx.prose_text(rng, lognormal_size(rng, 700, 0.9, 20_000)))
                rid = f"rs_{rng.getrandbits(96):024x}"
                self.completed({"type": "Reasoning", "id": rid, "summary_text": [text], "raw_content": []})
                summary = [{"type": "summary_text", "text": text}]
                item = {"type": "reasoning", "id": rid, "summary": summary, "content": None}
                self.write("response_item", {**item, "encrypted_content": f"gAAAA{rng.getrandbits(512):0128x}"})
            if last or rng.random() < 0.5:
                break
            command = self.command()
            call_id = f"call_{rng.getrandbits(96):024x}"
            arguments = json.dumps({"cmd": self.searchable(command), "workdir": cwd})
            call = {"type": "function_call", "status": "completed", "id": f"fc_{call_id}", "name": "exec_command"}
            self.write("response_item", {**call, "arguments": arguments, "call_id": call_id})
            self.usage(context, rng.randint(20, 400), count=False)
            output = self.searchable(self.tool_output())
            self.tick(0.05, 3.0)
            self.completed(
                {
                    "type": "CommandExecution",
                    "id": call_id,
                    "command": ["/bin/bash", "-lc", command],
                    "cwd": f"file://{cwd}",
                    "aggregated_output": output,
                    "exit_code": 0,
                }
            )
            result = (
                f"Chunk ID: {rng.getrandbits(24):06x}\nWall time: {rng.random():.4f} seconds\nProcess exited with "
                f"code 0\nOriginal token count: {max(1, len(output) // 4)}\nOutput:\n{output}"
            )
            output_item = {"type": "function_call_output", "id": f"fco_{call_id}", "call_id": call_id}
            self.write("response_item", {**output_item, "output": result})
            self.count()
            context += len(output) // 4
        text = self.searchable(tx.prose_text(rng, lognormal_size(rng, 1200, 1.0, 30_000)))
        message_id = f"msg_{rng.getrandbits(96):024x}"
        self.completed({"type": "AgentMessage", "id": message_id, "content": [{"type": "Text", "text": text}]})
        self.message("assistant", text)
        self.usage(context + 50, rng.randint(20, 2500))
        self.event(
            "task_complete",
            {
                "turn_id": self.turn_id,
                "last_agent_message": text[:2000],
                "started_at": started,
                "completed_at": int(self.t),
            },
        )

    def end(self) -> None:
        # the torn line, if any: a repeat of the settings (no text, no tokens)
        settings = {"model": self.model, "model_provider_id": "openai", "cwd": self.p.cwd}
        self.event("thread_settings_applied", {"thread_id": self.p.session_id, "thread_settings": settings})


def _codex_usage(n: list[int]) -> dict[str, int]:
    return {
        "input_tokens": n[0],
        "cached_input_tokens": n[1],
        "cache_write_input_tokens": n[2],
        "output_tokens": n[3],
        "reasoning_output_tokens": n[4],
        "total_tokens": n[0] + n[3],
    }


# -- Gemini -----------------------------------------------------------------------------------
class GeminiWriter(Base):
    def __init__(self, plan: Session, home: Path, slug: str) -> None:
        local = time.gmtime(plan.start)
        folder = home / ".gemini" / "tmp" / slug
        name = f"session-{time.strftime('%Y-%m-%dT%H-%M', local)}-{plan.session_id[:8]}.jsonl"
        super().__init__(plan, folder / "chats" / name, "gemini")
        marker = folder / ".project_root"
        if not marker.exists():
            marker.write_text(plan.cwd)
        self.model = self.rng.choice(GEMINI_MODELS)
        self.history: list[dict[str, Any]] | None = []  # kept while small: a resume rewrites it
        self.context_chars = 0
        self.header()
        self.messages([self.context()])

    def header(self) -> None:
        now = stamp(self.t)
        project = hashlib.sha256(self.p.cwd.encode("utf-8")).hexdigest()
        self.emit(
            {
                "sessionId": self.p.session_id,
                "projectHash": project,
                "startTime": now,
                "lastUpdated": now,
                "kind": "main",
            }
        )

    def context(self) -> dict[str, Any]:
        day = time.strftime("%A, %B %d, %Y", time.gmtime(self.t))
        text = (
            "<session_context>\nThis is the Gemini CLI. We are setting up the context for our chat.\n"
            f"Today's date is {day} (formatted according to the user's locale).\nMy operating system is: linux\n"
            f"The project's temporary directory is: /home/dev/.gemini/tmp/{self.path.parent.parent.name}\n"
            f"- **Workspace Directories:**\n  - {self.p.cwd}\n- **Directory Structure:**\n\n"
            f"Showing up to 200 items (files + folders).\n\n{self.p.cwd}/\n"
            + "\n".join(f"├───{w}.py" for w in self.tx.neutral_text(self.rng, 1500).split()[:150])
            + "\n\n</session_context>"
        )
        return {"id": CONTEXT_ID, "timestamp": stamp(self.t), "type": "user", "content": [{"text": text}]}

    def messages(self, messages: list[dict[str, Any]]) -> None:
        self.emit({"$set": {"messages": messages, "lastUpdated": stamp(self.t)}})

    def record(self, message: dict[str, Any]) -> None:
        self.emit(message)
        self.emit({"$set": {"lastUpdated": message["timestamp"]}})
        if self.history is not None:
            if self.size > 2 * MB:
                self.history = None
            else:
                found = next((n for n, m in enumerate(self.history) if m["id"] == message["id"]), None)
                if found is None:
                    self.history.append(message)
                else:
                    self.history[found] = message

    def tokens(self, output: int) -> dict[str, int]:
        self.context_chars = min(4_000_000, self.context_chars)
        prompt = max(1, self.context_chars // 4)
        thoughts = self.rng.randint(0, 300)
        self.out.output_tokens += output + thoughts
        cached = self.rng.randint(0, prompt)
        return {"input": prompt, "output": output, "cached": cached, "thoughts": thoughts, "tool": 0}

    def gemini(self, text: str, thoughts: bool) -> dict[str, Any]:
        rng = self.rng
        message: dict[str, Any] = {"id": str(_uuid(rng)), "timestamp": self.tick(1.0, 12.0), "type": "gemini"}
        message["content"] = self.searchable(text)
        message["thoughts"] = (
            [
                {
                    "subject": "Planning the change",
                    "description": self.searchable(self.tx.prose_text(rng, lognormal_size(rng, 700, 0.9, 20_000))),
                    "timestamp": stamp(self.t),
                }
            ]
            if thoughts
            else []
        )
        tokens = self.tokens(max(1, len(text) // 4) if text else rng.randint(5, 200))
        message["tokens"] = {**tokens, "total": tokens["input"] + tokens["output"]}
        message["model"] = self.model
        return message

    def resume(self) -> None:
        """A later ``gemini --resume``: a second metadata record, the history rewritten."""
        assert self.history is not None
        self.t += self.rng.uniform(600, 86400)
        self.header()
        rewritten = []
        for m in self.history:
            copy = {k: v for k, v in m.items() if k not in ("tokens", "thoughts", "model")}
            if m["type"] == "gemini":
                copy["content"] = [{"text": m["content"]}] if m["content"] else []
            rewritten.append(copy)
        self.emit({"$set": {"sessionId": self.p.session_id}})
        self.messages(rewritten)

    def turn(self, prompt: str, first: bool) -> None:
        rng = self.rng
        if not first and self.history is not None and rng.random() < 0.05:
            self.resume()
        self.t += 5 if first else rng.expovariate(1 / 120)
        self.context_chars += len(prompt)
        self.record(
            {
                "id": str(_uuid(rng)),
                "timestamp": stamp(self.t),
                "type": "user",
                "content": [{"text": self.searchable(prompt)}],
            }
        )
        for n in range(self.rounds() + 1):
            if self.size >= self.p.target or n == 25 or rng.random() < 0.5:
                break
            message = self.gemini("", rng.random() < 0.35)
            self.record(message)
            name, command = "run_shell_command", self.command()
            call_id = f"{name}__{name}_{int(self.t * 1000)}_{n}"
            output = self.searchable(self.tool_output())
            response = {"functionResponse": {"id": call_id, "name": name, "response": {"output": output}}}
            call = {
                "id": call_id,
                "name": name,
                "args": {"command": self.searchable(command), "description": "Runs the command."},
                "result": [response],
                "status": "success",
                "timestamp": self.tick(0.05, 3.0),
                "resultDisplay": output[:2000],
                "description": command,
                "displayName": "Shell",
                "renderOutputAsMarkdown": False,
            }
            self.record({**message, "toolCalls": [call]})
            self.record({"id": str(_uuid(rng)), "timestamp": stamp(self.t), "type": "user", "content": [response]})
            self.context_chars += len(output)
        text = self.tx.prose_text(rng, lognormal_size(rng, 1200, 1.0, 30_000))
        self.record(self.gemini(text, rng.random() < 0.35))
        self.context_chars += len(text)

    def end(self) -> None:
        # the torn line, if any: a timestamp patch (no text, no tokens)
        self.emit({"$set": {"lastUpdated": stamp(self.t)}})


def _uuid(rng: random.Random) -> str:
    return uuid4(rng)


# -- the corpus -------------------------------------------------------------------------------
def gemini_slugs(cwds: list[str]) -> dict[str, str]:
    """Gemini's project folder names: the basename slugified, ``-1``, ``-2``… on a collision."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for cwd in sorted(set(cwds)):
        base = (
            "-".join(
                filter(
                    None,
                    "".join(c if c.isalnum() and c.isascii() else " " for c in os.path.basename(cwd).lower()).split(),
                )
            )
            or "project"
        )
        slug, n = base, 0
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        slugs[cwd] = slug
    return slugs


def _write_many(args: tuple[str, str, list[Session], dict[str, str]]) -> list[dict[str, Any]]:
    agent, home, plans, slugs = args
    out = []
    for plan in plans:
        writer: Base = (
            CodexWriter(plan, Path(home)) if agent == "codex" else GeminiWriter(plan, Path(home), slugs[plan.cwd])
        )
        out.append(writer.run().__dict__)
    return out


def split(total: int) -> list[int]:
    """Sessions per agent: a third each (Claude takes the remainder)."""
    third = total // 3
    return [total - 2 * third, third, third]


def generate(out: Path, sessions: int, total_mb: float, big_mb: list[float], seed: int = 7) -> dict[str, Any]:
    """Write ``out/claude`` (a ``CLAUDE_CONFIG_DIR``), ``out/codex`` (a ``CODEX_HOME``),
    ``out/gemini`` (a Gemini home) and the manifest with every Codex and Gemini session."""
    params = {"generator": GENERATOR, "claude": corpus.GENERATOR, "sessions": sessions, "total_mb": total_mb}
    params.update({"big_mb": big_mb, "seed": seed})
    began = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    counts = split(sessions)
    claude = corpus.generate(out / "claude", counts[0], total_mb / 3, big_mb[0::3], seed)
    written: list[dict[str, Any]] = []
    texts()  # built once here, inherited by the worker processes
    for n, agent in enumerate(("codex", "gemini"), start=1):
        plans = corpus.plan(counts[n], total_mb / 3, big_mb[n::3], seed + n)
        slugs = gemini_slugs([p.cwd for p in plans])
        plans.sort(key=lambda s: -s.target)
        chunks: list[list[Session]] = []
        budget = 0
        for plan in plans:
            if not chunks or budget + plan.target > 8 * MB:
                chunks.append([])
                budget = 0
            chunks[-1].append(plan)
            budget += plan.target
        home = str(out / agent)
        with multiprocessing.get_context("fork").Pool(min(2, os.cpu_count() or 1)) as pool:
            for part in pool.imap_unordered(_write_many, [(agent, home, c, slugs) for c in chunks]):
                written.extend(part)
    written.sort(key=lambda w: (w["agent"], w["session_id"]))
    sizes = [w["size"] for w in written]
    stats = {
        "files": claude["stats"]["files"] + len(written),
        "bytes": claude["stats"]["bytes"] + sum(sizes),
        "by_agent": {
            "claude": {"files": claude["stats"]["files"], "bytes": claude["stats"]["bytes"]},
            **{
                agent: {
                    "files": sum(1 for w in written if w["agent"] == agent),
                    "bytes": sum(w["size"] for w in written if w["agent"] == agent),
                }
                for agent in ("codex", "gemini")
            },
        },
        "size_max": max([claude["stats"]["size_max"], *sizes]),
        "size_p50": corpus.percentile(
            [*(p.stat().st_size for p in (out / "claude").glob("projects/*/*.jsonl")), *sizes], 50
        ),
        "torn": claude["stats"]["torn"] + sum(1 for w in written if Path(w["path"]).read_bytes()[-1:] != b"\n"),
        "seconds": round(time.perf_counter() - began, 2),
        "workers": min(2, os.cpu_count() or 1),
    }
    for w in written:
        w["path"] = os.path.relpath(w["path"], out)
    manifest = {"params": params, "stats": stats, "sessions": written}
    (out / MANIFEST).write_text(json.dumps(manifest) + "\n")
    return manifest


def ensure(out: Path, preset: str, seed: int = 7) -> dict[str, Any]:
    """The mixed corpus of a preset in ``out``, reused when its manifest says it was made the same way."""
    settings = PRESETS[preset]
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = None
    wanted = {"generator": GENERATOR, "claude": corpus.GENERATOR, **settings, "seed": seed}
    if isinstance(manifest, dict) and manifest.get("params") == wanted:
        return manifest
    return generate(out, settings["sessions"], settings["total_mb"], settings["big_mb"], seed)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to write (replaced if it exists)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--large", action="store_true", help="20,000 sessions, ~5 GB")
    size.add_argument("--quick", action="store_true", help="60 sessions, ~14 MB")
    args = parser.parse_args()
    preset = PRESETS["large" if args.large else "quick" if args.quick else "medium"]
    stats = generate(args.out, preset["sessions"], preset["total_mb"], preset["big_mb"])["stats"]
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
