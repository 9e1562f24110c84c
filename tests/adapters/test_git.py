"""The git adapter against real throwaway repositories."""

from __future__ import annotations

import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.adapters.git import CommitStamp, GitRepository, GitTree, parse_raw_diff
from engine.adapters.worktree import WorkTree
from engine.core.changes import Change, Oversized, TreeEntry
from engine.errors import GitError, GitjitError
from engine.ports import Repository, Tree
from tests.gitrepo import GitRepoBuilder, RepoFactory

ZERO = "0" * 40


def blob_sha(repo: GitRepoBuilder, rev: str, path: str) -> str:
    return repo.git("rev-parse", f"{rev}:{path}").strip()


def feature(repo: GitRepoBuilder, name: str = "feature") -> None:
    repo.branch(name)
    repo.checkout(name)


# -- the ports ---------------------------------------------------------------------------


def test_adapters_satisfy_the_ports(repo: GitRepoBuilder) -> None:
    git: Repository = GitRepository(repo.path)
    tree: Tree = git.tree("main")
    worktree: Tree = git.worktree()
    assert isinstance(tree, GitTree)
    assert isinstance(worktree, WorkTree)


# -- opening a repository ----------------------------------------------------------------


def test_repository_root_is_the_top_level_from_a_subfolder(repo: GitRepoBuilder) -> None:
    repo.write("policies/groups.yaml", "x\n")
    assert GitRepository(repo.path / "policies").root == repo.path


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError) as info:
        GitRepository(plain)
    assert str(info.value) == (
        f"{plain} is not inside a git working tree (fatal: not a git repository (or any of "
        "the parent directories): .git); run gitjit inside a clone of the access repository"
    )


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        GitRepository(tmp_path / "nope")
    assert str(info.value) == (
        f"{tmp_path / 'nope'} is not a directory; give the path of a git repository"
    )


def test_environment_cannot_redirect_git(
    repo: GitRepoBuilder, repo_factory: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = repo_factory("other")
    other.write("only-in-other.txt", "other\n")
    other.commit("other")
    repo.write("only-in-repo.txt", "repo\n")
    repo.commit("repo")
    # What a hook or a confused shell leaves behind: every one would point git elsewhere.
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other.path))
    monkeypatch.setenv("GIT_INDEX_FILE", "/nonexistent/index")
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", "/nonexistent/objects")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(repo.path.parent))

    git = GitRepository(repo.path)
    assert git.root == repo.path
    assert git.resolve("main") == repo.sha("main")
    tree = git.tree("main")
    assert [e.path for e in tree.entries("")] == ["README.md", "only-in-repo.txt"]
    assert tree.read("only-in-repo.txt") == b"repo\n"


