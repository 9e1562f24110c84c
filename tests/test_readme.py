"""The README's example is real: rebuilt here, its command's output must match the README."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _example() -> tuple[list[str], str]:
    """The gitjit command of the README's example and the output it shows."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- example: [^>]+ -->\n```sh\n.*?```\n.*?```console\n\$ (.*?)\n(.*?)```"
                      r"\n<!-- end example -->", text, re.S)
    assert block, "README lost its example block"
    return shlex.split(block[1]), block[2]


def _setup_from_readme() -> str:
    """The shell commands the README gives to reproduce its example."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- example: ([^>]+) -->\n```sh\n(.*?)```", text, re.S)
    assert block, "README lost the commands that set its example up"
    named = block[1].split()[0]
    assert (ROOT / named).exists(), f"the README's example marker names {named}, which is missing"
    return block[2]


def test_readme_example_is_reproducible_as_written(tmp_path: Path) -> None:
    """The README's commands, run by bash from a copy of this repository's top, set up the
    example; its gitjit command then prints exactly the README's output."""
    top = tmp_path / "gitjit"
    top.mkdir()
    for folder in ("policies", "schemas"):
        shutil.copytree(ROOT / folder, top / folder)
    (tmp_path / "tmp").mkdir()
    args, expected = _example()
    assert args[0] == "gitjit"
    script = _setup_from_readme() + shlex.join(args) + "\n"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=top, env=env,
                            capture_output=True, text=True, check=False)
    assert (result.stdout, result.stderr) == (expected, "")
    assert result.returncode == 4
    # The grant the commands write is the one the README shows first.
    grant = re.search(r"```yaml\n(apiVersion: gitjit/v1\nkind: Grant\n.*?)```",
                      README.read_text(encoding="utf-8"), re.S)
    assert grant and grant[1] in script


def test_ci_runs_exactly_the_readme_test_command() -> None:
    quick_start = re.search(r"```sh\n(.*?)\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    assert quick_start, "README lost its two quick-start commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == quick_start[2]
