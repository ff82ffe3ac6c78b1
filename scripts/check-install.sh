#!/usr/bin/env bash
# Install Threadline as a user would, away from this checkout, and run it: a built wheel
# in a clean venv, and `pipx install .` (the README's route). Both must put `threadline`
# on PATH with no editable checkout; `threadline --version` and `threadline list --json`
# must work there. The wheel build must print no setuptools warning.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$repo/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
version="$("$py" -c 'import threadline; print(threadline.__version__)')"

echo "-- building the wheel"
"$py" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo" >"$work/build.log" 2>&1 || {
  cat "$work/build.log"
  exit 1
}
if grep -iE "warning|deprecat" "$work/build.log" | grep -v "^WARNING: Location" | grep -q .; then
  echo "the wheel build printed warnings:" >&2
  grep -iE "warning|deprecat" "$work/build.log" >&2
  exit 1
fi
wheel=("$work"/dist/threadline-*.whl)

check() {  # $1: the threadline executable; runs it in an empty folder with an empty agent home
  local exe="$1" project="$work/project" home="$work/claude-home"
  mkdir -p "$project" "$home"
  [ "$(cd "$project" && "$exe" --version)" = "threadline $version" ]
  (cd "$project" && CLAUDE_CONFIG_DIR="$home" "$exe" list --json) >"$work/list.json"
  "$py" -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["sessions"] == [], r' "$work/list.json"
  # The package comes from the install, not from this checkout.
  local where
  where="$("$(dirname "$exe")/python" -c 'import threadline; print(threadline.__file__)' 2>/dev/null || true)"
  case "$where" in "$repo"/*) echo "threadline was imported from the checkout: $where" >&2; exit 1 ;; esac
  echo "ok: $exe ($version)"
}

echo "-- the wheel in a clean venv"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "${wheel[0]}" 2>"$work/pip.log" || { cat "$work/pip.log"; exit 1; }
check "$work/venv/bin/threadline"

echo "-- pipx install ."
PIPX_HOME="$work/pipx" PIPX_BIN_DIR="$work/bin" "$py" -m pipx install --quiet "$repo" >"$work/pipx.log" 2>&1 || {
  cat "$work/pipx.log"
  exit 1
}
[ -x "$work/bin/threadline" ]
PATH="$work/bin:$PATH" check "$(PATH="$work/bin:$PATH" command -v threadline)"
