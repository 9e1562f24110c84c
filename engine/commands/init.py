"""gitjit init: a new access repository with an example policy, tests, workflows and editor
settings, committed; and gitjit schemas: the JSON Schemas for editors."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

import engine
from engine.adapters.git import GitRepository, scrubbed_env
from engine.adapters.schemas import packaged_folder
from engine.adapters.signing import generate_key, local_key_path
from engine.commands.repository import read_config, require_config
from engine.core import codeowners, starter
from engine.core.changes import REGULAR_FILE, Oversized, TreeEntry
from engine.core.signers import SIGNERS_PATH
from engine.errors import GitjitError, UsageError

EXIT_OK = 0
STARTER = "starter"
"""engine/starter/: the example configuration 'gitjit init' writes (policies/)."""


@dataclass(frozen=True)
class InitOptions:
    directory: Path
    branch: str | None
    release_lock: Path | None
    local_key: bool


@dataclass(frozen=True)
class SchemasOptions:
    write: Path | None


class _Files:
    """The planned files as a Tree, so the configuration is judged before anything is
    written."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def entries(self, prefix: str) -> list[TreeEntry]:
        return [TreeEntry(p, REGULAR_FILE) for p in sorted(self.files) if p.startswith(prefix)]

    def read(self, path: str) -> bytes:
        if path not in self.files:
            raise GitjitError(f"{path} does not exist")
        return self.files[path]

    def read_many(self, paths: Iterable[str], limit: int | None = None) -> dict[str, bytes]:
        found = {path: self.read(path) for path in paths}
        if limit is None:
            return found
        return {path: raw if len(raw) <= limit else Oversized(raw[:limit + 1], len(raw))
                for path, raw in found.items()}

    def exists(self, path: str) -> bool:
        return path in self.files


def _walk(folder: Traversable, prefix: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.name.startswith((".", "__")):
            continue
        if item.is_dir():
            found |= _walk(item, f"{prefix}{item.name}/")
        else:
            found[f"{prefix}{item.name}"] = item.read_bytes()
    return found


def schema_files() -> dict[str, bytes]:
    """file name -> bytes of every JSON Schema packaged with this gitjit."""
    folder = packaged_folder("schemas", "schemas")
    return {item.name: item.read_bytes() for item in folder.iterdir()
            if item.name.endswith(".schema.json")}


def release_locks(given: Path | None) -> starter.Release:
    """The locks of this gitjit's release (package data engine/lock/), or of --release-lock."""
    folder: Traversable = given if given is not None else resources.files(engine) / "lock"
    where = str(given) if given is not None else "this gitjit's package (engine/lock/)"
    try:
        release = starter.Release((folder / "gitjit.txt").read_text("utf-8"),
                                  (folder / "gitjit-release.txt").read_text("utf-8"))
    except (FileNotFoundError, NotADirectoryError) as exc:
        if given is not None:
            raise UsageError(f"--release-lock {given}: needs gitjit.txt and gitjit-release.txt "
                             "as 'python -m engine.release' writes them") from exc
        raise UsageError(
            f"this gitjit {engine.__version__} carries no release lock ({where} is missing): "
            "it was installed from a source checkout, not from a release. The workflows "
            "install gitjit by hash, so they need one: install a gitjit release, or make the "
            "locks with 'python -m engine.release dist/gitjit-VERSION.tar.gz --out DIR' and "
            "pass --release-lock DIR (docs/installation.md, 'Making a release')") from exc
    try:
        version = starter.release_version(release)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from exc
    if version != engine.__version__:
        raise UsageError(f"{where} pins gitjit {version}, but this is gitjit "
                         f"{engine.__version__}: init with the gitjit of that release")
    return release


def plan(branch: str, release: starter.Release) -> dict[str, bytes]:
    """Every file of the new access repository, by path."""
    files = _walk(resources.files(engine) / STARTER / "policies", "policies/")
    files |= {f"schemas/{name}": raw for name, raw in schema_files().items()}
    settings: dict[str, Any] = yaml.safe_load(files["policies/settings.yaml"])
    secrets = starter.settings_secrets(settings)
    alerts = starter.alert_secrets(settings)
    workflows = packaged_folder(f"{STARTER}/workflows", ".github/workflows")
    for name in starter.WORKFLOWS:
        text = (workflows / name).read_text("utf-8")
        files[f"{starter.WORKFLOWS_DIR}/{name}"] = starter.workflow(
            name, text, secrets=secrets, alert_secrets=alerts, branch=branch).encode()
    files[starter.LOCK_PATH] = release.dependencies.encode()
    files[starter.RELEASE_PATH] = release.release.encode()
    files[starter.VSCODE_SETTINGS] = starter.vscode_settings().encode()
    files[starter.VSCODE_EXTENSIONS] = starter.vscode_extensions().encode()
    config = require_config(read_config(_Files(files)), "the starter files")
    files[codeowners.PATH] = codeowners.render(config).encode()
    return dict(sorted(files.items()))


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, env=scrubbed_env(), capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise GitjitError(f"git {args[0]} failed in {cwd}: "
                          f"{result.stderr.strip() or result.returncode}")
    return result.stdout.strip()


def _existing_repository(directory: Path) -> Path | None:
    """The top of the git working tree that holds ``directory``, if any."""
    result = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=directory,
                            env=scrubbed_env(), capture_output=True, text=True, check=False)
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else None


