"""A pinned version of a real agent CLI, installed with npm into ``<repo>/.cache/<agent>/``.

The Claude, Codex and Gemini fixtures each install their CLI the same way (idempotent, under a
file lock so parallel pytest processes install it once, checked by its ``--version``); this is
that one way. They differ only in the package, where the binary lands and how its version
reads.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CACHE_ROOT = REPO_ROOT / ".cache"
INSTALLED_MARKER = ".threadline-installed"


class RealAgentUnavailable(RuntimeError):
    """The real CLI cannot be provided here (no npm, no network, failed install)."""


def versions_from_env(variable: str, default: str) -> list[str]:
    """The versions to test, from ``variable`` (comma separated), else ``default``."""
    raw = os.environ.get(variable) or default
    return [v.strip() for v in raw.split(",") if v.strip()]


def version_output(binary: Path, timeout: float = 60) -> str | None:
    """What ``binary --version`` prints (stripped), or None when it does not run or fails."""
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def npm_binary(name: str) -> Callable[[Path], Path | None]:
    """Where npm links the ``name`` command of a package installed under a prefix."""

    def find(prefix: Path) -> Path | None:
        binary = prefix / "node_modules" / ".bin" / name
        return binary if binary.exists() else None

    return find


def npm_installed(
    *,
    package: str,
    version: str,
    cache_dir: Path,
    find_binary: Callable[[Path], Path | None],
    version_of: Callable[[Path], str | None],
    command: str,
) -> Path:
    """The binary of ``package@version`` under ``cache_dir/<version>``, installing it first if
    needed. ``find_binary`` locates it under the prefix; ``version_of`` reads its version."""
    prefix = cache_dir / version
    marker = prefix / INSTALLED_MARKER
    binary = find_binary(prefix)
    if marker.exists() and binary is not None:
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f"{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = find_binary(prefix)
        if marker.exists() and binary is not None:
            return binary
        if binary is None or version_of(binary) != version:
            npm = shutil.which("npm")
            if npm is None:
                raise RealAgentUnavailable("npm is not installed")
            prefix.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), f"{package}@{version}", "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=900,
                stdin=subprocess.DEVNULL,
            )
            if done.returncode != 0:
                raise RealAgentUnavailable(f"npm install {package}@{version} failed:\n{done.stderr[-2000:]}")
            binary = find_binary(prefix)
            found = version_of(binary) if binary else None
            if binary is None or found != version:
                raise RealAgentUnavailable(f"installed {package}@{version} but `{command} --version` says {found}")
        marker.write_text(version + "\n")
    return binary
