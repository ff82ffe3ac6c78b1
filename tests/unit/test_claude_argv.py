"""The Claude adapter's argv for a turn's permission mode, tool rules and model."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.agents.base import AgentCommand, TurnRequest
from threadline.agents.claude.adapter import PERMISSION_MODES, ClaudeAdapter
from threadline.errors import InvalidParams

SID = "5f1c8a9e-3b1d-4c6e-9a57-1f2e3d4c5b6a"


def adapter() -> ClaudeAdapter:
    return ClaudeAdapter(Path("/nonexistent/claude-home"), AgentCommand(["claude"]))


@pytest.mark.parametrize(
    ("options", "tail"),
    [
        pytest.param({}, [], id="nothing"),
        pytest.param({"permission_mode": "acceptEdits"}, ["--permission-mode", "acceptEdits"], id="mode"),
        pytest.param({"permission_mode": "manual"}, ["--permission-mode", "default"], id="manual-is-default"),
        pytest.param(
            {"allowed_tools": ["Bash(touch:*)", "Edit(src/**)"]},
            ["--allowedTools", "Bash(touch:*)", "Edit(src/**)"],
            id="one-argument-per-rule",
        ),
        pytest.param({"model": "sonnet"}, ["--model", "sonnet"], id="model"),
    ],
)
def test_turn_options_become_flags_after_the_fixed_ones(options: dict, tail: list[str]) -> None:
    argv = adapter().argv(TurnRequest(SID, "/p", "go ahead", resume=True, **options))
    assert argv[:8] == [
        "claude",
        "-p",
        "--resume",
        SID,
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
    ]
    assert argv[8:] == tail
    assert "go ahead" not in argv  # the prompt goes to stdin


def test_a_mode_claude_does_not_take_is_refused_naming_the_choices() -> None:
    with pytest.raises(InvalidParams) as refused:
        adapter().check_turn(TurnRequest(SID, "/p", "x", permission_mode="yolo"))
    assert refused.value.data == {"field": "permissionMode"}
    assert all(mode in refused.value.message for mode in PERMISSION_MODES)
    for mode in PERMISSION_MODES:
        adapter().check_turn(TurnRequest(SID, "/p", "x", permission_mode=mode))
