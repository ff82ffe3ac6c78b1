#!/usr/bin/env bash
# CI for the VS Code extension, from a fresh clone on a fresh machine (Debian/Ubuntu):
# system packages, npm ci, build, lint, unit tests, the VSIX, then the end-to-end tests in
# a real VS Code (code-server 4.100.3 + Chromium) against that packaged VSIX, the real
# Threadline server and the fake agents (claude, codex, gemini).
#
# Needs Node 20 and npm on PATH. Installs the apt packages it needs when they are missing.
# Environment: THREADLINE_SERVER (default <repo>/.venv/bin/threadline, made with
# scripts/setup.sh when missing), SKIP_E2E=1 to stop after the VSIX.
set -euo pipefail

ext="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(dirname "$ext")"
cd "$ext"
t0=$(date +%s)
step() { printf '\n== extension: %s (at %ss)\n' "$*" "$(($(date +%s) - t0))"; }

step "system packages"
packages=(chromium build-essential pkg-config libsecret-1-dev libkrb5-dev libx11-dev libxkbfile-dev ripgrep python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "all present"
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "Node 20 is required (found $(node --version))" >&2
    exit 1
fi
[ "$node_major" -eq 20 ] || echo "warning: code-server 4.100.3 is made for Node 20; found $(node --version)" >&2

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "build"
npm run --silent build

step "lint (tsc strict + eslint)"
npm run --silent lint

step "unit tests"
npm test --silent

step "package"
rm -f ./*.vsix
npm run --silent package
vsix="$(ls -1 ./*.vsix | head -1)"
echo "VSIX: $vsix ($(du -k "$vsix" | cut -f1) KiB)"

if [ "${SKIP_E2E:-0}" = 1 ]; then
    echo "SKIP_E2E=1: end-to-end tests skipped"
    exit 0
fi

step "e2e: install code-server"
bash e2e/install.sh

if [ -z "${THREADLINE_SERVER:-}" ] && [ ! -x "$repo/.venv/bin/threadline" ]; then
    step "e2e: the Threadline server (scripts/setup.sh)"
    bash "$repo/scripts/setup.sh"
fi

step "e2e: real VS Code against $vsix"
# Screenshots of a CI run go to the ignored cache; `npm run e2e` refreshes e2e/screenshots/.
export THREADLINE_E2E_SHOTS="${THREADLINE_E2E_SHOTS:-$ext/.cache/e2e/screenshots}"
if ! node e2e/run.mjs --vsix "$vsix"; then
    # A known flake under heavy load: the workbench reconnects its extension host and a
    # click lands before the commands are registered again. A real failure fails twice.
    echo "::warning:: the e2e run failed once; running it again to tell a flake from a failure"
    node e2e/run.mjs --vsix "$vsix"
fi

step "done"
