#!/usr/bin/env bash
# Installs what the end-to-end tests drive: code-server 4.100.3 (= VS Code 1.100.3, the last
# release that runs on Node 20) from npm, into an ignored cache folder. Idempotent: a second
# run with the right version in place does nothing.
#
# Needs (see scripts/ci.sh, which installs them with apt): node 20, npm, a C/C++ toolchain,
# python3, pkg-config, libsecret-1-dev, libkrb5-dev, libx11-dev, libxkbfile-dev, ripgrep,
# and chromium (used by the runner, checked here so that a missing browser fails early).
#
# Environment: THREADLINE_E2E_CACHE (default: <extension>/.cache/e2e).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ext="$(dirname "$here")"
cache="${THREADLINE_E2E_CACHE:-$ext/.cache/e2e}"
version="4.100.3"
dir="$cache/code-server"

installed_version() {
    node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch { }' \
        "$dir/node_modules/code-server/package.json"
}

if [[ -x "$dir/node_modules/.bin/code-server" && "$(installed_version)" == "$version" ]]; then
    echo "e2e/install: code-server $version already installed in $dir"
    exit 0
fi

missing=()
for tool in node npm cc c++ make python3 pkg-config rg; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=("chromium")
for pc in libsecret-1 krb5-gssapi x11 xkbfile; do
    pkg-config --exists "$pc" 2>/dev/null || missing+=("pkg-config:$pc")
done
if ((${#missing[@]})); then
    echo "e2e/install: missing: ${missing[*]}" >&2
    echo "e2e/install: run extension/scripts/ci.sh, or apt-get install chromium build-essential python3 pkg-config libsecret-1-dev libkrb5-dev libx11-dev libxkbfile-dev ripgrep" >&2
    exit 1
fi

# @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache already holds the
# archive: seed the cache with the system's rg.
case "$(uname -m)" in
    x86_64) rg_target="x86_64-unknown-linux-musl" ;;
    aarch64 | arm64) rg_target="aarch64-unknown-linux-musl" ;;
    *) echo "e2e/install: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
rg_cache="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
rg_archive="$rg_cache/ripgrep-v13.0.0-10-$rg_target.tar.gz"
if [[ ! -s "$rg_archive" ]]; then
    mkdir -p "$rg_cache"
    tmp="$(mktemp -d)"
    cp "$(command -v rg)" "$tmp/rg"
    tar czf "$rg_archive" -C "$tmp" rg
    rm -rf "$tmp"
fi

# node-gyp compiles the native addons against Node's headers: use the installed ones (it
# would download them otherwise).
if [[ -z "${npm_config_nodedir:-}" && "$(npm config get nodedir 2>/dev/null)" =~ ^(|undefined|null)$ ]]; then
    prefix="$(dirname "$(dirname "$(command -v node)")")"
    if [[ -f "$prefix/include/node/node.h" ]]; then
        export npm_config_nodedir="$prefix"
    fi
fi

rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
printf '{\n  "name": "threadline-e2e-code-server",\n  "private": true\n}\n' >package.json
started=$(date +%s)
# build_from_source: argon2/kerberos would fetch prebuilt binaries from GitHub otherwise.
# yes: node-pty's postinstall runs `npx node-gyp`. unsafe-perm: postinstall scripts as root.
npm_config_build_from_source=true npm_config_yes=true npm_config_fund=false npm_config_audit=false \
    npm install --no-save --unsafe-perm --foreground-scripts --loglevel=error "code-server@$version" \
    >"$cache/install.log" 2>&1 || {
    tail -40 "$cache/install.log" >&2
    echo "e2e/install: npm install code-server@$version failed (full log: $cache/install.log)" >&2
    exit 1
}
echo "e2e/install: code-server $(installed_version) installed in $(($(date +%s) - started)) s"
