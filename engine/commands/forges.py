"""Which forge a command talks to: the local forge, or GitHub from the workflow environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.adapters.git import GitRepository
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


# owner/name as GitHub allows them: an owner of letters, digits and single hyphens; a name of
# letters, digits, '.', '-' and '_' (not '.' or '..').
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_NAME = r"[A-Za-z0-9._-]{1,100}"
_SCP = re.compile(rf"(?:[^@/\s]+@)?(?P<host>[^:/\s]+):/?(?P<owner>{_OWNER})/(?P<name>{_NAME})")
_PATH = re.compile(rf"/(?P<owner>{_OWNER})/(?P<name>{_NAME})/?")
GITHUB_HOST = "github.com"


def repository_from_url(url: str, hosts: frozenset[str]) -> str | None:
    """'owner/name' from a GitHub remote URL (https://github.com/o/n.git,
    git@github.com:o/n.git, ssh://git@github.com/o/n), or None when it is not one on
    ``hosts``. The name is where a person's token will be used: a remote on another host
    never names the repository."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme in ("https", "http", "ssh", "git") and parts.hostname:
        host = parts.hostname.lower() + (f":{parts.port}" if parts.port and
                                         parts.scheme in ("https", "http") else "")
        match = _PATH.fullmatch(parts.path)
    elif not parts.scheme or "://" not in url:
        scp = _SCP.fullmatch(url)
        if scp is None:
            return None
        host, match = scp.group("host").lower(), scp
    else:
        return None
    if match is None or (host not in hosts and host.split(":")[0] not in hosts):
        return None
    name = match.group("name").removesuffix(".git")
    if name in ("", ".", ".."):
        return None
    return f"{match.group('owner')}/{name}"


def _hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """github.com, and the hosts of GITHUB_SERVER_URL and GITHUB_API_URL (GitHub Enterprise
    Server)."""
    hosts = {GITHUB_HOST}
    for key in ("GITHUB_SERVER_URL", "GITHUB_API_URL"):
        parts = urlsplit(environ.get(key, ""))
        if parts.hostname:
            hosts.add(parts.hostname.lower() + (f":{parts.port}" if parts.port else ""))
    return frozenset(hosts)


def _origin(repo: GitRepository) -> str | None:
    result = repo.run("config", "--get", "remote.origin.url", ok_codes=(0, 1))
    return result.stdout.decode("utf-8", "replace").strip() or None


def person_repository(repo: GitRepository, environ: Mapping[str, str]) -> str:
    """GITHUB_REPOSITORY if set, else the 'origin' remote's owner/name."""
    if environ.get("GITHUB_REPOSITORY"):
        return environ["GITHUB_REPOSITORY"]
    origin = _origin(repo)
    if origin is None:
        raise UsageError("--forge github needs the repository: this clone has no 'origin' "
                         "remote; set GITHUB_REPOSITORY=owner/name")
    found = repository_from_url(origin, _hosts(environ))
    if found is None:
        raise UsageError(f"--forge github cannot tell the GitHub repository from the 'origin' "
                         f"remote {_redacted(origin)} (not an https or ssh URL of "
                         f"{', '.join(sorted(_hosts(environ)))}); set GITHUB_REPOSITORY="
                         "owner/name (and GITHUB_API_URL for GitHub Enterprise Server)")
    return found


def _redacted(url: str) -> str:
    # An https remote may carry a token as its user info: never print it.
    parts = urlsplit(url)
    if parts.scheme in ("https", "http") and parts.password:
        return url.replace(f"{parts.username}:{parts.password}@", "***@", 1)
    if parts.scheme in ("https", "http") and parts.username:
        return url.replace(f"{parts.username}@", "***@", 1)
    return url


def person_token(environ: Mapping[str, str], host: str) -> str:
    """GITHUB_TOKEN, else GH_TOKEN, else what the GitHub CLI says (``gh auth token``)."""
    for key in ("GITHUB_TOKEN", "GH_TOKEN"):
        if environ.get(key):
            return environ[key]
    gh = shutil.which("gh", path=environ.get("PATH", os.defpath))
    if gh is None:
        raise UsageError("--forge github needs a GitHub token: set GITHUB_TOKEN (or GH_TOKEN) "
                         "to a token that may open pull requests, or install the GitHub CLI "
                         "(gh) and run 'gh auth login'")
    try:
        done = subprocess.run([gh, "auth", "token", "--hostname", host], capture_output=True,
                              timeout=30, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"'gh auth token' could not run ({exc}); set GITHUB_TOKEN "
                         "instead") from exc
    token = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 or not token or len(token.split()) != 1:
        why = done.stderr.decode("utf-8", "replace").strip()[-300:] or "no token printed"
        raise UsageError(f"'gh auth token --hostname {host}' gave no token ({why}); run "
                         "'gh auth login', or set GITHUB_TOKEN")
    return token


def github_for_person(repo: GitRepository,
                      environ: Mapping[str, str] | None = None) -> GitHubForge:
    """GitHub as a person at a terminal reaches it: the repository from GITHUB_REPOSITORY or
    the 'origin' remote, the token from GITHUB_TOKEN, GH_TOKEN or 'gh auth token', the API at
    GITHUB_API_URL if not github.com. Whose token it is, GitHub says (GET /user)."""
    from engine.adapters.github import DEFAULT_URL, GitHubForge

    env = os.environ if environ is None else environ
    repository = person_repository(repo, env)
    api = env.get("GITHUB_API_URL") or DEFAULT_URL
    # The host gh keeps the token under: GitHub Enterprise Server's, or github.com.
    host = (urlsplit(env.get("GITHUB_SERVER_URL") or "").hostname
            or (urlsplit(api).hostname if api != DEFAULT_URL else None) or GITHUB_HOST)
    return GitHubForge(repository, person_token(env, host), base_url=api,
                       throttle=env.get("GITJIT_GITHUB_THROTTLE", "1") != "0", login=None)


def verdict_as_check_run() -> bool:
    """A GitHub App token posts a check run; GITHUB_TOKEN mode posts a commit status."""
    return os.environ.get("GITJIT_TOKEN_KIND", "actions") == "app"

