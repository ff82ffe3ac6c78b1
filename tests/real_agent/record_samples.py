"""Record real transcripts and stdout captures of one Claude Code version, for tests.

    python -m tests.real_agent.record_samples --version 2.1.329 --out tests/data/claude/2.1.329

Runs the real CLI offline against the Messages-API stub (installing it like the fixtures
do) through the scenarios listed in the written ``INDEX.md``, then copies the transcripts
and stdout with the scratch folder shown as ``/WORK``. Conversation records are kept
verbatim; in metadata records (``api-request*``, attachments) strings over 400
characters are cut to 400 (``…(N chars)``) and lists to 3 items (``…(N more)``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.agents.fake_claude import encode_project_dir
from tests.agents.fixtures import Agent, AgentProcess, make_agent

STREAM = ["-p", "--output-format", "stream-json", "--verbose"]
IDS = {
    name: f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}"
    for name, d in [("basic", "1"), ("tool", "3"), ("denied", "7"), ("http500", "4"), ("SIGINT", "5"), ("SIGKILL", "6")]
}
METADATA = ("api-request-shape", "api-request-blob", "api-request", "attachment")


def abridge(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 400:
        return value[:400] + f"…({len(value)} chars)"
    if isinstance(value, list):
        kept = [abridge(v) for v in value[:3]]
        return [*kept, f"…({len(value) - 3} more)"] if len(value) > 3 else kept
    if isinstance(value, dict):
        return {k: abridge(v) for k, v in value.items()}
    return value


def slow_then(agent: Agent, cwd: Path, sid: str, signum: int) -> tuple[AgentProcess, dict[str, Any]]:
    process = agent.start(
        [*STREAM, "--include-partial-messages", "--session-id", sid], cwd, "stream slowly [[slow:20]]"
    )
    process.wait_for_event(lambda e: e.get("event", {}).get("delta", {}).get("type") == "text_delta")
    # 2.1.3xx writes the pre-request batch a few ms after the request: a kill before that
    # leaves no transcript at all. Wait for it, so the sample shows the usual case.
    transcript = agent.project_dir(cwd) / f"{sid}.jsonl"
    deadline = time.monotonic() + 30
    while not transcript.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    registry = {p.name: json.loads(p.read_text()) for p in (agent.config_dir / "sessions").glob("*.json")}
    process.signal(signum)
    return process, registry


def record(version: str, out: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="claude-samples-"))
    agent = make_agent(f"real-{version}", scratch / "agent")
    agent.env["CLAUDE_CONFIG_DIR"] = str(scratch / "home" / ".claude")
    agent.env["HOME"] = str(scratch / "home")
    agent.config_dir = scratch / "home" / ".claude"
    captures: list[tuple[str, str, str, int]] = []

    def cwd(name: str) -> Path:
        folder = scratch / "cwds" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def run(name: str, args: list[str], where: str, prompt: str, what: str) -> None:
        done = agent.run(args, cwd(where), prompt)
        captures.append((name, done.stdout, what, done.returncode))

    basic = IDS["basic"]
    run("01-basic-stream-json", [*STREAM, "--session-id", basic], "basic", "hello there", "a first turn")
    run(
        "02-resume-json",
        ["-p", "--resume", basic, "--output-format", "json"],
        "basic",
        "follow up one",
        "resume (same cwd), appends to the same transcript",
    )
    run(
        "03-fork-stream-json",
        [*STREAM, "--resume", basic, "--fork-session"],
        "basic",
        "forked question",
        "fork: a new session id and transcript holding a copy of the history",
    )
    run(
        "05-tool-bash-stream-json",
        [*STREAM, "--session-id", IDS["tool"], "--allowedTools", "Bash"],
        "tool",
        "run the marker [[tool:bash]]",
        "a Bash tool round trip (`--allowedTools Bash`)",
    )
    run(
        "05b-tool-denied-stream-json",
        [*STREAM, "--session-id", IDS["denied"]],
        "tool-denied",
        "deny me [[tool:bash:touch denied-marker.txt]]",
        "a Bash tool_use refused in -p mode (permission_denials)",
    )
    run(
        "06-http500-stream-json",
        [*STREAM, "--session-id", IDS["http500"]],
        "http500",
        "please fail [[http500]]",
        "HTTP 500 from the stub; CLAUDE_CODE_MAX_RETRIES=1",
    )
    run(
        "07-resume-after-500-json",
        ["-p", "--resume", IDS["http500"], "--output-format", "json"],
        "http500",
        "after the error",
        "resume of the failed session",
    )
    registry: dict[str, Any] = {}
    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGKILL, "SIGKILL")):
        process, seen = slow_then(agent, cwd(f"kill-{name}"), IDS[name], sig)
        registry.update(seen)
        done = process.finish()
        captures.append((f"08-{name}-midturn", done.stdout, f"{name} while a slow reply streams", done.returncode))
        run(
            f"09-resume-after-{name}",
            ["-p", "--resume", IDS[name], "--output-format", "json"],
            f"kill-{name}",
            f"after the {name}",
            f"resume after the {name}",
        )
    agent.close()

    def clean(text: str) -> str:
        return text.replace(encode_project_dir(str(scratch)), "-WORK").replace(str(scratch), "/WORK")

    if out.exists():
        shutil.rmtree(out)
    (out / "transcripts").mkdir(parents=True)
    for name, stdout, _, _ in captures:
        (out / f"{name}.stdout.jsonl").write_text(clean(stdout), encoding="utf-8")
    (out / "sessions-dir-during-run.json").write_text(clean(json.dumps(registry, indent=1)) + "\n", encoding="utf-8")
    for path in sorted((agent.config_dir / "projects").glob("*/*.jsonl")):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("type") in METADATA:
                rec = abridge(rec)
            lines.append(clean(json.dumps(rec, ensure_ascii=False, separators=(",", ":"))))
        target = out / "transcripts" / clean(path.parent.name) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = [
        f"# Samples produced by {version} (Claude Code)",
        "",
        "Recorded by `tests/real_agent/record_samples.py` against `tests/agents/messages_stub.py`.",
        "The scratch folder is shown as `/WORK`; `CLAUDE_CONFIG_DIR` was `/WORK/home/.claude`. Conversation",
        "records are verbatim; long strings in metadata records are cut (`…(N chars)`).",
        "",
    ]
    index += [f"- `{name}.stdout.jsonl` (exit code {code}): {what}" for name, _, what, code in captures]
    index += [
        "- `sessions-dir-during-run.json`: `sessions/` while the slow turns streamed",
        "- `transcripts/`: every transcript written under `projects/`",
        "",
    ]
    (out / "INDEX.md").write_text("\n".join(index), encoding="utf-8")
    shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    record(args.version, args.out)


if __name__ == "__main__":
    main()
