"""Style and packaging checks of the editor packages with the editors' own tools.

Emacs: byte-compilation without a warning, ``checkdoc``, and ``package-lint`` (Debian's
``elpa-package-lint``). Neovim: ``luacheck`` (Debian's ``lua-check``). ``.ci/run`` installs them;
a missing tool skips here and fails under ``THREADLINE_REQUIRE_EDITORS=1``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.editors.test_editors import EMACS_PACKAGE, NVIM_PLUGIN, REPO, require

# Where Debian's elpa-package-lint puts it (`emacs -Q` does not load site-lisp).
PACKAGE_LINT = next(iter(sorted(Path("/usr/share/emacs/site-lisp/elpa").glob("package-lint-[0-9]*"))), None)
# package-lint 0.16 (Debian 12) predates Emacs 28, so it calls a dependency on 28.1
# "uninstallable in all released Emacs versions". The package needs Emacs 28 (project-root).
STALE = "warning: This makes the package uninstallable in all released Emacs versions."
# The repository has no public address yet; the package gets its URL header with it.
NO_URL = "error: Package should have a Homepage or URL header."


def emacs_batch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    copy = tmp_path / "threadline.el"  # compile a copy: no .elc left in the repository
    shutil.copy(EMACS_PACKAGE / "threadline.el", copy)
    return subprocess.run(
        [require("emacs"), "--batch", "-Q", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_emacs_package_byte_compiles_without_warnings(tmp_path: Path) -> None:
    done = emacs_batch(
        tmp_path, "--eval", "(setq byte-compile-error-on-warn t)", "-f", "batch-byte-compile", "threadline.el"
    )
    assert done.returncode == 0 and (tmp_path / "threadline.elc").exists(), done.stderr


def test_the_emacs_package_passes_checkdoc(tmp_path: Path) -> None:
    done = emacs_batch(
        tmp_path,
        "--eval",
        "(progn (require 'checkdoc) (setq checkdoc-spellcheck-documentation-flag nil)"
        ' (checkdoc-file "threadline.el"))',
    )
    assert done.returncode == 0
    assert "threadline.el:" not in done.stderr, done.stderr


def test_the_emacs_package_passes_package_lint(tmp_path: Path) -> None:
    if PACKAGE_LINT is None:
        require("package-lint (elpa-package-lint)")
    assert PACKAGE_LINT is not None
    done = emacs_batch(
        tmp_path,
        "-L",
        str(PACKAGE_LINT),
        "--eval",
        "(require 'package-lint)",
        "-f",
        "package-lint-batch-and-exit",
        "threadline.el",
    )
    findings = [
        line.split(":", 3)[-1].strip() for line in done.stderr.splitlines() if line.startswith("threadline.el:")
    ]
    assert [f for f in findings if f not in (STALE, NO_URL)] == [], done.stderr


def test_the_lua_passes_luacheck() -> None:
    done = subprocess.run(
        [require("luacheck"), "--no-color", str(NVIM_PLUGIN), str(Path(__file__).parent / "drivers")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout


def test_the_neovim_help_file_has_its_tags(tmp_path: Path) -> None:
    shutil.copytree(NVIM_PLUGIN / "doc", tmp_path / "doc")
    done = subprocess.run(
        [
            require("nvim"),
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-c",
            f"helptags {tmp_path / 'doc'}",
            "-c",
            "qall!",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    tags = {line.split("\t")[0] for line in (tmp_path / "doc" / "tags").read_text().splitlines()}
    assert {":Threadline", ":ThreadlineOpen", ":ThreadlineStart", ":ThreadlineResume", "threadline-list"} <= tags
