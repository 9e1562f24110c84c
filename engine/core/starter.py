"""What 'gitjit init' writes into a new access repository, computed without any I/O.

The workflows are gitjit's own (.github/workflows of the project, shipped in the package) with
three changes: they install a pinned gitjit release by hash instead of building the access
repository's checkout (an access repository holds no gitjit), they pass the secrets that the
new repository's settings name instead of the project's, and they watch the chosen default
branch. Everything else, including every rule tests/test_workflows.py holds them to, stays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WORKFLOWS_DIR = ".github/workflows"
LOCK_PATH = "requirements/gitjit.txt"
RELEASE_PATH = "requirements/gitjit-release.txt"
VSCODE_SETTINGS = ".vscode/settings.json"
VSCODE_EXTENSIONS = ".vscode/extensions.json"

# The project's own workflows that an access repository gets; ci.yml runs the project's tests.
WORKFLOWS = ("activate.yml", "evaluate.yml", "reconcile.yml", "review-trigger.yml", "review.yml",
             "watchdog.yml")
# Which secrets each workflow's gitjit step needs: every *_env of the settings for the jobs
# that apply and revoke, the alert channels only for the jobs that only tell people.
ALL_SECRETS = ("activate.yml", "reconcile.yml")
ALERT_SECRETS = ("review.yml", "watchdog.yml")
# Secrets the workflows name whatever the settings say.
FIXED_SECRETS = frozenset({"GITJIT_SIGNING_KEY", "GITJIT_APP_PRIVATE_KEY"})

_INSTALL = re.compile(
    r"^(?P<indent> *)- name: Install gitjit from the default branch, its dependencies from the "
    r"hashed lock\n(?:(?P=indent)  #.*\n)*(?P=indent)  run: \|\n"
    r"(?:(?P=indent)    .*\n){4}", re.M)
_SECRET_LINE = re.compile(r"^(?P<indent> +)(?P<name>GITJIT_[A-Z0-9_]+): "
                          r"\$\{\{ secrets\.(?P=name) \}\}\n", re.M)
_BRANCHES = re.compile(r"^(?P<lead> +branches: )\[main\]$", re.M)


def install_step(indent: str) -> str:
    """The install step of an access repository's workflow: the dependency lock (wheels only,
    by hash), then the gitjit release by the hash of its source archive, built offline with
    the build backend the first lock installed."""
    lines = [
        "- name: Install the pinned gitjit release, everything by hash",
        "  # requirements/gitjit.txt pins gitjit's dependencies and its build backend by hash",
        "  # (wheels only); requirements/gitjit-release.txt pins the gitjit release by the hash",
        "  # of its source archive, built here without downloading anything else. Both come",
        "  # with the release ('gitjit init' wrote them); nothing of this repository is",
        "  # installed.",
        "  run: |",
        "    python -m pip install --disable-pip-version-check --no-cache-dir --require-hashes \\",
        "      --only-binary=:all: -r requirements/gitjit.txt",
        "    python -m pip install --disable-pip-version-check --no-cache-dir --require-hashes \\",
        "      --no-deps --no-build-isolation --no-binary=:all: -r requirements/gitjit-release.txt",
    ]
    return "".join(f"{indent}{line}\n" for line in lines)


def workflow(name: str, text: str, *, secrets: Sequence[str], alert_secrets: Sequence[str],
             branch: str) -> str:
    """The access repository's copy of the project's workflow ``name``."""
    replaced, count = _INSTALL.subn(lambda m: install_step(m["indent"]), text)
    if count == 0 and "pip install" in text:
        raise ValueError(f"{name}: the install step is not the one gitjit init knows how to "
                         "replace")
    wanted = secrets if name in ALL_SECRETS else alert_secrets if name in ALERT_SECRETS else ()
    replaced = _replace_secret_blocks(replaced, wanted)
    replaced = _BRANCHES.sub(lambda m: f"{m['lead']}[{branch}]", replaced)
    return replaced.replace(" (tests/test_workflows.py checks)", "")


def _replace_secret_blocks(text: str, wanted: Sequence[str]) -> str:
    """Each run of consecutive settings-secret lines becomes one line per wanted secret."""
    out: list[str] = []
    pending_indent: str | None = None
    for line in text.splitlines(keepends=True):
        match = _SECRET_LINE.fullmatch(line)
        if match and match["name"] not in FIXED_SECRETS:
            pending_indent = match["indent"]
            continue
        if pending_indent is not None:
            out += [f"{pending_indent}{name}: ${{{{ secrets.{name} }}}}\n" for name in wanted]
            pending_indent = None
        out.append(line)
    if pending_indent is not None:
        out += [f"{pending_indent}{name}: ${{{{ secrets.{name} }}}}\n" for name in wanted]
    return "".join(out)


def settings_secrets(settings: Mapping[str, Any]) -> list[str]:
    """Every environment variable a settings document names (its *_env keys), in order."""
    names: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if str(key).endswith("_env") and isinstance(item, str) and item not in names:
                    names.append(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(settings)
    return names


def alert_secrets(settings: Mapping[str, Any]) -> list[str]:
    """The URL variables of the channels the watchdog and the weekly review tell."""
    watchdog = settings.get("watchdog") or {}
    told = watchdog.get("notify") or settings.get("alerts") or []
    channels = settings.get("notify") or {}
    return [channels[name]["url_env"] for name in told if name in channels]


# Which schema an editor should attach to which file. Policies have no pattern of their own
# (policies/*.yaml also matches groups.yaml and settings.yaml), so each policy file names its
# schema in a `# yaml-language-server: $schema=` line, as the example policy does.
EDITOR_SCHEMAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("grant", ("grants/**/*.yaml",)),
    ("action", ("actions/**/*.yaml",)),
    ("policytest", ("policies/tests/**/*.yaml",)),
    ("groups", ("policies/groups.yaml",)),
    ("settings", ("policies/settings.yaml",)),
)


def vscode_settings() -> str:
    schemas = {f"./schemas/{kind}.schema.json": list(globs) for kind, globs in EDITOR_SCHEMAS}
    # VS Code's setting names, single-quoted: tests/test_findings_doc.py takes every
    # double-quoted "yaml.<word>" string of engine/ for a finding code.
    return json.dumps({'yaml.schemas': schemas, 'yaml.validate': True,
                       "files.insertFinalNewline": True}, indent=2) + "\n"


def vscode_extensions() -> str:
    return json.dumps({"recommendations": ["redhat.vscode-yaml"]}, indent=2) + "\n"


@dataclass(frozen=True)
class Release:
    """A gitjit release's locks, as the release step writes them (docs/installation.md)."""

    dependencies: str
    """requirements/gitjit.txt: every dependency and the build backend, pinned by hash."""
    release: str
    """requirements/gitjit-release.txt: gitjit itself, pinned by its source archive's hash."""


_RELEASE_PIN = re.compile(r"^gitjit==(?P<version>\S+) \\\n +--hash=sha256:[0-9a-f]{64}$", re.M)


def release_version(release: Release) -> str:
    """The version the release lock pins; ValueError when it pins none by hash."""
    match = _RELEASE_PIN.search(release.release)
    if match is None:
        raise ValueError("the release lock does not pin gitjit==VERSION with a sha256 hash")
    return match["version"]
