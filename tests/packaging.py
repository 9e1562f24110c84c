"""Building gitjit's wheel from a copy of the sources, as the packaging tests do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


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
