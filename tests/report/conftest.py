"""Histories built once per session (each takes about half a minute of real git and gitjit
runs) with the same isolated git identity the suite's autouse fixture gives every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import AUTHOR_EMAIL, AUTHOR_NAME, COMMITTER_EMAIL, COMMITTER_NAME
from tests.gitrepo import PINNED_DATE
from tests.report.history import History, build, ordinary_plan, planted_plan


def _built(factory: pytest.TempPathFactory, name: str, planted: bool) -> Iterator[History]:
    with pytest.MonkeyPatch.context() as patch:
        home = factory.mktemp(f"{name}-home")
        (home / ".gitconfig").write_text(
            f"[user]\n\tname = {AUTHOR_NAME}\n\temail = {AUTHOR_EMAIL}\n"
            "[commit]\n\tgpgsign = false\n[core]\n\thooksPath = /dev/null\n", encoding="utf-8")
        for key in list(os.environ):
            if key.startswith("GIT_"):
                patch.delenv(key)
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for key, value in (("GIT_AUTHOR_NAME", AUTHOR_NAME), ("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL),
                           ("GIT_AUTHOR_DATE", PINNED_DATE),
                           ("GIT_COMMITTER_NAME", COMMITTER_NAME),
                           ("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL),
                           ("GIT_COMMITTER_DATE", PINNED_DATE)):
            patch.setenv(key, value)
        path = factory.mktemp(name) / "repo"
        history = (build(path, planted_plan(), extra_sre=("gus",)) if planted
                   else build(path, ordinary_plan()))
    # Built under the patched identity; the tests read it under their own.
    yield history


@pytest.fixture(scope="session")
def ordinary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    yield from _built(tmp_path_factory, "ordinary", planted=False)


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    yield from _built(tmp_path_factory, "planted", planted=True)
