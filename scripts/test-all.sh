#!/usr/bin/env bash
# The whole test suite, from a fresh clone: lint, types, the fast tier (unit + end-to-end
# over stdio with the fake agent), the real Claude Code CLI (two pinned versions, offline
# against a loopback Messages-API stub), the real Gemini CLI (offline against a loopback
# Gemini-API stub), and the VS Code extension (unit + a real VS Code).
# Set SKIP_REAL_AGENT=1 or SKIP_EXTENSION=1 to leave a tier out locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
failed=()

step() { echo; echo "== $*"; }

step "lint and types"
.venv/bin/ruff check server tests benchmarks || failed+=("ruff")
.venv/bin/ruff format --check server tests benchmarks || failed+=("ruff format")
.venv/bin/mypy || failed+=("mypy")

step "fast tier: unit and end-to-end tests with the fake agent"
$py -m pytest -q || failed+=("pytest")

if [ "${SKIP_REAL_AGENT:-0}" != 1 ]; then
  step "installing the pinned Claude Code CLIs (npm, into .cache/claude/)"
  $py -c 'from tests.agents.fixtures import real_claude_binary as r; [print(r(v)) for v in ("2.1.197", "2.1.329")]' \
    || failed+=("claude install")
  for version in 2.1.197 2.1.329; do
    step "real Claude Code CLI $version"
    THREADLINE_CLAUDE_VERSION=$version $py -m pytest -q -m "real_agent and not gemini" || failed+=("real_agent $version")
  done
  step "installing the pinned Gemini CLI (npm, into .cache/gemini/)"
  $py -c 'from tests.agents.gemini_fixtures import real_gemini_binary as r; print(r("0.61.0"))' \
    || failed+=("gemini install")
  step "real Gemini CLI 0.61.0"
  THREADLINE_REQUIRE_AGENTS=1 THREADLINE_GEMINI_VERSION=0.61.0 $py -m pytest -q -m "real_agent and gemini" \
    || failed+=("real_agent gemini 0.61.0")
fi

if [ "${SKIP_EXTENSION:-0}" != 1 ]; then
  step "VS Code extension"
  bash extension/scripts/ci.sh || failed+=("extension")
fi

step "benchmarks (a short run, to keep them working)"
$py benchmarks/run.py --quick || failed+=("benchmarks")

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tiers passed"
