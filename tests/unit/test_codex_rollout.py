"""The Codex Summarizer and read_messages on real rollouts (tests/data/codex)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from threadline.agents.codex.rollout import CodexSummarizer, read_messages, summarize_file
from threadline.protocol import Message

DATA = Path(__file__).resolve().parent.parent / "data" / "codex"


def rollout(name: str) -> Path:
    return DATA / f"codex-rollout.{name}.jsonl"


def everything(path: Path) -> tuple[CodexSummarizer, list[Message]]:
    summarizer, end = summarize_file(path)
    return summarizer, read_messages(path, summarizer.offsets, end, 0, 1000)


def shape(messages: list[Message]) -> list[tuple[str, bool, list[str]]]:
    return [(m.role, m.is_meta, [b.type for b in m.content]) for m in messages]


def prefix(path: Path, tmp_path: Path, keep: int) -> Path:
    """A copy of the first ``keep`` lines: the rollout as it stood before the resume."""
    lines = path.read_bytes().splitlines(keepends=True)[:keep]
    out = tmp_path / path.name
    out.write_bytes(b"".join(lines))
    return out


def line_of(path: Path, predicate: Any) -> int:
    for number, line in enumerate(path.read_bytes().splitlines()):
        if predicate(json.loads(line)):
            return number
    raise AssertionError("no such line")


@pytest.mark.parametrize("name", ["hello+resume", "0.169.0.hello+resume"])
def test_a_resumed_thread(name: str) -> None:
    summarizer, messages = everything(rollout(name))
    s = summarizer.summary
    assert s.session_id is not None and rollout(name).read_text().count(s.session_id) > 1
    assert s.cwd == "<WORK>/proj"
    assert s.first_prompt == "hello"
    assert s.custom_title is None
    assert s.model == "gpt-5.5"
    assert s.created_at is not None and s.created_at.endswith("Z")
    assert s.updated_at is not None and s.updated_at > s.created_at
    assert s.parent_session_id is None
    # token_count totals 6940/4 then 13960/10: the turns' shares add up to the last total.
    assert (s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens) == (13960, 10, 0, 0)
    assert s.ending == "reply" and s.ending_error is None
    assert shape(messages) == [
        ("user", True, ["text"]),  # Codex's <environment_context>
        ("user", False, ["text"]),
        ("assistant", False, ["text"]),
        ("user", False, ["text"]),
        ("assistant", False, ["text"]),
    ]
    assert [m.content[0].text for m in messages[1:]] == [  # type: ignore[union-attr]
        "hello",
        "stub reply 1: hello",
        "second turn",
        "stub reply 2: second turn",
    ]
    assert s.message_count == len(messages)
    assert all(m.timestamp and m.timestamp.endswith("Z") for m in messages)


def test_a_tool_call_pairs_use_and_result() -> None:
    summarizer, messages = everything(rollout("shell-tool"))
    assert shape(messages)[1:] == [
        ("user", False, ["text"]),
        ("assistant", False, ["tool_use"]),
        ("user", False, ["tool_result"]),
        ("assistant", False, ["text"]),
    ]
    use, result = messages[2].content[0], messages[3].content[0]
    assert use.name == "exec_command" and use.input == {"cmd": "echo hi-from-tool"}  # type: ignore[union-attr]
    assert result.tool_use_id == use.id == "call_stub_3"  # type: ignore[union-attr]
    assert result.text.endswith("Output:\nhi-from-tool\n") and not result.is_error  # type: ignore[union-attr]
    s = summarizer.summary
    assert (s.input_tokens, s.output_tokens) == (13993, 27)
    assert s.first_prompt == "SHELL: echo hi-from-tool"
    assert s.ending == "reply"


def test_a_fork_counts_only_its_own_turn() -> None:
    summarizer, messages = everything(rollout("fork"))
    s = summarizer.summary
    assert s.parent_session_id == "01a22b9d-6f54-7210-b851-a1a4c4855f68"
    assert s.session_id == "01a22b9d-7811-7213-8656-4ef8f267089d"
    # Its first token_count's total includes the parent's 13960: only last_token_usage is its own.
    assert (s.input_tokens, s.output_tokens) == (7102, 6)
    assert [m.content[0].text for m in messages] == ["forked turn", "stub reply 5: forked turn"]  # type: ignore[union-attr]


def test_an_http_500_is_an_api_error_message_and_ending() -> None:
    summarizer, messages = everything(rollout("http500"))
    s = summarizer.summary
    assert s.ending == "api_error"
    assert s.ending_error == "We\u2019re currently experiencing high demand, which may cause temporary errors."
    assert messages[-1].role == "system"
    assert messages[-1].content[0].text.startswith("API error (internal_server_error): We")  # type: ignore[union-attr]
    assert (s.input_tokens, s.output_tokens) == (0, 0)


def test_reasoning_is_thinking_in_the_reply() -> None:
    _summarizer, messages = everything(rollout("thinking"))
    reply = messages[-1]
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].text == "stub thinking about: think [[thinking]]"  # type: ignore[union-attr]


def test_a_sigint_mid_tool_is_an_interrupted_turn(tmp_path: Path) -> None:
    path = rollout("sigint-mid-tool+resume")
    cut = line_of(path, lambda r: r["payload"].get("type") == "turn_aborted")
    summarizer, messages = everything(prefix(path, tmp_path, cut + 1))
    s = summarizer.summary
    assert s.ending == "interrupted" and s.ending_error == "The turn was interrupted."
    assert shape(messages)[-3:] == [
        ("assistant", False, ["tool_use"]),
        ("user", False, ["tool_result"]),
        ("system", False, ["text"]),
    ]
    assert messages[-2].content[0].text.endswith("aborted by user")  # type: ignore[union-attr]
    # ...and the resume that followed is a normal reply again.
    assert everything(path)[0].summary.ending == "reply"


def test_a_sigint_mid_stream_shows_the_abort() -> None:
    _summarizer, messages = everything(rollout("sigint-mid-stream+resume"))
    texts = [m.content[0].text for m in messages if not m.is_meta]  # type: ignore[union-attr]
    assert texts == ["hello", "The turn was interrupted.", "continue", "stub reply 1: continue"]


@pytest.mark.parametrize(
    ("name", "ending"),
    [("killed-mid-stream+resume", "prompt"), ("killed-mid-tool+resume", "tool")],
)
def test_a_killed_turn_ends_where_it_was_killed(name: str, ending: str, tmp_path: Path) -> None:
    path = rollout(name)
    resume = line_of(path, lambda r: r["payload"].get("type") == "thread_settings_applied" and r["ordinal"] > 6)
    summarizer, _ = everything(prefix(path, tmp_path, resume))
    assert summarizer.summary.ending == ending
    assert everything(path)[0].summary.ending == "reply"


def test_the_prompt_is_kept_verbatim_and_the_title_is_one_line() -> None:
    summarizer, messages = everything(rollout("tool+resume"))
    assert messages[1].content[0].text == "--help\n$(touch pwned)\n"  # type: ignore[union-attr]
    assert summarizer.summary.first_prompt == "--help $(touch pwned)"


ALL = sorted(p.name.removeprefix("codex-rollout.").removesuffix(".jsonl") for p in DATA.glob("codex-rollout.*"))


@pytest.mark.parametrize("name", ALL)
def test_pages_and_byte_ranges_agree_with_a_whole_read(name: str) -> None:
    path = rollout(name)
    summarizer, end = summarize_file(path)
    whole = read_messages(path, summarizer.offsets, end, 0, 1000)
    assert len(whole) == summarizer.summary.message_count
    for size in (1, 2, 3):
        paged: list[Message] = []
        for start in range(0, len(whole), size):
            paged += read_messages(path, summarizer.offsets, end, start, size)
        assert paged == whole
    assert read_messages(path, summarizer.offsets, end, len(whole), 5) == []


@pytest.mark.parametrize("name", ALL)
def test_folding_resumes_from_its_state_in_another_process(name: str) -> None:
    path = rollout(name)
    lines = path.read_bytes().splitlines(keepends=True)
    whole, _ = summarize_file(path)
    half = len(lines) // 2
    first = CodexSummarizer()
    offset = 0
    for line in lines[:half]:
        first.add(orjson.loads(line), offset)
        offset += len(line)
    state = json.loads(json.dumps(first.state()))
    second = CodexSummarizer(state)
    for line in lines[half:]:
        second.add(orjson.loads(line), offset)
        offset += len(line)
    assert second.summary == whole.summary
    assert second.offsets == whole.offsets


def test_touched_and_search_text_follow_what_was_added() -> None:
    path = rollout("shell-tool")
    summarizer = CodexSummarizer()
    offset = 0
    touched: list[int | None] = []
    texts: list[str] = []
    for line in path.read_bytes().splitlines(keepends=True):
        summarizer.add(orjson.loads(line), offset)
        offset += len(line)
        touched.append(summarizer.take_touched())
        texts += summarizer.take_search_text()
    assert [t for t in touched if t is not None] == [0, 1, 2, 3, 4]
    assert summarizer.take_touched() is None and summarizer.take_search_text() == []
    assert "SHELL: echo hi-from-tool" in texts
    assert '{"cmd": "echo hi-from-tool"}' in texts
    assert any("hi-from-tool\n" in t and "Process exited" in t for t in texts)
    assert any(t.startswith("stub reply 4") for t in texts)


def test_the_legacy_line_shape_reads_the_same(tmp_path: Path) -> None:
    """Rollouts without ``ordinal`` (older Codex, or a file Codex adopted) and the oldest
    shape of all (a bare header line, then bare response items)."""
    path = rollout("shell-tool")
    legacy = tmp_path / "legacy.jsonl"
    bare = tmp_path / "bare.jsonl"
    legacy_lines, bare_lines = [], []
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        record.pop("ordinal", None)
        legacy_lines.append(json.dumps(record))
        if record["type"] == "session_meta":
            bare_lines.append(json.dumps({**record["payload"], "timestamp": record["payload"]["timestamp"]}))
        elif record["type"] == "response_item":
            bare_lines.append(json.dumps(record["payload"]))
        elif record["type"] == "turn_context":
            bare_lines.append(json.dumps(record))
    legacy.write_text("\n".join(legacy_lines) + "\n")
    bare.write_text("\n".join(bare_lines) + "\n")
    want_summary, want = everything(path)
    got_summary, got = everything(legacy)
    assert got == want and got_summary.summary == want_summary.summary
    bare_summary, bare_messages = everything(bare)
    assert shape(bare_messages) == shape(want)
    assert bare_summary.summary.session_id == want_summary.summary.session_id
    assert bare_summary.summary.first_prompt == "SHELL: echo hi-from-tool"


def test_names_approvals_branches_and_bad_lines(tmp_path: Path) -> None:
    records = [
        {
            "timestamp": "2026-11-30T08:00:00.000Z",
            "type": "session_meta",
            "payload": {"id": "01a22b9d-0000-7000-8000-000000000001", "cwd": "/p", "git": {"branch": "main"}},
        },
        {
            "timestamp": "2026-11-30T08:00:01.000Z",
            "type": "event_msg",
            "payload": {"type": "thread_name_updated", "thread_id": "x", "thread_name": "  Fix the\nbuild  "},
        },
        {
            "timestamp": "2026-11-30T08:00:02.000Z",
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "please deploy"}],
            },
        },
        {
            "timestamp": "2026-11-30T08:00:03.000Z",
            "type": "response_item",
            "payload": {"type": "function_call", "name": "exec_command", "arguments": "{not json", "call_id": "c1"},
        },
        {
            "timestamp": "2026-11-30T08:00:04.000Z",
            "type": "event_msg",
            "payload": {"type": "exec_approval_request", "call_id": "c1"},
        },
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n{broken\n[1, 2]\n")
    summarizer, messages = everything(path)
    s = summarizer.summary
    assert s.custom_title == "Fix the build"
    assert s.git_branch == "main"
    assert s.ending == "waiting"
    assert s.first_prompt == "please deploy"
    assert messages[-1].content[0].input == "{not json"  # type: ignore[union-attr]
    assert s.updated_at == "2026-11-30T08:00:04.000Z"


def test_an_empty_or_unfinished_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    summarizer, messages = everything(empty)
    assert summarizer.summary.ending == "empty" and messages == []
    partial = tmp_path / "partial.jsonl"
    partial.write_bytes(rollout("hello+resume").read_bytes()[:5000])
    summarizer, end = summarize_file(partial)
    assert end < 5000 and summarizer.summary.session_id is not None


def test_usage_is_the_difference_of_running_totals_with_cache_apart() -> None:
    def count(total: tuple[int, int, int, int], last: tuple[int, int, int, int]) -> dict[str, Any]:
        def usage(n: tuple[int, int, int, int]) -> dict[str, int]:
            keys = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens")
            return dict(zip(keys, n, strict=True))

        info = {"total_token_usage": usage(total), "last_token_usage": usage(last)}
        return {
            "timestamp": "2026-11-30T08:00:00.000Z",
            "type": "event_msg",
            "payload": {"type": "token_count", "info": info},
        }

    summarizer = CodexSummarizer()
    for offset, record in enumerate(
        [
            count((5000, 4000, 0, 10), (1000, 600, 0, 4)),  # a fork: the total includes the parent's
            count((5000, 4000, 0, 10), (1000, 600, 0, 4)),  # the same total again (a rate-limit update)
            {
                "timestamp": "2026-11-30T08:00:00.000Z",
                "type": "event_msg",
                "payload": {"type": "token_count", "info": None},
            },
            count((7000, 5500, 100, 30), (2000, 1500, 100, 20)),
        ]
    ):
        summarizer.add(record, offset)
    s = summarizer.summary
    # input excludes the cached part (as Claude's does): (1000-600) + (2000-1500)
    assert (s.input_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.output_tokens) == (900, 2100, 100, 24)
