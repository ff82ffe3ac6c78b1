"""The Gemini chat reader on real chats of Gemini CLI 0.61.0 (tests/data/gemini/0.61.0, from
the research samples: long strings there are cut at 400 characters, paths are ``<WORK>``)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from threadline.agents.gemini.chat import ChatSummarizer, Summary, is_stray, iter_records, read_messages
from threadline.agents.gemini.paths import project_hash

DATA = Path(__file__).resolve().parent.parent / "data" / "gemini" / "0.61.0"


def chat(name: str) -> Path:
    return DATA / f"gemini-chat.{name}.jsonl"


def summarize(path: Path) -> Summary:
    summarizer = ChatSummarizer(path)
    for record, offset in iter_records(path.read_bytes()):
        summarizer.add(record, offset)
    return summarizer.summary


def texts(path: Path) -> list[tuple[str, str]]:
    out = []
    for message in read_messages(path, (), None, 0, 1000):
        for block in message.content:
            text = getattr(block, "text", None) or getattr(block, "name", "")
            out.append((message.role, f"{block.type}:{text}"))
    return out


def test_hello_then_resume_is_one_conversation_with_both_turns_and_their_tokens() -> None:
    path = chat("hello+resume")
    summary = summarize(path)
    assert summary.session_id == "021f0f91-3723-4b80-a78b-98a76aecaadd"
    assert (summary.first_prompt, summary.message_count, summary.ending) == ("hello", 4, "reply")
    assert summary.created_at == "2026-11-30T08:41:17.724Z"  # the first header, not the resume's
    assert summary.updated_at == "2026-11-30T08:41:24.013Z"
    assert summary.model == "gemini-3.8-flash"
    # the resume rewrote the first reply without tokens: they are kept from its first line
    assert (summary.input_tokens, summary.output_tokens, summary.cache_read_tokens) == (139 + 168, 4 + 6, 0)
    assert texts(path) == [
        ("user", "text:hello"),
        ("assistant", "text:stub reply 2: hello"),  # a list of parts after the rewrite
        ("user", "text:second turn"),
        ("assistant", "text:stub reply 4: second turn"),
    ]
    usages = [m.usage for m in read_messages(path, (), None, 0, 10)]
    assert usages[1] is not None and usages[1].input_tokens == 139


def test_the_stray_header_file_of_a_resume_is_not_a_session() -> None:
    stray = summarize(chat("killed-mid-stream+resume.stray-1"))
    real = summarize(chat("killed-mid-stream+resume"))
    assert stray.session_id == real.session_id == "4d30d939-5865-4acb-b58d-50d3f9438c7f"
    assert is_stray(stray) and not is_stray(real)
    assert (stray.message_count, stray.first_prompt, stray.ending) == (0, None, "empty")
    assert read_messages(chat("killed-mid-stream+resume.stray-1"), (), None, 0, 10) == []


def test_killed_mid_stream_then_resumed_keeps_the_dangling_prompt() -> None:
    path = chat("killed-mid-stream+resume")
    assert texts(path) == [
        ("user", "text:hello"),
        ("user", "text:continue"),
        ("assistant", "text:stub reply 2: continue"),
    ]


def test_killed_mid_tool_before_the_resume_ends_in_a_tool() -> None:
    lines = chat("killed-mid-tool+resume").read_bytes().splitlines(keepends=True)
    before = b"".join(lines[:6])  # up to the empty gemini message of the killed shell call
    summarizer = ChatSummarizer()
    for record, offset in iter_records(before):
        summarizer.add(record, offset)
    assert (summarizer.summary.ending, summarizer.summary.message_count) == ("tool", 2)
    after = summarize(chat("killed-mid-tool+resume"))
    assert after.ending == "reply" and after.message_count == 3  # the resume dropped the empty reply


def test_sigint_mid_stream_ends_in_the_prompt() -> None:
    lines = chat("sigint-mid-stream+resume").read_bytes().splitlines(keepends=True)
    summarizer = ChatSummarizer()
    for record, offset in iter_records(b"".join(lines[:4])):
        summarizer.add(record, offset)
    assert (summarizer.summary.ending, summarizer.summary.first_prompt) == ("prompt", "hello")


def test_a_tool_turn_pairs_the_call_and_its_result_and_takes_the_summary_title() -> None:
    path = chat("tool")
    summary = summarize(path)
    assert summary.session_id == "sample-tool-session"
    assert summary.custom_title == "stub summary"
    assert summary.message_count == 4 and summary.ending == "reply"
    messages = read_messages(path, (), None, 0, 10)
    use, result = messages[1].content[0], messages[2].content[0]
    assert use.type == "tool_use" and use.name == "list_directory" and use.input == {"dir_path": "."}
    assert result.type == "tool_result" and result.tool_use_id == use.id
    assert result.text == "Directory <WORK>/proj is empty." and not result.is_error
    # the upsert of the reply (first without, then with toolCalls) is one Message
    assert [m.id for m in messages].count("c14a7564-7768-464d-90aa-340054a3246f") == 1


def test_two_writers_interleaved_in_one_file_are_all_kept_in_file_order() -> None:
    path = chat("second-writer-while-live")
    assert [t for _, t in texts(path)] == [
        "text:first (slow)",
        "text:second while live",
        "text:stub reply 2: first (slow)",
        "text:stub reply 4: second while live",
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("gemini-chat.*.jsonl")))
def test_incremental_in_any_split_and_through_state_equals_one_pass(name: str) -> None:
    path = DATA / name
    whole = summarize(path)
    records = iter_records(path.read_bytes())
    for cut in range(len(records) + 1):
        first = ChatSummarizer(path)
        for record, offset in records[:cut]:
            first.add(record, offset)
        state = json.loads(json.dumps(first.state()))
        second = ChatSummarizer(path, state)
        for record, offset in records[cut:]:
            second.add(record, offset)
        assert second.summary == whole, f"cut at record {cut}"
        assert second.offsets == ChatSummarizer(path, json.loads(json.dumps(second.state()))).offsets


def test_take_touched_and_search_text() -> None:
    path = chat("tool")
    records = iter_records(path.read_bytes())
    summarizer = ChatSummarizer(path)
    touched, found = [], []
    for record, offset in records:
        summarizer.add(record, offset)
        touched.append(summarizer.take_touched())
        found.extend(summarizer.take_search_text())
    assert summarizer.take_touched() is None and summarizer.take_search_text() == []
    assert [t for t in touched if t is not None] == [0, 1, 1, 2, 3]
    assert "Directory <WORK>/proj is empty." in found and '{"dir_path":"."}' in found
    assert not any("<session_context>" in t for t in found)


def write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def context(project: str) -> dict[str, object]:
    text = f"<session_context>\nblah\n- **Workspace Directories:**\n  - {project}\n- **Directory Structure:**\n"
    return {"id": "ctx", "type": "user", "content": [{"text": text}]}


def header(sid: str = "s-1", project: str = "/p") -> dict[str, object]:
    return {"sessionId": sid, "projectHash": project_hash(project), "startTime": "2026-01-01T00:00:00.000Z"}


def test_the_project_comes_from_the_session_context_not_the_folder_name(tmp_path: Path) -> None:
    folder = tmp_path / "tmp" / "proj-1" / "chats"
    folder.mkdir(parents=True)
    (folder.parent / ".project_root").write_text("/elsewhere")
    path = write(
        folder / "session-2026-01-01T00-00-s-1.jsonl",
        [header(project="/home/dev/My Proj"), {"$set": {"messages": [context("/home/dev/My Proj")]}}],
    )
    assert summarize(path).cwd == "/home/dev/My Proj"


def test_the_project_marker_is_used_only_when_its_hash_matches(tmp_path: Path) -> None:
    folder = tmp_path / "tmp" / "proj" / "chats"
    folder.mkdir(parents=True)
    (folder.parent / ".project_root").write_text("/home/dev/proj\n")
    good = write(folder / "session-2026-01-01T00-00-aaaaaaaa.jsonl", [header(project="/home/dev/proj")])
    bad = write(folder / "session-2026-01-01T00-00-bbbbbbbb.jsonl", [header(project="/other/proj")])
    assert summarize(good).cwd == "/home/dev/proj"
    assert summarize(bad).cwd is None


def test_a_failed_turn_whose_prompt_gemini_dropped_ends_in_an_api_error(tmp_path: Path) -> None:
    prompt = {"id": "u1", "type": "user", "content": [{"text": "[[http500]]"}], "timestamp": "2026-01-01T00:00:01Z"}
    path = write(
        tmp_path / "c.jsonl",
        [header(), {"$set": {"messages": [context("/p")]}}, prompt, {"$set": {"messages": [context("/p")]}}],
    )
    summary = summarize(path)
    assert (summary.ending, summary.first_prompt, summary.message_count) == ("api_error", "[[http500]]", 0)
    assert summary.ending_error and not is_stray(summary)


def test_rewind_drops_the_message_and_everything_after(tmp_path: Path) -> None:
    records: list[dict[str, object]] = [header()]
    for n in range(3):
        records.append({"id": f"u{n}", "type": "user", "content": [{"text": f"p{n}"}]})
        records.append({"id": f"g{n}", "type": "gemini", "content": f"r{n}", "tokens": {"input": 10, "output": 1}})
    records.append({"$rewindTo": "u1"})
    path = write(tmp_path / "c.jsonl", records)
    summary = summarize(path)
    assert (summary.message_count, summary.input_tokens, summary.output_tokens) == (2, 10, 1)
    assert [t for _, t in texts(path)] == ["text:p0", "text:r0"]


def test_thoughts_errors_notes_and_a_denied_tool(tmp_path: Path) -> None:
    denied = {"id": "t", "name": "run_shell_command", "args": {"command": "rm x"}, "status": "error"}
    path = write(
        tmp_path / "c.jsonl",
        [
            header(),
            {"id": "u", "type": "user", "content": [{"text": "go"}]},
            {"id": "n", "type": "user", "content": [{"text": "System: Potential loop detected."}]},
            {"id": "i", "type": "info", "content": "note"},
            {
                "id": "g",
                "type": "gemini",
                "content": "",
                "thoughts": [{"subject": "Plan", "description": "think"}],
                "toolCalls": [denied],
            },
        ],
    )
    messages = read_messages(path, (), None, 0, 10)
    assert [(m.role, m.is_meta) for m in messages] == [
        ("user", False),
        ("user", True),
        ("system", False),
        ("assistant", False),
    ]
    assert [b.type for b in messages[3].content] == ["thinking", "tool_use"]
    assert summarize(path).ending == "waiting"
    error = write(tmp_path / "e.jsonl", [header(), {"id": "e", "type": "error", "content": "quota exceeded"}])
    assert (summarize(error).ending, summarize(error).ending_error) == ("api_error", "quota exceeded")


def test_a_torn_or_corrupt_line_is_skipped_and_end_cuts_at_a_whole_line(tmp_path: Path) -> None:
    good = orjson.dumps({"id": "u", "type": "user", "content": [{"text": "hi"}]}) + b"\n"
    path = tmp_path / "c.jsonl"
    path.write_bytes(orjson.dumps(header()) + b"\nnot json\n" + good + b'{"id": "torn')
    assert [t for _, t in texts(path)] == ["text:hi"]
    assert read_messages(path, (), len(path.read_bytes()) - 3, 0, 10)[0].id == "u"
    assert read_messages(path, (), 10, 0, 10) == []


def test_a_long_chat_folds_in_linear_time(tmp_path: Path) -> None:
    """4,000 messages (6,000 records, 2 MB) fold in one linear pass."""
    import time

    records: list[dict[str, object]] = [header()]
    for n in range(2000):
        records.append({"id": f"u{n}", "type": "user", "content": [{"text": f"prompt {n} " * 20}]})
        records.append({"$set": {"lastUpdated": f"2026-01-01T00:00:{n % 60:02d}Z"}})
        records.append({"id": f"g{n}", "type": "gemini", "content": f"reply {n} " * 50, "tokens": {"input": 3}})
    path = write(tmp_path / "long.jsonl", records)
    started = time.perf_counter()
    summarizer = ChatSummarizer(path)
    for record, offset in iter_records(path.read_bytes()):
        summarizer.add(record, offset)
    assert summarizer.summary.message_count == 4000 and summarizer.summary.input_tokens == 6000
    assert time.perf_counter() - started < 3  # about 0.2 s; quadratic was 6 s
