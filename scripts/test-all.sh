#!/usr/bin/env bash
# The whole test suite, from a fresh clone: lint, types, the fast tier (unit + end-to-end
# over stdio with the fake agent), the real Claude Code CLI (two pinned versions, offline
# against a loopback Messages-API stub), the real Codex CLI (two pinned versions, offline
# against a loopback Responses-API stub), the real Gemini CLI (offline against a loopback
# Gemini-API stub), and the VS Code extension (unit + a real VS Code).
# Set SKIP_REAL_AGENT=1 or SKIP_EXTENSION=1 to leave a tier out locally. The summary at the
# end names every tier left out and every test skipped; in CI (CI=true) any of them fails
# the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
failed=()
skipped_tiers=()
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT

step() { echo; echo "== $*"; }
tests() {  # $1: a name for the report; the rest: pytest arguments
  local name="$1"
  shift
  $py -m pytest -q -rs --junitxml="$reports/$name.xml" "$@"
}

step "lint and types"
.venv/bin/ruff check server tests benchmarks || failed+=("ruff")
.venv/bin/ruff format --check server tests benchmarks || failed+=("ruff format")
.venv/bin/mypy || failed+=("mypy")

step "fast tier: unit and end-to-end tests with the fake agent"
tests fast || failed+=("pytest")

if [ "${SKIP_REAL_AGENT:-0}" != 1 ]; then
  step "installing the pinned Claude Code CLIs (npm, into .cache/claude/)"
  $py -c 'from tests.agents.fixtures import real_claude_binary as r; [print(r(v)) for v in ("2.1.197", "2.1.329")]' \
    || failed+=("claude install")
  for version in 2.1.197 2.1.329; do
    step "real Claude Code CLI $version"
    THREADLINE_CLAUDE_VERSION=$version tests "real-$version" -m "real_agent and not codex and not gemini" || failed+=("real_agent $version")
  done

  step "installing the pinned Codex CLIs (npm, into .cache/codex/)"
  $py -c 'from tests.agents.codex_fixtures import real_codex_binary as r; [print(r(v)) for v in ("0.171.0", "0.169.0")]' \
    || failed+=("codex install")
  for version in 0.171.0 0.169.0; do
    step "real Codex CLI $version"
    THREADLINE_REQUIRE_AGENTS=1 THREADLINE_CODEX_VERSION=$version tests "codex-$version" -m "real_agent and codex" \
      || failed+=("real codex $version")
  done

  step "installing the pinned Gemini CLI (npm, into .cache/gemini/)"
  $py -c 'from tests.agents.gemini_fixtures import real_gemini_binary as r; print(r("0.61.0"))' \
    || failed+=("gemini install")
  step "real Gemini CLI 0.61.0"
  THREADLINE_REQUIRE_AGENTS=1 THREADLINE_GEMINI_VERSION=0.61.0 tests "gemini-0.61.0" -m "real_agent and gemini" \
    || failed+=("real_agent gemini 0.61.0")
else
  skipped_tiers+=("real agent CLIs (SKIP_REAL_AGENT=1)")
fi

if [ "${SKIP_EXTENSION:-0}" != 1 ]; then
  step "VS Code extension"
  bash extension/scripts/ci.sh || failed+=("extension")
else
  skipped_tiers+=("VS Code extension (SKIP_EXTENSION=1)")
fi

step "install as a user would: a built wheel in a clean venv, and pipx install ."
bash scripts/check-install.sh || failed+=("install")

step "benchmarks (a short run, to keep them working)"
$py benchmarks/run.py --quick || failed+=("benchmarks")
$py benchmarks/scale.py --quick || failed+=("scale benchmark")

step "summary"
# Every skipped test, from the pytest reports: "<test id>: <reason>".
mapfile -t skipped_tests < <($py - "$reports" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

for report in sorted(Path(sys.argv[1]).glob("*.xml")):
    for case in ET.parse(report).iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            print(f"{report.stem}: {name}: {skipped.get('message', '').strip()}")
PY
)
for tier in "${skipped_tiers[@]}"; do echo "skipped tier: $tier"; done
for test in "${skipped_tests[@]}"; do echo "skipped test: $test"; done
left_out=$((${#skipped_tiers[@]} + ${#skipped_tests[@]}))
if [ "$left_out" -gt 0 ] && [ "${CI:-}" = true ]; then
  failed+=("$left_out skipped in CI")
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
if [ "$left_out" -gt 0 ]; then
  echo "passed, but $left_out tier(s) or test(s) were skipped (listed above)"
else
  echo "all tiers passed, nothing skipped"
fi
