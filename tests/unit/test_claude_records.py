"""Normalizing real Claude Code transcripts into protocol Messages and summaries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import SAMPLES
from threadline.agents.base import AgentCommand, Summary
from threadline.agents.claude import ClaudeAdapter
from threadline.jsonl import JsonlTail
from threadline.protocol import Message

ADAPTER = ClaudeAdapter(Path("/nonexistent"), AgentCommand(["claude"]))


def sample(name: str) -> Path:
    return next(SAMPLES.glob(f"*/{name}.jsonl"))


def copy_sample(tmp_path: Path, name: str) -> Path:
    target = tmp_path / f"{name}.jsonl"
    shutil.copy(sample(name), target)
    target.chmod(0o644)
    return target


class Parsed:
    """A transcript read the way the indexer reads it: summary, offsets, then pages on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tail = JsonlTail(str(path))
        self.summarizer = ADAPTER.summarizer(path, None)
        self.offsets: list[int] = []

    def refresh(self) -> int | None:
        records = self.tail.read_new()[0]
        for record in records:
            self.summarizer.add(record.data, record.offset)
        self.offsets = list(self.summarizer.offsets)
        return self.summarizer.take_touched()

    @property
    def summary(self) -> Summary:
        return self.summarizer.summary

    def messages(self, start: int = 0, limit: int = 1000) -> list[Message]:
        return ADAPTER.read_messages(self.path, self.offsets, self.tail.offset, start, limit)


def parsed(path: Path) -> Parsed:
    result = Parsed(path)
    result.refresh()
    return result


def test_one_message_per_api_message_with_usage_counted_once(tmp_path: Path) -> None:
    transcript = parsed(copy_sample(tmp_path, "33333333-3333-4333-8333-333333333333"))
    messages = transcript.messages()
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    merged = messages[1]
    assert [b.type for b in merged.content] == ["text", "tool_use"]
    records = [json.loads(line) for line in sample("33333333-3333-4333-8333-333333333333").read_text().splitlines()]
    assistant = [r for r in records if r["type"] == "assistant"]
    assert len(assistant) == 3  # two records of one API message, then the final reply
    assert merged.id == assistant[0]["message"]["id"] == assistant[1]["message"]["id"]
    assert transcript.summary.output_tokens == sum(
        r["message"]["usage"]["output_tokens"] for r in (assistant[0], assistant[2])
    )
    assert messages[2].content[0].tool_use_id == merged.content[1].id  # type: ignore[union-attr]


def test_non_conversation_records_are_not_messages(tmp_path: Path) -> None:
    path = copy_sample(tmp_path, "11111111-1111-4111-8111-111111111111")
    kinds = {json.loads(line)["type"] for line in path.read_text().splitlines()}
    assert {"queue-operation", "attachment", "last-prompt"} <= kinds
    transcript = parsed(path)
    assert transcript.summary.message_count == 4 == len(transcript.messages())
    assert transcript.summary.title == "hello there"
    assert transcript.summary.cwd == "/WORK/cwds/basic"


def test_meta_and_api_error_messages(tmp_path: Path) -> None:
    transcript = parsed(copy_sample(tmp_path, "44444444-4444-4444-8444-444444444444"))
    messages = transcript.messages()
    assert messages[1].content[0].text.startswith("API Error: 500")  # type: ignore[union-attr]
    assert messages[2].is_meta and messages[2].content[0].text == "Continue from where you left off."  # type: ignore[union-attr]
    assert transcript.summary.model == "claude-opus-4-8"  # the synthetic "<synthetic>" model is not a model


def test_status_hints_follow_the_end_of_the_file(tmp_path: Path) -> None:
    path = copy_sample(tmp_path, "44444444-4444-4444-8444-444444444444")
    lines = path.read_text().splitlines()
    first_error = next(i for i, line in enumerate(lines) if '"isApiErrorMessage":true' in line.replace(" ", ""))
    path.write_text("\n".join(lines[: first_error + 1]) + "\n")
    transcript = parsed(path)
    assert transcript.summary.ending == "api_error"
    assert transcript.summary.ending_error is not None and transcript.summary.ending_error.startswith("API Error: 500")


def test_custom_title_wins_and_growth_is_reported(tmp_path: Path) -> None:
    path = copy_sample(tmp_path, "22222222-2222-4222-8222-222222222222")
    transcript = Parsed(path)
    assert transcript.refresh() == 0 and transcript.summary.message_count == 2
    with open(path, "a") as handle:
        handle.write(json.dumps({"type": "custom-title", "customTitle": "My  title\nhere", "sessionId": "x"}) + "\n")
        handle.write("{broken\n")
    assert transcript.refresh() is None  # no Message changed
    assert transcript.summary.title == "My title here"
    assert transcript.tail.malformed == 1


def test_an_assistant_message_that_grows_is_reported_at_its_index(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    base = {"sessionId": "s", "cwd": "/p", "timestamp": "2026-01-01T00:00:00Z", "isSidechain": False}
    user = {**base, "type": "user", "uuid": "u1", "message": {"role": "user", "content": "hi"}}

    def block(n: int, content: dict) -> dict:
        return {
            **base,
            "type": "assistant",
            "uuid": f"a{n}",
            "requestId": "r1",
            "message": {
                "id": "m1",
                "role": "assistant",
                "model": "m",
                "content": [content],
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
        }

    path.write_text(json.dumps(user) + "\n" + json.dumps(block(1, {"type": "text", "text": "a"})) + "\n")
    transcript = parsed(path)
    with open(path, "a") as handle:
        handle.write(json.dumps(block(2, {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}})) + "\n")
    assert transcript.refresh() == 1
    assert [b.type for b in transcript.messages(1)[0].content] == ["text", "tool_use"]
    assert transcript.summary.input_tokens == 10 and transcript.summary.message_count == 2
