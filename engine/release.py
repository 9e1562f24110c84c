"""The release step that gives a gitjit release its locks (docs/installation.md, "Making a
release"): ``python -m engine.release dist/gitjit-VERSION.tar.gz``.

An access repository's workflows install gitjit by hash. A wheel cannot carry its own hash, so
the release pins its **source archive** instead: build the sdist first (it never contains
engine/lock/), hash it, write engine/lock/, then build the wheel, which ships the locks as
package data. 'gitjit init' copies them into the new repository:

- engine/lock/gitjit.txt: the dependency lock, requirements/gitjit.txt of this project
  (pip-compile with hashes, the build backend included), which the workflows install as
  wheels only;
- engine/lock/gitjit-release.txt: ``gitjit==VERSION --hash=sha256:<sdist>``, which the
  workflows build offline with the backend of the first lock.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import engine

PROJECT = Path(__file__).resolve().parents[1]
LOCK_DIR = Path(engine.__file__).resolve().parent / "lock"
_SDIST = re.compile(r"^gitjit-(?P<version>[0-9][0-9A-Za-z.+!-]*)\.tar\.gz$")

RELEASE_HEADER = """\
# The gitjit release the workflows install, pinned by the sha256 of its source archive
# (gitjit-{version}.tar.gz). They build it offline with the build backend that
# requirements/gitjit.txt pins; nothing is installed from this repository. Written by
# 'gitjit init' from the release's own lock; a newer release brings its own.
"""


def release_lock(sdist: Path) -> str:
    """The text of gitjit-release.txt for ``sdist``."""
    match = _SDIST.match(sdist.name)
    if match is None:
        raise ValueError(f"{sdist.name} is not named gitjit-VERSION.tar.gz")
    version = match["version"]
    if version != engine.__version__:
        raise ValueError(f"{sdist.name} is version {version}, but this checkout is "
                         f"{engine.__version__}")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    return (RELEASE_HEADER.format(version=version)
            + f"gitjit=={version} \\\n    --hash=sha256:{digest}\n")


def write_locks(sdist: Path, dependencies: Path, out: Path) -> list[Path]:
    """Write both locks into ``out`` (engine/lock/ for a release build)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "gitjit.txt", out / "gitjit-release.txt"]
    written[0].write_bytes(dependencies.read_bytes())
    written[1].write_text(release_lock(sdist), encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sdist", type=Path, help="dist/gitjit-VERSION.tar.gz, built first")
    parser.add_argument("--dependencies", type=Path,
                        default=PROJECT / "requirements" / "gitjit.txt",
                        help="the hashed dependency lock (default: requirements/gitjit.txt)")
    parser.add_argument("--out", type=Path, default=LOCK_DIR,
                        help="where to write the locks (default: engine/lock/)")
    args = parser.parse_args(argv)
    try:
        written = write_locks(args.sdist, args.dependencies, args.out)
    except (OSError, ValueError) as exc:
        print(f"engine.release: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
