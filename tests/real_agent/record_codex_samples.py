"""Record real Codex rollouts for tests/data/codex (those the research samples lack).

    python -m tests.real_agent.record_codex_samples --version 0.171.0 --out tests/data/codex

Runs the real CLI offline against the Responses-API stub (installing it like the fixtures
do) and writes ``codex-rollout.{http500,thinking,tool+resume}.jsonl``, with the scratch
folder shown as ``<WORK>`` and strings over 400 characters cut (as the research samples
are).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from tests.agents.codex_fixtures import CodexAgent, make_codex_agent, outcome_of


def redact(value: Any, work: str) -> Any:
    if isinstance(value, str):
        value = value.replace(work, "<WORK>")
        return value if len(value) <= 400 else value[:400] + "...[truncated]"
    if isinstance(value, list):
        return [redact(v, work) for v in value]
    if isinstance(value, dict):
        return {k: redact(v, work) for k, v in value.items()}
    return value


def save(agent: CodexAgent, thread_id: str, out: Path, name: str, work: str) -> None:
    path = agent.rollout(thread_id)
    assert path is not None, f"no rollout for {thread_id}"
    lines = [
        json.dumps(redact(json.loads(line), work), ensure_ascii=False, separators=(",", ":"))
        for line in path.read_bytes().splitlines()
    ]
    (out / f"codex-rollout.{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", default="0.171.0")
    parser.add_argument("--out", type=Path, default=Path("tests/data/codex"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="codex-samples-") as scratch:
        work = str(Path(scratch).resolve())
        agent = make_codex_agent(f"real-{args.version}", Path(work))
        project = Path(work) / "proj"
        project.mkdir()
        try:
            for name, prompt in (("http500", "boom [[http500]]"), ("thinking", "think [[thinking]]")):
                thread_id, _ = outcome_of(agent.turn(project, prompt).finish())
                save(agent, str(thread_id), args.out, name, work)
            thread_id, _ = outcome_of(agent.turn(project, "--help\n$(touch pwned)\n").finish())
            agent.turn(project, "second [[tool:bash:echo hi]]", session_id=thread_id, resume=True).finish()
            save(agent, str(thread_id), args.out, "tool+resume", work)
        finally:
            agent.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
