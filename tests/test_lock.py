"""requirements/gitjit.txt, the hashed lock the privileged workflows install from, stays in
step with pyproject.toml: every dependency of gitjit, of the extras the workflows need, and of
the build backend is pinned to a version its specifier admits, and every pin carries hashes.

The lock is made by pip-compile (docs/installation.md, "The dependency lock"); when this test
fails, refresh it with the command written at the top of the lock itself."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = Path(__file__).resolve().parents[1]
LOCK = PROJECT / "requirements" / "gitjit.txt"
# The extras the lifecycle jobs need; "dev" is for developers and CI, never for a workflow.
EXTRAS = ("notify", "postgres")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}$")
# The runners' interpreter (CPython 3.11 on Linux), as this one is: markers evaluated here.
ENVIRONMENT: dict[str, str] = {k: str(v) for k, v in default_environment().items()}


def locked() -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, hashes) of every entry in the lock."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    current: str | None = None
    for raw in LOCK.read_text("utf-8").splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            current = None if not raw.startswith(" ") else current
            continue
        pin = PIN.match(line)
        if pin is not None:
            current = str(canonicalize_name(pin.group(1)))
            assert current not in entries, f"{LOCK.name}: {current} is pinned twice"
            entries[current] = (Version(pin.group(2)), [])
            rest = line[pin.end():].strip()
            if rest:
                entries[current][1].append(rest)
            continue
        assert current is not None and HASH.fullmatch(line), (
            f"{LOCK.name}: '{raw.strip()}' is neither a pin (name==version) nor its hash")
        entries[current][1].append(line)
    return entries


def wanted() -> list[tuple[str, Requirement]]:
    """(where, requirement) for gitjit's dependencies, the extras and the build backend."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))
    found = [("dependencies", Requirement(r)) for r in project["project"]["dependencies"]]
    for extra in EXTRAS:
        found += [(f"the {extra} extra", Requirement(r))
                  for r in project["project"]["optional-dependencies"][extra]]
    found += [("build-system.requires", Requirement(r))
              for r in project["build-system"]["requires"]]
    return [(where, r) for where, r in found
            if r.marker is None or r.marker.evaluate(ENVIRONMENT)]


def test_every_entry_is_pinned_and_hashed() -> None:
    entries = locked()
    assert entries, f"{LOCK.name} pins nothing"
    for name, (_, hashes) in entries.items():
        assert hashes, f"{LOCK.name}: {name} has no --hash (pip --require-hashes refuses it)"
        assert all(HASH.fullmatch(h) for h in hashes), f"{LOCK.name}: {name}: {hashes}"


@pytest.mark.parametrize(("where", "requirement"), wanted(), ids=lambda value: str(value))
def test_the_lock_satisfies_pyproject(where: str, requirement: Requirement) -> None:
    entries = locked()
    name = str(canonicalize_name(requirement.name))
    assert name in entries, (
        f"{requirement} ({where} in pyproject.toml) is not in {LOCK.name}: refresh the lock")
    version = entries[name][0]
    assert requirement.specifier.contains(version, prereleases=True), (
        f"{LOCK.name} pins {name}=={version}, which {requirement} ({where}) does not admit: "
        "refresh the lock")
    # An extra of a dependency (psycopg[binary]) brings packages of its own: those too.
    for extra in sorted(requirement.extras):
        for dependency in metadata.requires(requirement.name) or []:
            needed = Requirement(dependency)
            if needed.marker is not None and needed.marker.evaluate(
                    {**ENVIRONMENT, "extra": extra}) and not needed.marker.evaluate(
                    {**ENVIRONMENT, "extra": ""}):
                assert str(canonicalize_name(needed.name)) in entries, (
                    f"{needed.name} (of {requirement}) is not in {LOCK.name}: refresh the lock")


def test_the_lock_says_how_it_was_made_with_every_extra() -> None:
    header = LOCK.read_text("utf-8").split("\n\n", 1)[0]
    assert "pip-compile" in header and "--generate-hashes" in header
    assert "--all-build-deps" in header, "the build backend must be locked too"
    assert sorted(re.findall(r"--extra=(\S+)", header)) == sorted(EXTRAS)
