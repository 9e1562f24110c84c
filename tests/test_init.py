"""gitjit init: a new access repository that works from its first commit.

The acceptance test runs `gitjit init` in an empty folder and then the whole first hour on it
through the CLI: check, test, a request, an approval, the merge, activation against a real
PostgreSQL server, reconcile after the expiry; and actionlint and zizmor on the workflows it
wrote. The release locks come from the real release step (an sdist built by hatchling, hashed
by engine.release), as a gitjit release carries them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

import engine
from engine.cli import run
from engine.core import starter
from engine.release import write_locks
from tests.packaging import build_sdist, build_wheel, copy_sources, release_locks
from tests.targets.pg import PgServer, create_role, is_member

PROJECT = Path(__file__).resolve().parents[1]
RELEASE_INSTALL = (
    "python -m pip install --disable-pip-version-check --no-cache-dir --require-hashes "
    "--only-binary=:all: -r requirements/gitjit.txt "
    "python -m pip install --disable-pip-version-check --no-cache-dir --require-hashes "
    "--no-deps --no-build-isolation --no-binary=:all: -r requirements/gitjit-release.txt")


@pytest.fixture(scope="module")
def release_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The locks of a release of this checkout, made the way docs/installation.md says."""
    return release_locks(tmp_path_factory.mktemp("release"))


def flat(script: str) -> str:
    return " ".join(script.replace("\\\n", " ").split())


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def run_tool(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; the dev extra (.ci/test) installs it")
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=120)