def test_bogus_git_dir_in_the_environment_is_ignored(
    repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", "/nonexistent/bogus.git")
    git = GitRepository(repo.path)
    assert git.resolve("HEAD") == repo.sha("HEAD")


# -- resolve and refs --------------------------------------------------------------------


def test_resolve_branch_tag_and_short_sha(repo: GitRepoBuilder) -> None:
    sha = repo.sha()
    repo.git("tag", "-a", "v1", "-m", "annotated tag")
    git = GitRepository(repo.path)
    assert git.resolve("main") == sha
    assert git.resolve("v1") == sha  # peeled to the commit, not the tag object
    assert git.resolve(sha[:10]) == sha


def test_resolve_unknown_ref(repo: GitRepoBuilder) -> None:
    with pytest.raises(GitError) as info:
        GitRepository(repo.path).resolve("nope")
    assert str(info.value) == (
        f"git rev-parse failed in {repo.path}: 'nope' is not a commit in this repository; "
        "check the branch, tag or SHA (fetch it first if the clone is shallow)"
    )


def test_resolve_a_blob_is_not_a_commit(repo: GitRepoBuilder) -> None:
    with pytest.raises(GitError, match="'HEAD:README.md' is not a commit"):
        GitRepository(repo.path).resolve("HEAD:README.md")


def test_resolve_a_full_sha_answers_as_rev_parse_does(repo: GitRepoBuilder) -> None:
    # Full object names go to the running object reader instead of a new rev-parse.
    sha = repo.sha()
    repo.git("tag", "-a", "v1", "-m", "annotated tag")
    tag = repo.git("rev-parse", "v1").strip()
    blob = repo.git("rev-parse", "HEAD:README.md").strip()
    git = GitRepository(repo.path)
    assert git.resolve(sha) == sha
    assert git.resolve(tag) == sha  # peeled to the commit, as rev-parse peels
    for name in (blob, "0" * 40, "f" * 64):
        with pytest.raises(GitError) as info:
            git.resolve(name)
        assert str(info.value) == (
            f"git rev-parse failed in {repo.path}: {name!r} is not a commit in this "
            "repository; check the branch, tag or SHA (fetch it first if the clone is shallow)")


def test_the_object_reader_outlives_a_failed_read_and_stops_on_close(
        repo: GitRepoBuilder) -> None:
    git = GitRepository(repo.path)
    with pytest.raises(GitError):
        git.read_objects(["0" * 40], "blob")
    assert git.resolve(repo.sha()) == repo.sha()
    process = git.catfile._process
    assert process is not None and process.poll() is None
    git.close()
    assert process.poll() == 0


@pytest.mark.parametrize("ref", ["", "main\nx", "a\0b"])
def test_resolve_rejects_impossible_refs(repo: GitRepoBuilder, ref: str) -> None:
    with pytest.raises(GitError) as info:
        GitRepository(repo.path).resolve(ref)
    assert str(info.value) == f"invalid revision {ref!r}: give a branch, tag or commit SHA"


def test_a_ref_that_looks_like_an_option_is_never_one(repo: GitRepoBuilder) -> None:
    git = GitRepository(repo.path)
    for call in (
        lambda: git.resolve("--output=x"),
        lambda: git.changes("--output=x", "main"),
        lambda: git.changes("main", "--output=x"),
        lambda: git.tree("--output=x"),
        lambda: git.merge_base("--output=x", "main"),
    ):
        with pytest.raises(GitError, match="'--output=x' is not a commit"):
            call()
    # Had it been parsed as an option, git diff would have written this file.
    assert not (repo.path / "x").exists()
    assert sorted(p.name for p in repo.path.iterdir()) == [".git", "README.md"]


def test_a_branch_named_like_an_option_resolves_only_as_a_ref(repo: GitRepoBuilder) -> None:
    # 'git branch' refuses such a name, but a ref can hold one (and so can a pushed branch).
    fork = repo.sha()
    repo.branch("tmp")
    repo.checkout("tmp")
    repo.write("grants/p/bob.yaml", "grant\n")
    head = repo.commit("request")
    repo.git("update-ref", "refs/heads/--output=y", head)

    git = GitRepository(repo.path)
    assert git.resolve("--output=y") == head
    assert git.merge_base("main", "--output=y") == fork
    assert [c.path for c in git.changes("main", "--output=y")] == ["grants/p/bob.yaml"]
    assert git.tree("--output=y").read("grants/p/bob.yaml") == b"grant\n"
    assert git.log_first_parent_adding("--output=y", "grants/p/bob.yaml") is not None
    assert not (repo.path / "y").exists()


def test_git_failure_carries_command_and_stderr(repo: GitRepoBuilder) -> None:
    with pytest.raises(GitError) as info:
        GitRepository(repo.path).git("diff", "--raw", "main...nope", "--")
    assert str(info.value) == (f"git diff failed in {repo.path}: fatal: bad revision 'main...nope'")
    assert not isinstance(info.value, subprocess.CalledProcessError)


# -- changes ---------------------------------------------------------------------------


def test_changes_add_delete_modify_and_type_change(repo: GitRepoBuilder) -> None:
    repo.write("keep.txt", "keep\n")
    repo.write("gone.txt", "gone\n")
    repo.write("edit.txt", "before\n")
    repo.write("link.txt", "a file that becomes a link\n")
    repo.write("run.sh", "#!/bin/sh\n")
    base = repo.commit("base")
    feature(repo)
    repo.write("new.txt", "new\n")
    repo.remove("gone.txt")
    repo.write("edit.txt", "after\n")
    repo.symlink("link.txt", "keep.txt")
    repo.write("run.sh", "#!/bin/sh\n", executable=True)
    head = repo.commit("change")

    changes = GitRepository(repo.path).changes("main", "feature")
    assert changes == [
        Change("M", "edit.txt", "100644", "100644",
               blob_sha(repo, base, "edit.txt"), blob_sha(repo, head, "edit.txt")),
        Change("D", "gone.txt", "100644", "000000", blob_sha(repo, base, "gone.txt"), ZERO),
        Change("T", "link.txt", "100644", "120000",
               blob_sha(repo, base, "link.txt"), blob_sha(repo, head, "link.txt")),
        Change("A", "new.txt", "000000", "100644", ZERO, blob_sha(repo, head, "new.txt")),
        Change("M", "run.sh", "100644", "100755",
               blob_sha(repo, base, "run.sh"), blob_sha(repo, head, "run.sh")),
    ]  # fmt: skip


def test_rename_is_a_delete_and_an_add(repo: GitRepoBuilder) -> None:
    text = "apiVersion: gitjit/v1\nkind: Grant\n" * 20
    repo.write("grants/p/bob-20260101T0000Z.yaml", text)
    repo.commit("grant")
    repo.git("config", "diff.renames", "copies")  # a user's config must not bring renames back
    feature(repo)
    repo.git("mv", "grants/p/bob-20260101T0000Z.yaml", "grants/p/bob-20260102T0000Z.yaml")
    repo.commit("rename")

    changes = GitRepository(repo.path).changes("main", "feature")
    assert [(c.status, c.path) for c in changes] == [
        ("D", "grants/p/bob-20260101T0000Z.yaml"),
        ("A", "grants/p/bob-20260102T0000Z.yaml"),
    ]
    assert changes[0].old_blob == changes[1].new_blob


def test_paths_with_spaces_newlines_quotes_and_unicode(repo: GitRepoBuilder) -> None:
    feature(repo)
    names = ["with space.yaml", "new\nline.yaml", 'quote"d\\.yaml', "grants/zoë/ünï 日本.yaml",
             "tab\there.yaml", "--", "-x.yaml", "--output=y"]  # fmt: skip
    for name in names:
        repo.write(name, name)
    repo.commit("odd names")

    git = GitRepository(repo.path)
    changes = git.changes("main", "feature")
    assert sorted(c.path for c in changes) == sorted(names)
    assert {c.status for c in changes} == {"A"}
    assert git.tree("feature").read_many(names) == {name: name.encode() for name in names}


def test_changes_are_from_the_merge_base(repo: GitRepoBuilder) -> None:
    feature(repo)
    repo.write("grants/p/bob.yaml", "grant\n")
    repo.commit("request")
    repo.checkout("main")
    repo.write("policies/p.yaml", "changed on main after branching\n")
    repo.commit("policy change on main")

    git = GitRepository(repo.path)
    assert [c.path for c in git.changes("main", "feature")] == ["grants/p/bob.yaml"]
    assert [c.path for c in git.changes("feature", "main")] == ["policies/p.yaml"]


def test_changes_report_submodules(repo: GitRepoBuilder) -> None:
    feature(repo)
    repo.gitlink("vendor/lib", repo.sha())
    repo.commit("add a submodule")
    (change,) = GitRepository(repo.path).changes("main", "feature")
    assert change == Change("A", "vendor/lib", "000000", "160000", ZERO, repo.sha("main"))


def test_changes_of_identical_commits_are_empty(repo: GitRepoBuilder) -> None:
    assert GitRepository(repo.path).changes("main", "main") == []


def test_changes_without_common_history(repo: GitRepoBuilder) -> None:
    repo.git("checkout", "--quiet", "--orphan", "island")
    repo.write("other.txt", "x\n")
    island = repo.commit("unrelated root")
    with pytest.raises(GitError) as info:
        GitRepository(repo.path).changes("main", "island")
    assert str(info.value) == (
        f"git diff failed in {repo.path}: fatal: {repo.sha('main')}...{island}: no merge base"
    )


def test_parse_raw_diff_rejects_unknown_status() -> None:
    raw = b":100644 100644 " + b"a" * 40 + b" " + b"b" * 40 + b" U\0file\0"
    with pytest.raises(GitError, match="git diff reported status 'U' for 'file'"):
        parse_raw_diff(raw)


def test_parse_raw_diff_rejects_truncated_output() -> None:
    with pytest.raises(GitError, match="truncated record"):
        parse_raw_diff(b":100644 100644 " + b"a" * 40 + b" " + b"b" * 40 + b" M\0")


# -- merge base and history ---------------------------------------------------------------


def test_merge_base(repo: GitRepoBuilder) -> None:
    fork = repo.sha()
    feature(repo)
    repo.write("a.txt", "a\n")
    repo.commit("feature work")
    repo.checkout("main")
    repo.write("b.txt", "b\n")
    repo.commit("main work")
    git = GitRepository(repo.path)
    assert git.merge_base("main", "feature") == fork


def test_merge_base_of_unrelated_histories(repo: GitRepoBuilder) -> None:
    repo.git("checkout", "--quiet", "--orphan", "island")
    repo.commit("unrelated root", allow_empty=True)
    with pytest.raises(GitError) as info:
        GitRepository(repo.path).merge_base("main", "island")
    assert str(info.value) == (
        f"git merge-base failed in {repo.path}: 'main' and 'island' have no common ancestor; "
        "fetch the full history (fetch-depth: 0) or compare related branches"
    )


def test_commit_time_is_the_committer_date_in_utc(repo: GitRepoBuilder) -> None:
    repo.write("a.txt", "a\n")
    sha = repo.commit("dated", date="2026-11-27T10:12:30+01:00")
    when = GitRepository(repo.path).commit_time(sha)
    assert when == datetime(2026, 11, 27, 9, 12, 30, tzinfo=UTC)
    assert when.tzinfo is UTC


def test_first_parent_commit_adding_a_file_is_the_merge(repo: GitRepoBuilder) -> None:
    path = "grants/p/bob-20261127T0912Z.yaml"
    feature(repo)
    repo.write(path, "grant\n")
    repo.commit("request", date=datetime(2026, 11, 27, 9, 12, tzinfo=UTC))
    repo.checkout("main")
    merge = repo.merge("feature", date=datetime(2026, 11, 27, 11, 0, tzinfo=UTC))

    git = GitRepository(repo.path)
    assert git.log_first_parent_adding("main", path) == CommitStamp(
        sha=merge, time=datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    )
    # On the feature branch itself the adding commit is the request.
    assert git.log_first_parent_adding("feature", path) == CommitStamp(
        sha=repo.sha("feature"), time=datetime(2026, 11, 27, 9, 12, tzinfo=UTC)
    )


def test_first_parent_adding_a_renamed_file(repo: GitRepoBuilder) -> None:
    repo.write("grants/p/old.yaml", "same content\n" * 20)
    repo.commit("first")
    repo.git("mv", "grants/p/old.yaml", "grants/p/new.yaml")
    renamed = repo.commit("rename", date=datetime(2026, 2, 1, tzinfo=UTC))
    stamp = GitRepository(repo.path).log_first_parent_adding("main", "grants/p/new.yaml")
    assert stamp == CommitStamp(renamed, datetime(2026, 2, 1, tzinfo=UTC))


def test_first_parent_adding_returns_the_newest_addition(repo: GitRepoBuilder) -> None:
    repo.write("a.yaml", "1\n")
    repo.commit("add", date=datetime(2026, 1, 1, tzinfo=UTC))
    repo.remove("a.yaml")
    repo.commit("remove", date=datetime(2026, 1, 2, tzinfo=UTC))
    repo.write("a.yaml", "2\n")
    again = repo.commit("add again", date=datetime(2026, 1, 3, tzinfo=UTC))
    stamp = GitRepository(repo.path).log_first_parent_adding("main", "a.yaml")
    assert stamp == CommitStamp(again, datetime(2026, 1, 3, tzinfo=UTC))


def test_first_parent_adding_a_file_never_added(repo: GitRepoBuilder) -> None:
    assert GitRepository(repo.path).log_first_parent_adding("main", "nope.yaml") is None


def test_log_path_is_literal_not_a_glob(repo: GitRepoBuilder) -> None:
    repo.write("grants/a.yaml", "a\n")
    repo.commit("a")
    assert GitRepository(repo.path).log_first_parent_adding("main", "grants/*.yaml") is None


# -- trees -----------------------------------------------------------------------------


def test_tree_entries_with_symlink_executable_and_submodule(repo: GitRepoBuilder) -> None:
    repo.write("grants/p/bob.yaml", "grant\n")
    repo.write("grants/p/run.sh", "#!/bin/sh\n", executable=True)
    repo.symlink("grants/p/link.yaml", "bob.yaml")
    repo.gitlink("grants/p/sub", repo.sha())
    repo.write("policies/p.yaml", "policy\n")
    head = repo.commit("tree")

    tree = GitRepository(repo.path).tree("main")
    assert tree.sha == head
    assert tree.entries("grants/") == [
        TreeEntry("grants/p/bob.yaml", "100644", blob_sha(repo, head, "grants/p/bob.yaml")),
        TreeEntry("grants/p/link.yaml", "120000", blob_sha(repo, head, "grants/p/link.yaml")),
        TreeEntry("grants/p/run.sh", "100755", blob_sha(repo, head, "grants/p/run.sh")),
        TreeEntry("grants/p/sub", "160000", repo.sha("main~1")),
    ]
    assert [e.path for e in tree.entries("")] == [
        "README.md",
        "grants/p/bob.yaml",
        "grants/p/link.yaml",
        "grants/p/run.sh",
        "grants/p/sub",
        "policies/p.yaml",
    ]
    assert tree.entries("grants") == tree.entries("grants/")
    assert tree.entries("gra") == []
    assert tree.entries("missing/") == []
    # A symlink's blob is its target text; the caller checks the mode.
    assert tree.read("grants/p/link.yaml") == b"bob.yaml"


def test_tree_is_read_from_the_commit_not_the_disk(repo: GitRepoBuilder) -> None:
    repo.write("a.txt", "committed\n")
    repo.commit("a")
    repo.write("a.txt", "edited on disk\n")
    repo.write("b.txt", "untracked\n")
    tree = GitRepository(repo.path).tree("HEAD")
    assert tree.read("a.txt") == b"committed\n"
    assert not tree.exists("b.txt")


def test_tree_sorts_like_python_not_like_git(repo: GitRepoBuilder) -> None:
    # git orders 'a-b' before 'a/c' by tree rules ('a' as 'a/'); callers get a plain sort.
    repo.write("a/c.yaml", "1")
    repo.write("a-b.yaml", "2")
    repo.write("a.yaml", "3")
    repo.commit("names")
    paths = [e.path for e in GitRepository(repo.path).tree("HEAD").entries("")]
    assert paths == sorted(paths)


def test_tree_with_a_prefix_that_is_a_symlink(repo: GitRepoBuilder) -> None:
    repo.write("elsewhere/x.yaml", "x\n")
    repo.symlink("grants", "elsewhere")
    repo.commit("grants is a link")
    tree = GitRepository(repo.path).tree("HEAD")
    # The link itself is reported, so a caller sees it and can deny; nothing is followed.
    assert [(e.path, e.mode) for e in tree.entries("grants/")] == [("grants", "120000")]
    assert not tree.exists("grants/x.yaml")


def test_exists(repo: GitRepoBuilder) -> None:
    repo.write("policies/p.yaml", "p\n")
    repo.symlink("link", "policies/p.yaml")
    repo.commit("files")
    tree = GitRepository(repo.path).tree("HEAD")
    assert tree.exists("policies/p.yaml")
    assert tree.exists("policies")
    assert tree.exists("link")
    assert not tree.exists("policies/q.yaml")
    assert not tree.exists("link/p.yaml")


def test_read_many_uses_one_cat_file_process(
    repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [f"grants/p/user{i:03}.yaml" for i in range(200)]
    for i, path in enumerate(paths):
        repo.write(path, f"grant {i}\n" if i % 10 else "same\n")  # some blobs are shared
    repo.write("big.bin", bytes(range(256)) * 4096 + b"\n\0\n")
    repo.commit("many")
    tree = GitRepository(repo.path).tree("HEAD")

    calls: list[list[str]] = []

    class CountingPopen(subprocess.Popen[bytes]):
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            calls.append(args)
            super().__init__(args, **kwargs)

    # Every git process starts through Popen (subprocess.run too).
    monkeypatch.setattr(subprocess, "Popen", CountingPopen)
    blobs = tree.read_many([*paths, "big.bin", paths[0]])

    assert [call[1:] for call in calls] == [["cat-file", "--batch"]]
    # The reader stays: reading again, even another commit's files, starts no process.
    assert tree.read_many(paths[:3]) == {path: blobs[path] for path in paths[:3]}
    assert calls == [calls[0]]
    assert len(blobs) == 201
    assert blobs["grants/p/user000.yaml"] == b"same\n"
    assert blobs["grants/p/user001.yaml"] == b"grant 1\n"
    assert blobs["big.bin"] == bytes(range(256)) * 4096 + b"\n\0\n"


def test_entries_named_reads_one_folder_by_name(repo: GitRepoBuilder) -> None:
    for name in ("Bob-1.yaml", "bob-2.yaml", "bobby-3.yaml", "alice-4.yaml", "bob-dir/x.yaml"):
        repo.write(f"grants/p/{name}", name)
    repo.write("grants/q/bob-5.yaml", "other folder")
    repo.symlink("grants/p/bob-link.yaml", "bob-2.yaml")
    repo.commit("grants")
    tree = GitRepository(repo.path).tree("HEAD")
    found = tree.entries_named("grants/p", "bob-")
    assert [(e.path, e.mode) for e in found] == [
        ("grants/p/Bob-1.yaml", "100644"), ("grants/p/bob-2.yaml", "100644"),
        ("grants/p/bob-link.yaml", "120000")]
    assert found[0].blob == repo.git("rev-parse", "HEAD:grants/p/Bob-1.yaml").strip()
    assert tree.entries_named("grants/missing", "bob-") == []
    assert tree.entries_named("grants/p/Bob-1.yaml", "bob-") == []


def test_a_replace_ref_never_changes_what_a_file_reads(repo: GitRepoBuilder) -> None:
    # refs/replace/<sha> makes git show other content for an object everywhere; gitjit reads
    # what the SHA names (GIT_NO_REPLACE_OBJECTS), also through the long-lived object reader.
    repo.write("grants/p/bob.yaml", "duration: 1h\n")
    repo.commit("a grant")
    real = repo.git("rev-parse", "HEAD:grants/p/bob.yaml").strip()
    repo.write("forged.txt", "duration: 365d\n")
    forged = repo.git("hash-object", "-w", "forged.txt").strip()
    repo.git("replace", real, forged)
    assert repo.git("cat-file", "-p", real) == "duration: 365d\n"
    tree = GitRepository(repo.path).tree("HEAD")
    assert tree.read("grants/p/bob.yaml") == b"duration: 1h\n"
    assert tree.entries("grants")[0].blob == real


def test_read_many_of_nothing_runs_nothing(repo: GitRepoBuilder) -> None:
    assert GitRepository(repo.path).tree("HEAD").read_many([]) == {}


def test_read_missing_files(repo: GitRepoBuilder) -> None:
    tree = GitRepository(repo.path).tree("HEAD")
    with pytest.raises(GitjitError) as info:
        tree.read_many(["README.md", "a.yaml", "b/c.yaml"])
    assert str(info.value) == f"no such file at commit {tree.sha[:12]}: 'a.yaml', 'b/c.yaml'"


def test_read_a_folder_is_missing(repo: GitRepoBuilder) -> None:
    repo.write("policies/p.yaml", "p\n")
    repo.commit("p")
    tree = GitRepository(repo.path).tree("HEAD")
    with pytest.raises(GitjitError, match="no such file at commit [0-9a-f]{12}: 'policies'"):
        tree.read("policies")


def test_read_a_submodule(repo: GitRepoBuilder) -> None:
    repo.gitlink("sub", repo.sha())
    repo.commit("sub")
    tree = GitRepository(repo.path).tree("HEAD")
    with pytest.raises(GitjitError) as info:
        tree.read("sub")
    assert (
        str(info.value) == f"sub is a submodule (mode 160000) at commit {tree.sha[:12]}, not a file"
    )


def test_read_path_is_literal_not_a_glob(repo: GitRepoBuilder) -> None:
    repo.write("grants/a.yaml", "a\n")
    repo.commit("a")
    tree = GitRepository(repo.path).tree("HEAD")
    assert not tree.exists("grants/*.yaml")
    with pytest.raises(GitjitError, match="no such file"):
        tree.read("grants/*.yaml")
    with pytest.raises(GitjitError, match="no such file"):
        tree.read(":(glob)grants/*")


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a//b", "./a", ".git/config", ""])
def test_tree_rejects_paths_outside_the_tree(repo: GitRepoBuilder, path: str) -> None:
    tree = GitRepository(repo.path).tree("HEAD")
    with pytest.raises(GitjitError) as info:
        tree.read(path)
    assert str(info.value) == (
        f"invalid path {path!r}: use a path relative to the repository root with '/' between "
        "parts and no '.', '..', '.git' or empty parts"
    )


# -- the fixtures this suite relies on ---------------------------------------------------


def test_commits_are_pinned_and_reproducible(repo_factory: RepoFactory) -> None:
    one, two = repo_factory("one"), repo_factory("two")
    assert one.sha() == two.sha()
    log = one.git("log", "-1", "--format=%an <%ae>|%cn <%ce>|%aI|%cI")
    assert log == (
        "Test Author <author@example.invalid>|Test Committer <committer@example.invalid>|"
        "2026-01-05T09:00:00+00:00|2026-01-05T09:00:00+00:00\n"
    )
    assert one.git("config", "--get", "init.defaultBranch") == "main\n"
    assert one.git("symbolic-ref", "HEAD") == "refs/heads/main\n"


def test_network_is_blocked_beyond_loopback() -> None:
    with pytest.raises(RuntimeError, match="network access to .* is blocked in tests"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match="is blocked in tests"):
            sock.connect(("example.com", 80))


def test_loopback_is_allowed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.connect(("localhost", port))


def test_first_parent_additions_agrees_with_one_walk_per_path(repo: GitRepoBuilder) -> None:
    repo.write("grants/p/a-20261130T0900Z.yaml", "a")
    repo.commit("direct", date="2026-11-30T09:00:00+00:00")
    repo.branch("feature")
    repo.checkout("feature")
    repo.write("grants/p/b-20261130T1000Z.yaml", "b")
    repo.write("grants/p/odd\nname.yaml", "c")
    repo.commit("on a branch", date="2026-11-30T10:00:00+00:00")
    repo.checkout("main")
    repo.merge("feature", date="2026-11-30T11:00:00+00:00")
    repo.remove("grants/p/a-20261130T0900Z.yaml")
    repo.commit("removed", date="2026-11-30T12:00:00+00:00")
    repo.write("grants/p/a-20261130T0900Z.yaml", "a again")
    repo.commit("re-added", date="2026-11-30T13:00:00+00:00")
    git = GitRepository(repo.path)
    paths = ["grants/p/a-20261130T0900Z.yaml", "grants/p/b-20261130T1000Z.yaml",
             "grants/p/odd\nname.yaml", "grants/p/never.yaml"]

    together = git.first_parent_additions("main", paths)

    one_by_one = {p: s for p in paths if (s := git.log_first_parent_adding("main", p))}
    assert together == one_by_one
    assert together["grants/p/b-20261130T1000Z.yaml"].time == datetime(2026, 11, 30, 11, tzinfo=UTC)
    assert together["grants/p/a-20261130T0900Z.yaml"].time == datetime(2026, 11, 30, 13, tzinfo=UTC)
    assert "grants/p/never.yaml" not in together


def test_a_capped_read_keeps_only_the_start_of_a_large_blob_and_stays_in_step(
        repo: GitRepoBuilder) -> None:
    repo.write("policies/huge.yaml", "x" * 3_000_000)
    repo.write("policies/small.yaml", "small\n")
    repo.commit("a huge file")
    tree = GitRepository(repo.path).tree("main")

    read = tree.read_many(["policies/huge.yaml", "policies/small.yaml"], limit=1000)

    huge = read["policies/huge.yaml"]
    assert isinstance(huge, Oversized) and (len(huge), huge.size) == (1001, 3_000_000)
    assert read["policies/small.yaml"] == b"small\n"
    # The reader skipped the rest of the blob: the next answer is the next object's.
    assert tree.read_many(["policies/small.yaml"], limit=10) == {"policies/small.yaml": b"small\n"}
    assert tree.read("policies/huge.yaml") == b"x" * 3_000_000
