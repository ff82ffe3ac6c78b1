"""Claude Code's project-folder encoding, with the cases measured on the real CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agents import fake_claude
from threadline.agents.claude.paths import ClaudePaths, encode_project_dir

# The server's encoder and the fake CLI's own one (the fake imports nothing of the server)
# must both give the real CLI's names.
ENCODERS = [
    pytest.param(encode_project_dir, id="server"),
    pytest.param(fake_claude.encode_project_dir, id="fake"),
]


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize(
    "path, expected",
    [
        pytest.param("/WORK/cwds/with.dots.v1.2", "-WORK-cwds-with-dots-v1-2", id="dots"),
        pytest.param("/WORK/cwds/with_under_scores", "-WORK-cwds-with-under-scores", id="underscores"),
        pytest.param("/WORK/cwds/with spaces here", "-WORK-cwds-with-spaces-here", id="spaces"),
        pytest.param("/WORK/cwds/MiXeD-Case~tilde+plus@at", "-WORK-cwds-MiXeD-Case-tilde-plus-at", id="case-kept"),
        pytest.param("/WORK/cwds/café", "-WORK-cwds-caf-", id="nfc"),
        pytest.param("/WORK/cwds/cafe\u0301", "-WORK-cwds-cafe-", id="nfd-not-normalized"),
        pytest.param("/WORK/cwds/\U0001f600", "-WORK-cwds---", id="emoji-is-two-utf16-units"),
    ],
)
def test_encoding_matches_the_cli(encode: Callable[[str], str], path: str, expected: str) -> None:
    assert encode(path) == expected


@pytest.mark.parametrize("encode", ENCODERS)
def test_long_paths_are_cut_and_hashed(encode: Callable[[str], str]) -> None:
    path = "/WORK/cwds/" + "z" * 250
    encoded = encode(path)
    assert len(encoded) == 207
    assert encoded.startswith(encode(path)[:200] + "-")
    assert encoded != encode(path + "y")
    assert encoded == encode_project_dir(path)  # the same hash as the server's


def test_java_hash_matches_a_known_value() -> None:
    # "hello" hashes to 99162322 in Java.
    from threadline.agents.claude.paths import _base36, _java_string_hash

    assert _java_string_hash("hello") == 99162322
    assert _base36(99162322) == "1n1e4y"  # int('1n1e4y', 36) == 99162322
    assert _java_string_hash("polygenelubricants") == -2147483648


def test_symlinked_project_is_stored_under_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    paths = ClaudePaths(tmp_path / "home")
    assert paths.project_dir(str(link)) == paths.project_dir(str(target))
    assert paths.project_dir(str(link)).name == encode_project_dir(os.path.realpath(target))


def test_live_registry_keeps_only_live_pids(tmp_path: Path) -> None:
    paths = ClaudePaths(tmp_path)
    paths.sessions.mkdir()
    (paths.sessions / f"{os.getpid()}.json").write_text(f'{{"pid": {os.getpid()}, "sessionId": "a"}}')
    (paths.sessions / "999999999.json").write_text('{"pid": 999999999, "sessionId": "b"}')
    (paths.sessions / "1.broken.json").write_text("{nope")
    assert paths.live_sessions() == {"a": os.getpid()}
