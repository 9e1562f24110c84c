"""Which forge a command talks to: the local forge, or GitHub from the workflow environment."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.adapters.github import GitHubForge

FORGES = ("local", "github")


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise UsageError(f"--forge github needs the environment variable {name} (set by GitHub "
                         "Actions; see docs/installation.md)")
    return value


def github_from_env() -> GitHubForge:
    """GITHUB_REPOSITORY ('owner/name'), GITHUB_TOKEN, GITHUB_API_URL if not github.com, and
    GITJIT_BOT_LOGIN, the account an installation token acts as ('<app-slug>[bot]' or
    'github-actions[bot]'), which such a token cannot ask GitHub for."""
    # PyGithub loads only when GitHub is talked to (gitjit --help and check never do).
    from engine.adapters.github import DEFAULT_URL, GitHubForge

    return GitHubForge(_env("GITHUB_REPOSITORY"), _env("GITHUB_TOKEN"),
                       base_url=os.environ.get("GITHUB_API_URL") or DEFAULT_URL,
                       throttle=os.environ.get("GITJIT_GITHUB_THROTTLE", "1") != "0",
                       login=os.environ.get("GITJIT_BOT_LOGIN") or None)


def verdict_as_check_run() -> bool:
    """A GitHub App token posts a check run; GITHUB_TOKEN mode posts a commit status."""
    return os.environ.get("GITJIT_TOKEN_KIND", "actions") == "app"