@pytest.mark.postgres
def test_init_then_the_whole_first_hour(
    tmp_path: Path, release_lock: Path, pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    access = tmp_path / "access"
    assert run(["init", str(access), "--release-lock", str(release_lock), "--local-key"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"created an access repository in {access} (commit ")
    assert "next:" in out and "gitjit request db-admin --as alice --forge local" in out
    assert max(len(line) for line in out.splitlines() if str(access) not in line) <= 80
    assert git(access, "status", "--porcelain") == ""
    assert git(access, "log", "--format=%s").splitlines() == ["gitjit init: an access repository"]
    # The private key stays in the git directory; only its public line is committed.
    assert (access / ".git" / "gitjit" / "signing_key").is_file()
    committed = git(access, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert not [path for path in committed if "signing_key" in path]
    assert "policies/allowed_signers" in committed

    r = str(access)
    assert run(["check", "--repo", r]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(", 0 errors, 0 warnings")
    assert run(["test", r]) == 0
    assert "4 passed, 0 failed" in capsys.readouterr().out

    # The example policy's database: a real server; alice has a login, db_admin is the role.
    monkeypatch.setenv("GITJIT_EXAMPLE_DB_DSN", pg_server.dsn())
    with pg_server.connect() as admin:
        create_role(admin, "alice", login=True)
        create_role(admin, "db_admin")
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    assert run(["request", "db-admin", "--as", "alice", "--duration", "1h", "--forge", "local",
                "--justification", "Replication lag on the primary, need pg_stat access",
                "--repo", r, "--now", t0.isoformat()]) == 0
    assert "#1" in capsys.readouterr().out
    assert run(["local", "review", "1", "--as", "bob", "--approve", "--repo", r,
                "--now", (t0 + timedelta(seconds=20)).isoformat()]) == 0
    merged_at = t0 + timedelta(seconds=40)
    assert run(["local", "merge", "1", "--as", "bob", "--repo", r,
                "--now", merged_at.isoformat()]) == 0
    assert run(["activate", "--repo", r, "--now", (t0 + timedelta(minutes=1)).isoformat()]) == 0
    with pg_server.connect() as admin:
        assert is_member(admin, "alice", "db_admin")

    capsys.readouterr()
    after = merged_at + timedelta(hours=1, minutes=1)
    assert run(["reconcile", "--repo", r, "--now", after.isoformat()]) == 0
    with pg_server.connect() as admin:
        assert not is_member(admin, "alice", "db_admin")
    assert "Gitjit-Removed: db-admin/alice-" in git(access, "log", "-1", "--format=%B", "main")
    assert git(access, "ls-tree", "-r", "--name-only", "main", "--", "grants/") == ""

    # The workflows it wrote pass the linters the project's own pass.
    workflows = sorted(str(p) for p in (access / ".github" / "workflows").glob("*.yml"))
    assert [Path(p).name for p in workflows] == sorted(starter.WORKFLOWS)
    result = run_tool(["actionlint", "-no-color", *workflows], access)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"
    result = run_tool(["zizmor", "--offline", "--no-progress", "--color", "never",
                       str(access / ".github" / "workflows")], access)
    assert result.returncode == 0, f"zizmor:\n{result.stdout}{result.stderr}"


def test_the_workflows_install_the_pinned_release_never_the_repository(
    tmp_path: Path, release_lock: Path,
) -> None:
    access = tmp_path / "access"
    assert run(["init", str(access), "--release-lock", str(release_lock)]) == 0
    settings = yaml.safe_load((access / "policies" / "settings.yaml").read_text("utf-8"))
    for path in sorted((access / ".github" / "workflows").glob("*.yml")):
        data = yaml.load(path.read_text("utf-8"), Loader=yaml.BaseLoader)  # noqa: S506
        for job_name, job in data["jobs"].items():
            scripts = [flat(step.get("run", "")) for step in job.get("steps", [])]
            installs = [s for s in scripts if "pip install" in s]
            if path.name != "review-trigger.yml":
                assert installs == [RELEASE_INSTALL], f"{path.name}: job {job_name}"
            # The project's secrets are gone; the settings' own are passed where needed.
            env = {k: v for step in job.get("steps", []) for k, v in (step.get("env") or {}
                                                                      ).items()}
            assert not [k for k in env if "ORDERS" in k or "SRE" in k], path.name
            if path.name in ("activate.yml", "reconcile.yml"):
                assert env["GITJIT_EXAMPLE_DB_DSN"] == "${{ secrets.GITJIT_EXAMPLE_DB_DSN }}"
                assert env["GITJIT_SIGNING_KEY"] == "${{ secrets.GITJIT_SIGNING_KEY }}"
        text = path.read_text("utf-8")
        assert "--no-index ." not in text and "pip install ." not in text, path.name
    lock = (access / "requirements" / "gitjit-release.txt").read_text("utf-8")
    pin = rf"^gitjit=={re.escape(engine.__version__)} \\\n    --hash=sha256:[0-9a-f]{{64}}$"
    assert re.search(pin, lock, re.M)
    assert (access / "requirements" / "gitjit.txt").read_bytes() == (
        PROJECT / "requirements" / "gitjit.txt").read_bytes()
    assert starter.settings_secrets(settings) == ["GITJIT_EXAMPLE_DB_DSN"]


def test_editors_get_a_schema_for_every_file_kind(tmp_path: Path, release_lock: Path) -> None:
    access = tmp_path / "access"
    assert run(["init", str(access), "--release-lock", str(release_lock)]) == 0
    vscode = json.loads((access / ".vscode" / "settings.json").read_text("utf-8"))
    for schema, globs in vscode["yaml.schemas"].items():
        assert (access / schema).is_file(), schema
        assert globs
    assert sorted(p.name for p in (access / "schemas").iterdir()) == sorted(
        p.name for p in (PROJECT / "schemas").iterdir())
    # Policies match no glob of their own: each names its schema in a modeline that resolves.
    for path in sorted((access / "policies").rglob("*.yaml")):
        first = path.read_text("utf-8").splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, f"{path.name} names no schema"
        assert (path.parent / match[1]).resolve().is_file(), f"{path.name}: {match[1]}"
    assert json.loads((access / ".vscode" / "extensions.json").read_text("utf-8")) == {
        "recommendations": ["redhat.vscode-yaml"]}


def test_init_never_overwrites_and_says_what_is_in_the_way(
    tmp_path: Path, release_lock: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    access = tmp_path / "access"
    (access / "policies").mkdir(parents=True)
    (access / "policies" / "groups.yaml").write_text("mine\n", encoding="utf-8")
    assert run(["init", str(access), "--release-lock", str(release_lock)]) == 2
    err = capsys.readouterr().err
    assert err == (f"gitjit: error: {access} already has policies/groups.yaml; gitjit init "
                   "never overwrites a file: run it in an empty folder or in a repository "
                   "without an access configuration\n")
    assert sorted(p.name for p in access.rglob("*")) == ["groups.yaml", "policies"]
    assert (access / "policies" / "groups.yaml").read_text("utf-8") == "mine\n"

    # A second init on an initialised repository: refused, nothing changed.
    other = tmp_path / "other"
    assert run(["init", str(other), "--release-lock", str(release_lock)]) == 0
    head = git(other, "rev-parse", "HEAD")
    capsys.readouterr()
    assert run(["init", str(other), "--release-lock", str(release_lock)]) == 2
    assert "already has .github/CODEOWNERS, .github/workflows/activate.yml" in (
        capsys.readouterr().err)
    assert git(other, "rev-parse", "HEAD") == head

    # Inside a repository, but not at its top: the configuration belongs at the top.
    capsys.readouterr()
    assert run(["init", str(other / "schemas"), "--release-lock", str(release_lock)]) == 2
    assert f"is inside the git repository {other}" in capsys.readouterr().err


def test_init_in_an_existing_repository_commits_only_its_own_files(
    tmp_path: Path, release_lock: Path,
) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    git(existing, "init", "-q", "-b", "trunk")
    (existing / "README.md").write_text("our access\n", encoding="utf-8")
    git(existing, "add", "README.md")
    git(existing, "commit", "-q", "-m", "readme")
    (existing / "notes.txt").write_text("staged, not ours to commit\n", encoding="utf-8")
    git(existing, "add", "notes.txt")
    assert run(["init", str(existing), "--release-lock", str(release_lock)]) == 0
    assert git(existing, "log", "--format=%s", "trunk").splitlines() == [
        "gitjit init: an access repository", "readme"]
    assert "notes.txt" not in git(existing, "ls-tree", "-r", "--name-only", "HEAD")
    assert git(existing, "status", "--porcelain") == "A  notes.txt\n"
    # The workflows watch the repository's branch, not main.
    activate = (existing / ".github" / "workflows" / "activate.yml").read_text("utf-8")
    assert "    branches: [trunk]\n" in activate and "[main]" not in activate


def test_a_source_install_without_a_release_lock_is_told_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert not (Path(engine.__file__).parent / "lock").exists(), (
        "engine/lock/ is written by the release step only; delete it from the checkout")
    assert run(["init", str(tmp_path / "access")]) == 2
    err = capsys.readouterr().err
    assert "carries no release lock" in err and "--release-lock DIR" in err
    assert not (tmp_path / "access").exists()


def test_schemas_are_listed_and_written_for_editors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["schemas"]) == 0
    names = capsys.readouterr().out.split()
    assert names == sorted(p.name for p in (PROJECT / "schemas").glob("*.schema.json"))
    assert run(["schemas", "--write", str(tmp_path / "out")]) == 0
    for name in names:
        assert (tmp_path / "out" / name).read_bytes() == (PROJECT / "schemas" / name).read_bytes()


def test_a_release_wheel_carries_its_locks_and_init_needs_nothing_else(tmp_path: Path) -> None:
    """The release step of docs/installation.md: sdist, locks pinning the sdist's hash, wheel.
    The sdist never holds the locks (they name its own hash); the wheel does, and a gitjit
    installed from it inits a repository whose release lock is that sdist's."""
    source = copy_sources(tmp_path / "src")
    sdist = build_sdist(source, tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert not [name for name in names if "/engine/lock/" in name]
    assert f"gitjit-{engine.__version__}/.github/workflows/activate.yml" in names
    write_locks(sdist, PROJECT / "requirements" / "gitjit.txt", source / "engine" / "lock")
    wheel = build_wheel(source, tmp_path / "wheel")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
        archive.extractall(site)
    assert {"engine/lock/gitjit.txt", "engine/lock/gitjit-release.txt",
            "engine/starter/policies/db-admin.yaml",
            "engine/starter/workflows/activate.yml"} <= shipped

    env = {"PYTHONPATH": str(site), "PATH": os.environ["PATH"], "HOME": os.environ["HOME"],
           "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(
        [sys.executable, "-c", "import engine, sys; from engine.cli import main; "
         "assert engine.__file__.startswith(sys.argv[1]); sys.argv[1:2] = []; main()",
         str(site), "init", "access"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    pinned = (tmp_path / "access" / "requirements" / "gitjit-release.txt").read_text("utf-8")
    assert f"gitjit=={engine.__version__} \\\n    --hash=sha256:{digest}\n" in pinned


def _release_install_line(access: Path) -> list[str]:
    """The workflows' second install command (the gitjit release, by hash), as words."""
    text = (access / ".github" / "workflows" / "activate.yml").read_text("utf-8")
    (line,) = {flat(m) for m in re.findall(r"python -m pip install [^\n]*\\\n[^\n]*"
                                           r"gitjit-release\.txt", text)}
    words = line.split()
    assert words[:4] == ["python", "-m", "pip", "install"] and "--require-hashes" in words
    return words[4:]


def test_a_tampered_release_archive_is_refused_by_the_workflows_install(
    tmp_path: Path, release_lock: Path,
) -> None:
    """The supply-chain attack on an access repository: whoever controls the index (or the
    release's hosting) serves another archive under the pinned version. The workflows'
    own install command builds the genuine archive and refuses the tampered one."""
    access = tmp_path / "access"
    assert run(["init", str(access), "--release-lock", str(release_lock)]) == 0
    args = _release_install_line(access)
    (genuine,) = (release_lock.parent / "dist").glob("gitjit-*.tar.gz")
    index = tmp_path / "index"
    index.mkdir()
    shutil.copy(genuine, index / genuine.name)
    # The index is a local folder, as a mirror would serve it; everything else is the
    # workflow's command as written.
    local = ["--no-index", "--find-links", str(index)]

    def install(into: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pip", "install", *args, *local, "--target",
             str(tmp_path / into)], cwd=access, capture_output=True, text=True, check=False,
            timeout=300)

    result = install("genuine")
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
    assert (tmp_path / "genuine" / "engine" / "cli.py").is_file()

    # The attacker's archive: the same name and version, one line of code more.
    with tarfile.open(genuine) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    top = tmp_path / "unpacked" / genuine.name.removesuffix(".tar.gz")
    with (top / "engine" / "cli.py").open("a", encoding="utf-8") as cli:
        cli.write("\nimport os  # exfiltrate GITJIT_SIGNING_KEY here\n")
    (index / genuine.name).unlink()
    with tarfile.open(index / genuine.name, "w:gz") as archive:
        archive.add(top, arcname=top.name)
    result = install("tampered")
    assert result.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr, result.stderr
    assert not (tmp_path / "tampered" / "engine").exists()


def test_init_refuses_a_release_lock_of_another_version(
    tmp_path: Path, release_lock: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A lock that pins another release would have the workflows run a gitjit other than the
    one that wrote the repository's files (schemas, workflows): refused, nothing written."""
    other = tmp_path / "lock"
    shutil.copytree(release_lock, other)
    pinned = (other / "gitjit-release.txt").read_text("utf-8")
    (other / "gitjit-release.txt").write_text(
        pinned.replace(f"gitjit=={engine.__version__} ", "gitjit==0.0.1 "), encoding="utf-8")
    assert run(["init", str(tmp_path / "access"), "--release-lock", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"pins gitjit 0.0.1, but this is gitjit {engine.__version__}" in err
    assert not (tmp_path / "access").exists()
