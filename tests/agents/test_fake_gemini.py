"""The fake ``gemini`` on its own: flags and errors, the files, a stray after a resume, output
formats, signals, speed. What it shares with the real CLI is checked on both in
``test_gemini_cli.py`` and against each other in ``tests/real_agent/test_gemini_conformance.py``."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.gemini_fixtures import FAKE_GEMINI, GeminiAgent, init_of, make_gemini, result_of
from tests.agents.gemini_scenarios import session_chat, summarize

STREAM = ["-o", "stream-json"]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[GeminiAgent]:
    agent = make_gemini("fake", tmp_path / "fake")
    yield agent
    agent.close()


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "projA"
    folder.mkdir()
    return Path(os.path.realpath(folder))


def test_version_help_and_argument_errors(fake: GeminiAgent, cwd: Path) -> None:
    assert fake.run(["--version"], cwd).stdout == "0.61.0\n"
    assert fake.run(["-h"], cwd).stdout.startswith("Usage: gemini [options] [command]")
    unknown = fake.run(["--frobnicate"], cwd, "x")
    assert unknown.returncode == 1 and unknown.stderr.startswith("Unknown argument: frobnicate\nUsage: gemini")
    bad = fake.run(["-o", "yaml"], cwd, "x")
    assert bad.returncode == 1 and 'Given: "yaml", Choices: "text", "json", "stream-json"' in bad.stderr
    both = fake.run(["--resume", "a", "--session-id", "b"], cwd, "x")
    assert both.returncode == 1 and "--resume, --session-id, and --session-file are mutually exclusive" in both.stderr


def test_trust_auth_and_input_are_checked_like_the_real_cli(fake: GeminiAgent, cwd: Path) -> None:
    untrusted = fake.run(STREAM, cwd, "x", env={"GEMINI_CLI_TRUST_WORKSPACE": "false"})
    assert untrusted.returncode == 55 and "not running in a trusted directory" in untrusted.stderr
    assert fake.run([*STREAM, "--skip-trust"], cwd, "x", env={"GEMINI_CLI_TRUST_WORKSPACE": ""}).returncode == 0
    assert fake.run(STREAM, cwd, "x", env={"GEMINI_API_KEY": ""}).returncode == 41
    empty = fake.run(STREAM, cwd, "")
    assert empty.returncode == 42 and "No input provided via stdin" in empty.stderr
    assert fake.chats() != []  # only the --skip-trust run wrote a chat
    assert len(fake.chats()) == 1


def test_dash_p_is_appended_to_stdin(fake: GeminiAgent, cwd: Path) -> None:
    run = fake.run([*STREAM, "-p", "and this"], cwd, "from stdin")
    assert run.events[1] == {**run.events[1], "role": "user", "content": "from stdin\n\nand this"}


def test_the_files_it_keeps(fake: GeminiAgent, cwd: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "projA"
    other.mkdir(parents=True)
    session_id = str(uuid.uuid4())
    assert fake.run([*STREAM, "--session-id", session_id], cwd, "hello").returncode == 0
    assert fake.run(STREAM, other, "hello").returncode == 0
    gemini = fake.home / ".gemini"
    projects = json.loads((gemini / "projects.json").read_text())["projects"]
    assert projects == {str(cwd): "proja", str(other): "proja-1"}
    assert (gemini / "tmp" / "proja" / ".project_root").read_text() == str(cwd)
    assert (gemini / "history" / "proja-1" / ".project_root").read_text() == str(other)
    path, summary = session_chat(fake, session_id)
    assert path.parent == gemini / "tmp" / "proja" / "chats" and summary.cwd == str(cwd)


def test_a_resume_in_a_later_minute_leaves_a_stray_header_file(fake: GeminiAgent, cwd: Path) -> None:
    session_id = str(uuid.uuid4())
    assert fake.run([*STREAM, "--session-id", session_id], cwd, "hello").returncode == 0
    (original,) = fake.chats(session_id)
    earlier = original.with_name(f"session-2020-01-01T00-00-{session_id[:8]}.jsonl")
    original.rename(earlier)
    assert fake.run([*STREAM, "--resume", session_id], cwd, "again").returncode == 0
    stray = next(p for p in fake.chats(session_id) if p != earlier)
    assert summarize(stray).session_id == session_id and summarize(stray).message_count == 0
    assert session_chat(fake, session_id) == (earlier, summarize(earlier))
    assert summarize(earlier).message_count == 4


def test_output_formats_and_list_sessions(fake: GeminiAgent, cwd: Path) -> None:
    text = fake.run([], cwd, "hello")
    assert text.stdout == "stub reply #1 to: hello\n"
    as_json = json.loads(fake.run(["-o", "json"], cwd, "hi").stdout)
    assert as_json["response"] == "stub reply #1 to: hi" and as_json["session_id"]
    listing = fake.run(["--list-sessions"], cwd)
    assert "Available sessions for this project (2):" in listing.stdout
    assert f"[{as_json['session_id']}]" in listing.stdout


def test_a_hanging_turn_stops_on_sigterm_with_exit_0(fake: GeminiAgent, cwd: Path) -> None:
    process = fake.start(STREAM, cwd, "[[hang]]")
    process.wait_for_event(lambda e: e.get("type") == "message" and e.get("role") == "user")
    os.killpg(process.pid, signal.SIGTERM)
    run = process.finish(10)
    assert run.returncode == 0 and result_of(run) is None and init_of(run) is not None


def test_a_turn_is_fast_and_bin_gemini_runs_it(fake: GeminiAgent, cwd: Path) -> None:
    started = time.monotonic()
    run = fake.run(STREAM, cwd, "hello")
    assert run.returncode == 0 and time.monotonic() - started < 2
    shim = FAKE_GEMINI.parent / "bin" / "gemini"
    on_path = GeminiAgent("fake", "0.61.0", [str(shim)], fake.env, fake.extra_env, fake.home)
    assert on_path.run(["--version"], cwd).stdout == "0.61.0\n"