def _current_branch(top: Path) -> str:
    result = subprocess.run(["git", "symbolic-ref", "--short", "-q", "HEAD"], cwd=top,
                            env=scrubbed_env(), capture_output=True, text=True, check=False)
    name = result.stdout.strip()
    if result.returncode != 0 or not name:
        raise UsageError(f"{top} has a detached HEAD; check out the branch the access "
                         "repository's default branch will be, then run gitjit init again")
    return name


def run(options: InitOptions) -> int:
    directory = options.directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is not a folder")
    release = release_locks(options.release_lock)
    top = _existing_repository(directory) if directory.is_dir() else None
    if top is not None and top != directory:
        raise UsageError(f"{directory} is inside the git repository {top}: gitjit's files go "
                         f"at the top of a repository; run 'gitjit init {top}' or choose a "
                         "folder outside it")
    branch = options.branch or (_current_branch(top) if top is not None else "main")
    files = plan(branch, release)
    taken = sorted(path for path in files if (directory / path).exists()
                   or (directory / path).is_symlink())
    for folder in ("policies", "grants", "actions"):
        if (directory / folder).exists() and not any(p.startswith(f"{folder}/") for p in taken):
            taken.append(f"{folder}/")
    if options.local_key and (directory / SIGNERS_PATH).exists():
        taken.append(SIGNERS_PATH)
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise UsageError(f"{directory} already has {shown}; gitjit init never overwrites a "
                         "file: run it in an empty folder or in a repository without an access "
                         "configuration")

    directory.mkdir(parents=True, exist_ok=True)
    if top is None:
        _git(directory, "init", "-q", "-b", branch)
    for path, content in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    paths = list(files)
    if options.local_key:
        line = generate_key(local_key_path(GitRepository(directory)))
        (directory / SIGNERS_PATH).write_text(
            "# gitjit's lifecycle key for local trials ('gitjit init --local-key'); its private\n"
            "# half is in .git/gitjit/signing_key. Replace this line with the key of the\n"
            "# lifecycle jobs before the repository goes live (docs/signing.md).\n"
            f"{line}\n", encoding="ascii")
        paths.append(SIGNERS_PATH)
    _git(directory, "add", "--", *paths)
    _git(directory, "commit", "-q", "-m", "gitjit init: an access repository",
         "-m", f"Written by gitjit {engine.__version__}: an example policy with its tests, "
         "groups, settings, schemas, CODEOWNERS, the workflows and editor settings.",
         "--", *paths)
    commit = _git(directory, "rev-parse", "--short=12", "HEAD")
    _report(directory, branch, commit, paths, options.local_key)
    return EXIT_OK


def _report(directory: Path, branch: str, commit: str, paths: list[str],
            local_key: bool) -> None:
    groups: dict[str, list[str]] = {}
    for path in paths:
        parts = path.split("/")
        depth = 2 if parts[0] == ".github" else 1
        groups.setdefault("/".join(parts[:depth]) if len(parts) > depth else path,
                          []).append(path)
    print(f"created an access repository in {directory} (commit {commit} on {branch}):")
    for name, members in groups.items():
        what = f"{len(members)} files" if len(members) > 1 else ""
        print(f"  {name + ('/' if what else ''):<22}{what}".rstrip())
    print("next:")
    if directory != Path.cwd().resolve():
        print(f"  cd {directory}")
    print("  1. put your people into policies/groups.yaml (the example logins alice and")
    print("     bob may be real GitHub accounts) and adapt policies/db-admin.yaml; then:")
    print("     gitjit check && gitjit test && gitjit codeowners --write")
    if not local_key:
        print("  2. for offline trials, make a local signing key and commit its public line:")
        print("     gitjit local keygen && git add policies/allowed_signers")
        print("     git commit -m \"gitjit's lifecycle key for local trials\"")
        print("     then try a request with the local forge (docs/local-forge.md):")
    else:
        print("  2. try a request with the local forge (docs/local-forge.md):")
    print("     gitjit request db-admin --as alice --forge local \\")
    print("       --justification 'Replication lag on the primary'")
    print("     gitjit local review 1 --as bob --approve && gitjit local merge 1 --as bob")
    print("     GITJIT_EXAMPLE_DB_DSN=postgresql://... gitjit activate")
    print("  3. on GitHub: push it and follow docs/installation.md (the App, the")
    print("     gitjit-targets environment with GITJIT_SIGNING_KEY and the secrets the")
    print("     settings name, the ruleset); then run gitjit doctor")


def run_schemas(options: SchemasOptions) -> int:
    files = schema_files()
    if options.write is None:
        for name in sorted(files):
            print(name)
        return EXIT_OK
    options.write.mkdir(parents=True, exist_ok=True)
    for name, raw in sorted(files.items()):
        (options.write / name).write_bytes(raw)
        print(f"wrote {options.write / name}")
    return EXIT_OK
