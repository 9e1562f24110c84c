"""Building gitjit's wheel from a copy of the sources, as the packaging tests do."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
# What the wheel is built from: pyproject.toml's sdist include list, the folders that
# force-include puts into the package among them.
FOLDERS = ("schemas", "policies", ".github/workflows")


def copy_sources(source: Path) -> Path:
    """Copy what a build needs into ``source`` (a build never writes into the working tree)."""
    source.mkdir(parents=True)
    shutil.copy(PROJECT / "pyproject.toml", source)
    shutil.copytree(PROJECT / "engine", source / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", "schemas", "examples"))
    for folder in FOLDERS:
        shutil.copytree(PROJECT / folder, source / folder)
    (source / "README.md").write_bytes((PROJECT / "README.md").read_bytes())
    return source


def build_wheel(source: Path, out: Path) -> Path:
    """Build the wheel offline (no isolation: hatchling comes from the dev extra); pip's own
    output is part of the failure, so a missing build backend says so."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (wheel,) = out.glob("gitjit-*.whl")
    return wheel


def build_sdist(source: Path, out: Path) -> Path:
    """Build the source archive with hatchling (from the dev extra), as a release does."""
    result = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(out)],
        cwd=source, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"hatchling build failed:\n{result.stdout}{result.stderr}"
    (sdist,) = out.glob("gitjit-*.tar.gz")
    return sdist


def release_locks(out: Path) -> Path:
    """The locks of a release of this checkout, made the way docs/installation.md says (an
    sdist built by hatchling, hashed by engine.release): what 'gitjit init --release-lock'
    takes when gitjit runs from a source checkout."""
    from engine.release import write_locks

    sdist = build_sdist(PROJECT, out / "dist")
    write_locks(sdist, PROJECT / "requirements" / "gitjit.txt", out / "lock")
    return out / "lock"
