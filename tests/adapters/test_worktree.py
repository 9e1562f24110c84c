"""The working-tree adapter: files on disk reported as git would store them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.worktree import WorkTree
from engine.core.changes import Oversized, TreeEntry
from engine.errors import GitjitError
from tests.gitrepo import GitRepoBuilder, RepoFactory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "grants/p").mkdir(parents=True)
    (tree / "grants/p/bob.yaml").write_bytes(b"grant\n")
    run = tree / "grants/p/run.sh"
    run.write_bytes(b"#!/bin/sh\n")
    run.chmod(0o755)
    (tree / "grants/p/link.yaml").symlink_to("bob.yaml")
    (tree / "grants/p/dangling.yaml").symlink_to("/nonexistent")
    (tree / "grants/p/dirlink").symlink_to("../../policies")
    (tree / "grants/p/nested").mkdir()
    (tree / "grants/p/nested/.git").mkdir()
    (tree / "grants/p/nested/inside.yaml").write_bytes(b"never listed\n")
    (tree / "grants/p/checkout").mkdir()
    (tree / "grants/p/checkout/.git").write_text("gitdir: ../../.git/modules/checkout\n")
    (tree / "grants/empty").mkdir()
    (tree / "policies").mkdir()
    (tree / "policies/p.yaml").write_bytes(b"policy\n")
    (tree / ".git").mkdir()
    (tree / ".git/config").write_bytes(b"[core]\n")
    return tree


def test_entries_report_git_modes(root: Path) -> None:
    assert WorkTree(root).entries("grants/") == [
        TreeEntry("grants/p/bob.yaml", "100644"),
        TreeEntry("grants/p/checkout", "160000"),
        TreeEntry("grants/p/dangling.yaml", "120000"),
        TreeEntry("grants/p/dirlink", "120000"),
        TreeEntry("grants/p/link.yaml", "120000"),
        TreeEntry("grants/p/nested", "160000"),
        TreeEntry("grants/p/run.sh", "100755"),
    ]


def test_entries_of_everything_skip_dot_git(root: Path) -> None:
    paths = [e.path for e in WorkTree(root).entries("")]
    assert paths == [
        "grants/p/bob.yaml",
        "grants/p/checkout",
        "grants/p/dangling.yaml",
        "grants/p/dirlink",
        "grants/p/link.yaml",
        "grants/p/nested",
        "grants/p/run.sh",
        "policies/p.yaml",
    ]


def test_entries_prefix_forms(root: Path) -> None:
    tree = WorkTree(root)
    assert (
        tree.entries("policies")
        == tree.entries("policies/")
        == [TreeEntry("policies/p.yaml", "100644")]
    )
    assert tree.entries("policies/p.yaml") == [TreeEntry("policies/p.yaml", "100644")]
    assert tree.entries("pol") == []
    assert tree.entries("missing/") == []
    assert tree.entries("grants/p/bob.yaml/x") == []


def test_entries_below_a_linked_folder_are_not_followed(root: Path) -> None:
    tree = WorkTree(root)
    # The link itself is reported (so a caller can deny it), never what it points at.
    assert tree.entries("grants/p/dirlink/") == [TreeEntry("grants/p/dirlink", "120000")]
    assert tree.entries("grants/p/dirlink/p.yaml") == []


def test_entries_of_a_linked_top_folder(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/x.yaml").write_bytes(b"x\n")
    (tmp_path / "grants").symlink_to("elsewhere")
    assert WorkTree(tmp_path).entries("grants/") == [TreeEntry("grants", "120000")]


def test_special_files_are_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        (tmp_path / "a.yaml").write_bytes(b"a\n")
        assert WorkTree(tmp_path).entries("") == [TreeEntry("a.yaml", "100644")]


def test_read_regular_file(root: Path) -> None:
    assert WorkTree(root).read("grants/p/bob.yaml") == b"grant\n"
    assert WorkTree(root).read_many(["policies/p.yaml", "grants/p/bob.yaml"]) == {
        "policies/p.yaml": b"policy\n",
        "grants/p/bob.yaml": b"grant\n",
    }


@pytest.mark.parametrize("path", ["grants/p/link.yaml", "grants/p/dangling.yaml"])
def test_read_refuses_a_symlink(root: Path, path: str) -> None:
    with pytest.raises(GitjitError) as info:
        WorkTree(root).read(path)
    assert str(info.value) == (
        f"{path}: is a symbolic link; gitjit never follows links, replace it with a regular file"
    )


def test_read_refuses_a_symlinked_folder_on_the_way(root: Path) -> None:
    with pytest.raises(GitjitError) as info:
        WorkTree(root).read("grants/p/dirlink/p.yaml")
    assert str(info.value) == (
        "grants/p/dirlink: is a symbolic link; gitjit never follows links, "
        "replace it with a regular file"
    )


def test_read_missing_file(root: Path) -> None:
    with pytest.raises(GitjitError) as info:
        WorkTree(root).read("grants/p/nobody.yaml")
    assert str(info.value) == f"grants/p/nobody.yaml: no such file in the working tree {root}"
    with pytest.raises(GitjitError) as info:
        WorkTree(root).read("nowhere/at/all.yaml")
    assert str(info.value) == f"nowhere: no such file in the working tree {root}"
    with pytest.raises(GitjitError) as info:
        WorkTree(root).read("grants/p/bob.yaml/x")
    assert str(info.value) == f"grants/p/bob.yaml: no such file in the working tree {root}"


def test_read_a_folder(root: Path) -> None:
    with pytest.raises(GitjitError) as info:
        WorkTree(root).read("policies")
    assert str(info.value) == f"policies: is a folder, not a file ({root})"


def test_read_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(GitjitError) as info:
        WorkTree(tmp_path).read("fifo")
    assert str(info.value) == (
        "fifo: is not a regular file (a device, socket or pipe); "
        "git can only store regular files and links"
    )


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", ".git/config", "a/./b", "a/"])
def test_read_rejects_paths_that_leave_the_tree(root: Path, path: str) -> None:
    with pytest.raises(GitjitError, match=r"^invalid path"):
        WorkTree(root).read(path)


def test_exists(root: Path) -> None:
    tree = WorkTree(root)
    assert tree.exists("grants/p/bob.yaml")
    assert tree.exists("grants/p/link.yaml")
    assert tree.exists("grants/p/dangling.yaml")  # the link exists, whatever it points at
    assert tree.exists("policies")
    assert not tree.exists("grants/p/dirlink/p.yaml")
    assert not tree.exists("grants/p/bob.yaml/x")
    assert not tree.exists("nope")


def test_worktree_matches_the_committed_tree(repo: GitRepoBuilder) -> None:
    repo.write("grants/p/bob.yaml", "grant\n")
    repo.write("grants/p/run.sh", "#!/bin/sh\n", executable=True)
    repo.symlink("grants/p/link.yaml", "bob.yaml")
    repo.write("policies/p.yaml", "policy\n")
    repo.commit("files")
    git = GitRepository(repo.path)
    committed = [(e.path, e.mode) for e in git.tree("HEAD").entries("")]
    on_disk = [(e.path, e.mode) for e in git.worktree().entries("")]
    assert on_disk == committed


def test_worktree_reports_a_real_submodule_like_git(
    repo: GitRepoBuilder, repo_factory: RepoFactory
) -> None:
    inner = repo_factory("inner")
    repo.git("-c", "protocol.file.allow=always", "submodule", "--quiet", "add",
             str(inner.path), "vendor/inner")  # fmt: skip
    repo.commit("submodule")
    git = GitRepository(repo.path)
    assert git.tree("HEAD").entries("vendor/") == [TreeEntry("vendor/inner", "160000", inner.sha())]
    assert git.worktree().entries("vendor/") == [TreeEntry("vendor/inner", "160000")]


def test_a_capped_read_keeps_only_the_start_of_a_large_file(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies/huge.yaml").write_bytes(b"x" * 3_000_000)
    (tmp_path / "policies/small.yaml").write_bytes(b"small\n")

    read = WorkTree(tmp_path).read_many(["policies/huge.yaml", "policies/small.yaml"],
                                        limit=1000)

    huge = read["policies/huge.yaml"]
    assert isinstance(huge, Oversized) and (len(huge), huge.size) == (1001, 3_000_000)
    assert read["policies/small.yaml"] == b"small\n"
    assert WorkTree(tmp_path).read_many(["policies/small.yaml"], limit=6) == {
        "policies/small.yaml": b"small\n"}
