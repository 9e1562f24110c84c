"""The floor that ``gitjit check`` is measured against: parse the same files with PyYAML's C
loader in one process, and nothing else (no rules, no schema, no cross-file checks).

Usage: python -m benchmarks.floor REPO
It imports neither gitjit nor anything but PyYAML, so its time is Python's start-up, the
reads and libyaml's parsing.
"""

from __future__ import annotations

import os
import sys

import yaml


def main(argv: list[str]) -> int:
    root = argv[0]
    count = 0
    for folder in ("policies", "grants"):
        for directory, _folders, files in os.walk(os.path.join(root, folder)):
            for name in files:
                if name.endswith(".yaml"):
                    with open(os.path.join(directory, name), "rb") as handle:
                        yaml.load(handle.read(), Loader=yaml.CSafeLoader)  # noqa: S506
                    count += 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
