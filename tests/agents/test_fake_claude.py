"""The fake ``claude`` on its own (fast tier): markers, signals, concurrency, speed.

What the fake must share with the real CLI is checked against the real one in
``tests/real_agent/test_fake_conformance.py``; these tests pin the fake-only parts and
the properties the fast suite relies on. Its folder encoding is tested beside the server's,
in ``tests/unit/test_claude_paths.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.fixtures import FAKE_BIN_DIR, Agent, make_agent
from tests.agents.transcripts import check_chain, conversation_shape, read_records, type_sequence, user_prompts

STREAM = ["-p", "--output-format", "stream-json", "--verbose"]
SID = "0a0a0a0a-1111-4222-8333-444455556666"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Agent]:
    agent = make_agent("fake", tmp_path / "fake")
    yield agent
    agent.close()


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return Path(os.path.realpath(folder))


def test_one_turn_is_fast_and_complete(fake: Agent, cwd: Path) -> None:
    started = time.monotonic()
    run = fake.run([*STREAM, "--session-id", SID], cwd, "hello there")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert elapsed < 1.0  # typically about 0.05 s
    assert [e["type"] for e in run.events] == ["system", "assistant", "result"]
    assert run.init is not None and run.init["session_id"] == SID
    assert run.result is not None and run.result["result"] == "stub reply #1 to: hello there"
    path = fake.transcript(cwd, SID)
    records = read_records(path)
    check_chain(records)
    assert conversation_shape(records) == [("user", ("text",)), ("assistant", ("text",))]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert fake.registry() == {}


def test_wrapper_on_path_runs_the_fake_with_the_same_pid(fake: Agent, cwd: Path) -> None:
    env = dict(fake.env, PATH=f"{FAKE_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
    out = subprocess.run(["claude", "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert out.stdout == "2.1.197 (Claude Code)\n"
    process = subprocess.Popen(
        ["claude", *STREAM, "--session-id", SID],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, _ = process.communicate(b"slow [[slow:0.5]]", timeout=30)
    assert process.returncode == 0
    assert b'"session_id":"' + SID.encode() in stdout
    assert fake.registry() == {}  # removed on a clean exit


def test_registry_lives_while_the_turn_runs(fake: Agent, cwd: Path) -> None:
    process = fake.start([*STREAM, "--include-partial-messages", "--session-id", SID], cwd, "slow [[slow:5]]")
    process.wait_for_event(lambda e: e.get("subtype") == "init")
    entry = fake.registry()[process.pid]  # written before system/init
    assert entry["sessionId"] == SID and entry["cwd"] == str(cwd) and entry["kind"] == "interactive"
    process.wait_for_event(lambda e: e.get("event", {}).get("type") == "content_block_delta")
    assert fake.transcript(cwd, SID).exists()  # the pre-request batch is written before the reply streams
    process.signal(signal.SIGINT)
    run = process.finish()
    assert run.returncode == 0
    assert run.result is not None and run.result["subtype"] == "error_during_execution"
    assert fake.registry() == {}
    assert type_sequence(read_records(fake.transcript(cwd, SID)))[-1] == "last-prompt"


def test_sigkill_leaves_the_registry_entry(fake: Agent, cwd: Path) -> None:
    process = fake.start([*STREAM, "--session-id", SID], cwd, "never ends [[hang]]")
    process.wait_for_event(lambda e: e.get("subtype") == "init")
    process.signal(signal.SIGKILL)
    assert process.finish().returncode == -signal.SIGKILL
    assert list(fake.registry()) == [process.pid]


def test_sigterm_exits_143(fake: Agent, cwd: Path) -> None:
    process = fake.start([*STREAM, "--session-id", SID], cwd, "never ends [[hang]]")
    process.wait_for_event(lambda e: e.get("subtype") == "init")
    process.signal(signal.SIGTERM)
    run = process.finish()
    assert run.returncode == 143 and run.result is None
    assert fake.registry() == {}


def test_crash_marker_exits_2_after_the_pre_request_batch(fake: Agent, cwd: Path) -> None:
    run = fake.run([*STREAM, "--session-id", SID], cwd, "boom [[crash]]")
    assert run.returncode == 2 and run.result is None
    assert type_sequence(read_records(fake.transcript(cwd, SID)))[-1] == "attachment:skill_listing"
    assert len(fake.registry()) == 1  # a crash skips the clean-up, like a kill


def test_die_before_request_leaves_no_transcript(fake: Agent, cwd: Path) -> None:
    run = fake.run([*STREAM, "--session-id", SID], cwd, "bye [[die-before-request]]")
    assert run.returncode == 1 and run.init is not None and run.result is None
    assert not fake.transcript(cwd, SID).exists()


def test_start_up_delay(fake: Agent, cwd: Path) -> None:
    started = time.monotonic()
    run = fake.run(["-p", "--output-format", "json"], cwd, "hi", env={"FAKE_CLAUDE_DELAY_MS": "300"})
    assert run.returncode == 0 and time.monotonic() - started >= 0.3


def test_ten_fakes_at_once_write_ten_good_files(fake: Agent, cwd: Path) -> None:
    ids = [f"{i:08x}-1111-4222-8333-444455556666" for i in range(10)]
    processes = [fake.start([*STREAM, "--session-id", sid], cwd, f"prompt {sid}") for sid in ids]
    runs = [p.finish() for p in processes]
    assert [r.returncode for r in runs] == [0] * 10
    names = sorted(p.name for p in fake.project_dir(cwd).glob("*.jsonl"))
    assert names == sorted(f"{sid}.jsonl" for sid in ids)
    for sid in ids:
        records = read_records(fake.transcript(cwd, sid))
        check_chain(records)
        assert {r["sessionId"] for r in records} == {sid}
        assert user_prompts(records) == [f"prompt {sid}"]


def test_same_session_id_twice_both_append(fake: Agent, cwd: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env = {"FAKE_CLAUDE_GATE": str(gate)}  # both pass the in-use check before either writes
    first = fake.start(["-p", "--session-id", SID, "--output-format", "json"], cwd, "one", env)
    second = fake.start(["-p", "--session-id", SID, "--output-format", "json"], cwd, "two", env)
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("gate.*"))) < 2:
        assert time.monotonic() < deadline, "the two runs never both passed their checks"
        time.sleep(0.01)
    gate.touch()
    assert [first.finish().returncode, second.finish().returncode] == [0, 0]
    records = read_records(fake.transcript(cwd, SID))
    assert sorted(user_prompts(records)) == ["one", "two"]
    assert len([r for r in records if r.get("type") == "user" and r["parentUuid"] is None]) == 2


def test_resume_counts_replies_and_reads_the_chain(fake: Agent, cwd: Path) -> None:
    fake.run(["-p", "--session-id", SID], cwd, "first")
    run = fake.run(["-p", "--resume", SID, "--output-format", "json"], cwd, "second")
    assert run.result is not None and run.result["result"] == "stub reply #2 to: second"
    records = read_records(fake.transcript(cwd, SID))
    check_chain(records)
    assert user_prompts(records) == ["first", "second"]
    assert type_sequence(records)[-1] == "mode"


def test_stream_json_input_runs_one_turn_per_line(fake: Agent, cwd: Path) -> None:
    lines = "".join(
        json.dumps({"type": "user", "message": {"role": "user", "content": t}}) + "\n" for t in ("one", "two")
    )
    run = fake.run([*STREAM, "--input-format", "stream-json", "--session-id", SID], cwd, lines)
    assert run.returncode == 0
    assert [e["type"] for e in run.events].count("result") == 2
    assert user_prompts(read_records(fake.transcript(cwd, SID))) == ["one", "two"]


def test_version_profile_2_1_329(tmp_path: Path, cwd: Path) -> None:
    agent = make_agent("fake-2.1.329", tmp_path / "fake329")
    try:
        first = agent.run([*STREAM, "--session-id", SID], cwd, "hello")
        other = tmp_path / "elsewhere"
        other.mkdir()
        resumed = agent.run(["-p", "--resume", SID, "--output-format", "json"], other, "from elsewhere")
        assert resumed.returncode == 0, resumed.stderr
        assert first.result is not None and resumed.result is not None
        assert resumed.result["total_cost_usd"] > first.result["total_cost_usd"]  # cumulative on 2.1.3xx
        types = type_sequence(read_records(agent.transcript(cwd, SID)))
        assert "cost-state" in types and "api-request" in types
    finally:
        agent.close()


def test_stdin_that_never_closes_is_given_up_after_3_seconds(fake: Agent, cwd: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(fake.argv[-1]), "-p", "positional prompt"],
        cwd=cwd,
        env=fake.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.wait(timeout=20)  # stdin stays open and silent
    finally:
        if process.stdin:
            process.stdin.close()
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout.read(), process.stderr.read()
    assert b"no stdin data received in 3s" in stderr
    assert stdout.startswith(b"stub reply #1 to: positional prompt")
