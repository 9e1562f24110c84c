"""The local forge beyond the shared contract: conflicts, races, the gate, its state file."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge, MergeRefusedError
from engine.core.forge import PullRequestInfo, PullRequestState
from engine.core.models import Login, ReviewState
from engine.errors import GitjitError
from tests.gitrepo import GitRepoBuilder, RepoFactory

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ANA, LEA = Login("ana"), Login("lea")


def branch(repo: GitRepoBuilder, name: str, files: dict[str, str]) -> str:
    repo.branch(name)
    repo.checkout(name)
    for path, text in files.items():
        repo.write(path, text)
    sha = repo.commit(f"work on {name}")
    repo.checkout("main")
    return sha


def open_pr(forge: LocalForge, repo: GitRepoBuilder, name: str = "request",
            files: dict[str, str] | None = None) -> PullRequestInfo:
    branch(repo, name, files or {f"notes/{name}.txt": f"{name}\n"})
    return forge.open_pull_request(author=ANA, head_ref=name, base="main", title=f"Add {name}",
                                   body="")


@pytest.fixture
def forge(repo: GitRepoBuilder) -> LocalForge:
    return LocalForge(GitRepository(repo.path))


def test_merge_conflict_names_the_paths_and_changes_nothing(repo: GitRepoBuilder,
                                                             forge: LocalForge) -> None:
    number = open_pr(forge, repo, files={"README.md": "theirs\n", "notes/x.txt": "x\n"}).number
    repo.write("README.md", "ours\n")
    base = repo.commit("edit the readme on main")

    with pytest.raises(GitjitError) as caught:
        forge.merge(number, LEA, at=AT)

    assert str(caught.value) == (
        "pull request #1 cannot be merged: 'request' conflicts with 'main' in README.md; "
        "merge or rebase 'main' into the branch, resolve the conflicts and push again")
    assert repo.sha("main") == base
    assert forge.pull_request(number).state is PullRequestState.OPEN


def test_merge_leaves_working_tree_and_index_alone(repo: GitRepoBuilder,
                                                   forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    repo.checkout("request")
    repo.write("scratch.txt", "uncommitted\n")

    merged = forge.merge(number, LEA, at=AT)

    assert repo.git("status", "--porcelain") == "?? scratch.txt\n"
    assert repo.sha("main") == merged.merge_sha
    assert repo.git("log", "-1", "--format=%an|%cn|%s%n%b", "main") == (
        "lea|gitjit local forge|Merge pull request #1 from request\nAdd request\n\n")
    assert not forge.checked_out("main")
    assert forge.checked_out("request")


def test_concurrent_merges_both_land(repo: GitRepoBuilder, forge: LocalForge) -> None:
    numbers = [open_pr(forge, repo, f"pr-{n}").number for n in range(4)]
    errors: list[BaseException] = []

    def merge(number: int) -> None:
        try:
            # Each thread its own forge, as separate CLI calls would have.
            LocalForge(GitRepository(repo.path)).merge(number, LEA, at=AT)
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=merge, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    merged = [forge.pull_request(n) for n in numbers]
    assert all(pr.state is PullRequestState.MERGED for pr in merged)
    first_parents = repo.git("rev-list", "--first-parent", "main").split()
    assert {pr.merge_sha for pr in merged} == set(first_parents[:4])
    for path in (f"notes/pr-{n}.txt" for n in range(4)):
        assert repo.git("cat-file", "-t", f"main:{path}") == "blob\n"


def test_merge_retries_when_the_base_moves(repo: GitRepoBuilder, forge: LocalForge,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    number = open_pr(forge, repo).number
    real_update_ref = GitRepository.update_ref
    moved: list[str] = []

    def racing_update_ref(self: GitRepository, ref: str, new: str, old: str | None, *,
                          message: str) -> bool:
        if not moved:
            # Someone pushes to main just before our compare-and-swap.
            repo.write("notes/pushed.txt", "pushed\n")
            moved.append(repo.commit("a push that races the merge"))
        return real_update_ref(self, ref, new, old, message=message)

    monkeypatch.setattr(GitRepository, "update_ref", racing_update_ref)
    merged = forge.merge(number, LEA, at=AT)

    assert merged.merge_sha == repo.sha("main")
    assert repo.git("rev-list", "--parents", "-n", "1", "main").split()[1:] == [
        moved[0], repo.sha("request")]


def test_gate_refuses_and_nothing_moves(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    base = repo.sha("main")
    seen: list[PullRequestInfo] = []

    def gate(info: PullRequestInfo) -> str | None:
        seen.append(info)
        return "the verdict is pending: reports-read step 1 needs 1 more approval"

    with pytest.raises(MergeRefusedError) as caught:
        forge.merge(number, LEA, at=AT, gate=gate)

    assert str(caught.value) == ("pull request #1 was not merged: the verdict is pending: "
                                 "reports-read step 1 needs 1 more approval")
    assert seen == [forge.pull_request(number)]
    assert repo.sha("main") == base
    assert forge.pull_request(number).state is PullRequestState.OPEN
    assert forge.merge(number, LEA, at=AT, gate=lambda info: None).state is \
        PullRequestState.MERGED


def test_gate_may_read_the_forge(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    forge.submit_review(number, LEA, ReviewState.APPROVED, at=AT)

    def gate(info: PullRequestInfo) -> str | None:
        forge.comment(info.number, "gitjit-verdict", "approved")
        return None if forge.reviews(info.number) else "no reviews"

    assert forge.merge(number, LEA, at=AT, gate=gate).state is PullRequestState.MERGED
    assert forge.comments(number) == {"gitjit-verdict": "approved"}


def test_head_is_fixed_at_merge(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    head = repo.sha("request")
    forge.merge(number, LEA, at=AT)
    branch(repo, "unrelated", {"x.txt": "x\n"})
    repo.git("branch", "-f", "request", "unrelated")
    assert forge.pull_request(number).head_sha == head


def test_deleted_branch_keeps_the_last_head(repo: GitRepoBuilder, forge: LocalForge) -> None:
    opened = open_pr(forge, repo)
    repo.git("branch", "-D", "request")
    assert forge.pull_request(opened.number).head_sha == opened.head_sha


def test_close(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    closed = forge.close(number, at=AT)
    assert closed.state is PullRequestState.CLOSED
    assert forge.closed_at(number) == AT
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: forge.merge(number, LEA, at=AT),
         "pull request #1 is closed: only open pull requests can be merged"),
        (lambda: forge.close(number, at=AT),
         "pull request #1 is closed: only open pull requests can be closed"),
        (lambda: forge.record_push(number, "ben"),
         "pull request #1 is closed: pushes to its branch no longer change it"),
    ]
    for action, message in cases:
        with pytest.raises(GitjitError) as caught:
            action()
        assert str(caught.value) == message


def test_open_refusals(repo: GitRepoBuilder, forge: LocalForge) -> None:
    open_pr(forge, repo)
    cases = [
        ({"head_ref": "request"}, "pull request #1 from 'request' into 'main' is already open: "
                                  "push to its branch instead"),
        ({"head_ref": "main"}, "cannot open a pull request from 'main' into itself: push the "
                               "change to its own branch first"),
        ({"head_ref": "a..b"}, "'a..b' is not a valid branch name: give a short branch name "
                               "such as 'main' or 'request/ana-reports'"),
        ({"head_ref": "request", "base": "develop"},
         f"base branch 'develop' does not exist in {repo.path}"),
        ({"head_ref": "gone"}, f"branch 'gone' does not exist in {repo.path}: create and "
                               "commit to it first (git switch -c BRANCH)"),
    ]
    for overrides, message in cases:
        args: dict[str, Any] = {"author": ANA, "head_ref": "request", "base": "main",
                                "title": "t", "body": "", **overrides}
        with pytest.raises(GitjitError) as caught:
            forge.open_pull_request(**args)
        assert str(caught.value) == message


def test_untitled_pull_request_takes_the_commit_subject(repo: GitRepoBuilder,
                                                        forge: LocalForge) -> None:
    branch(repo, "request", {"x.txt": "x\n"})
    opened = forge.open_pull_request(author=ANA, head_ref="request", base="main", title="",
                                     body="", at=AT)
    assert opened.title == "work on request"
    assert forge.opened_at(opened.number) == AT


def test_unknown_number_says_what_exists(repo: GitRepoBuilder, forge: LocalForge) -> None:
    with pytest.raises(GitjitError) as caught:
        forge.pull_request(1)
    assert str(caught.value) == ("there is no pull request #1 in the local forge (none has been "
                                 "opened yet); see 'gitjit local list'")
    open_pr(forge, repo)
    with pytest.raises(GitjitError) as caught:
        forge.reviews(7)
    assert str(caught.value) == ("there is no pull request #7 in the local forge (numbers 1 to "
                                 "1 exist); see 'gitjit local list'")


def test_reviews(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    forge.submit_review(number, "Lea", ReviewState.APPROVED, at=AT, body="ok")
    forge.submit_review(number, "renovate[bot]", ReviewState.APPROVED,
                        at=AT + timedelta(seconds=1))
    forge.submit_review(number, "lea", ReviewState.DISMISSED, at=AT + timedelta(hours=1),
                        commit="main")
    reviews = forge.reviews(number)
    assert [(r.reviewer, r.state, r.is_bot, r.id) for r in reviews] == [
        ("lea", ReviewState.APPROVED, False, 1), ("renovate[bot]", ReviewState.APPROVED, True, 2),
        ("lea", ReviewState.DISMISSED, False, 3)]
    assert reviews[2].commit == repo.sha("main")
    assert forge.review_bodies(number) == {1: "ok", 2: "", 3: ""}
    for kwargs, message in [
        ({"reviewer": "lea", "state": ReviewState.PENDING, "at": AT},
         "a PENDING review is not submitted yet: submit APPROVED, CHANGES_REQUESTED, COMMENTED "
         "or DISMISSED"),
        ({"reviewer": "-lea", "state": ReviewState.APPROVED, "at": AT},
         "invalid reviewer: invalid login '-lea': "),
        ({"reviewer": "lea", "state": ReviewState.APPROVED, "at": datetime(2026, 12, 1)},
         "time 2026-12-01T00:00:00 has no UTC offset; pass an aware time"),
    ]:
        with pytest.raises(GitjitError) as caught:
            forge.submit_review(number, **kwargs)  # type: ignore[arg-type]
        assert str(caught.value).startswith(message)


def test_pushers_are_recorded_once(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    for login in ("ben", "Ben", "ana"):
        forge.record_push(number, login)
    assert forge.pushers(number).logins == frozenset({ANA, Login("ben")})


def test_state_lives_in_the_git_dir_and_clones_do_not_carry_it(
        repo: GitRepoBuilder, forge: LocalForge, repo_factory: RepoFactory) -> None:
    open_pr(forge, repo)
    assert forge.path == repo.path / ".git" / "gitjit" / "forge.json"
    assert json.loads(forge.path.read_text(encoding="utf-8"))["next_number"] == 2
    assert repo.git("status", "--porcelain") == ""
    clone = repo_factory.base / "clone"
    repo.git("clone", "--quiet", str(repo.path), str(clone))
    with pytest.raises(GitjitError, match="none has been opened yet"):
        LocalForge(GitRepository(clone)).pull_request(1)


def test_a_linked_worktree_shares_the_state(repo: GitRepoBuilder, forge: LocalForge) -> None:
    number = open_pr(forge, repo).number
    other = repo.path.parent / "linked"
    repo.git("worktree", "add", "--quiet", "--detach", str(other))
    assert LocalForge(GitRepository(other)).pull_request(number).number == number


def test_damaged_state_is_a_clear_error(repo: GitRepoBuilder, forge: LocalForge) -> None:
    open_pr(forge, repo)
    forge.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(GitjitError) as caught:
        forge.pull_request(1)
    assert str(caught.value).startswith(f"the local forge's state {forge.path} is not valid JSON")
    assert str(caught.value).endswith("restore it, or delete it to start with no pull requests")
    forge.path.write_text('{"version": 99}', encoding="utf-8")
    with pytest.raises(GitjitError) as caught:
        forge.pull_request(1)
    assert str(caught.value) == (f"the local forge's state {forge.path} is not version 1; it "
                                 "was written by another gitjit version")


def _edited(forge: LocalForge, edit: Callable[[dict[str, Any]], None]) -> str:
    """The error the forge gives after ``edit`` was made to its file by hand."""
    state = json.loads(forge.path.read_text(encoding="utf-8"))
    edit(state)
    forge.path.write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(GitjitError) as caught:
        forge.reviews(1)
    message = str(caught.value)
    prefix = f"the local forge's state {forge.path} is damaged: "
    suffix = ("; fix that entry (docs/local-forge.md describes the file) or delete the file "
              "to start with no pull requests")
    assert message.startswith(prefix) and message.endswith(suffix)
    return message.removeprefix(prefix).removesuffix(suffix)


def _pr(state: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = state["pull_requests"]["1"]
    return record


def _review(state: dict[str, Any]) -> dict[str, Any]:
    review: dict[str, Any] = _pr(state)["reviews"][0]
    return review


HAND_EDITS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (lambda s: _pr(s).pop("author"), 'pull_requests["1"]: lacks author'),
    (lambda s: _pr(s).update(reviews={}), 'pull_requests["1"].reviews: is not a list'),
    (lambda s: _review(s).update(state="APPROVE"),
     'pull_requests["1"].reviews[0].state: "APPROVE" is not one of APPROVED, '
     "CHANGES_REQUESTED, COMMENTED, DISMISSED"),
    (lambda s: _review(s).update(submitted_at="2026-12-01T09:02:00"),
     'pull_requests["1"].reviews[0].submitted_at: "2026-12-01T09:02:00" has no UTC offset'),
    (lambda s: _review(s).update(submitted_at="yesterday"),
     'pull_requests["1"].reviews[0].submitted_at: "yesterday" is not a time (ISO 8601 with '
     "an offset, as 2026-12-01T09:00:00+00:00)"),
    (lambda s: _review(s).update(is_bot="no"),
     'pull_requests["1"].reviews[0].is_bot: "no" is not true or false'),
    (lambda s: _review(s).update(id="7"),
     'pull_requests["1"].reviews[0].id: "7" is not a whole number of at least 1'),
    (lambda s: _review(s).update(commit="HEAD"),
     'pull_requests["1"].reviews[0].commit: "HEAD" is not a full commit id (40 lower-case hex '
     "digits)"),
    (lambda s: _pr(s).update(state="MERGED"),
     'pull_requests["1"].state: "MERGED" is not one of closed, merged, open'),
    (lambda s: _pr(s).update(state="merged"),
     'pull_requests["1"].merge_sha: null is not a full commit id (40 lower-case hex digits)'),
    (lambda s: _pr(s).update(number=2), 'pull_requests["1"].number: 2 is not its key 1'),
    (lambda s: s.update(next_number=1), "next_number: 1 is not above pull request #1"),
    (lambda s: s.update(next_id=1),
     "next_id: 1 is not above every review and comment id (the highest is 1)"),
    (lambda s: _pr(s).update(extra=1), 'pull_requests["1"]: has unknown key(s) extra'),
    (lambda s: _pr(s).update(pushers=["lea", 3]),
     'pull_requests["1"].pushers[1]: 3 is not a non-empty string'),
    (lambda s: s.update(pull_requests=[]), "pull_requests: is not a JSON object"),
    (lambda s: s.update(heartbeat=12), "heartbeat: 12 is not a non-empty string"),
]


@pytest.mark.parametrize(("edit", "problem"), HAND_EDITS)
def test_a_hand_edited_state_is_a_clear_error_naming_the_field(
        repo: GitRepoBuilder, forge: LocalForge, edit: Callable[[dict[str, Any]], None],
        problem: str) -> None:
    number = open_pr(forge, repo).number
    forge.submit_review(number, "lea", ReviewState.APPROVED, at=AT)
    assert _edited(forge, edit) == problem


def test_a_login_edited_into_another_case_is_refused_not_read_as_someone_else(
        repo: GitRepoBuilder, forge: LocalForge) -> None:
    """The attack: ana edits the forge file so that her own approval reads 'ANA' (or 'Ana'),
    hoping it compares unequal to the requester 'ana' and counts. Logins are read only in the
    one lower-case form gitjit writes."""
    number = open_pr(forge, repo).number
    forge.submit_review(number, "lea", ReviewState.APPROVED, at=AT)
    assert _edited(forge, lambda s: _review(s).update(reviewer="ANA")) == (
        'pull_requests["1"].reviews[0].reviewer: "ANA" must be written in lower case ("ana"): '
        "logins are compared without regard to case")
    assert _edited(forge, lambda s: _review(s).update(reviewer="a@na")) == (
        "pull_requests[\"1\"].reviews[0].reviewer: invalid login 'a@na': a GitHub login has "
        "only ASCII letters, digits and single hyphens, does not start or end with a hyphen, "
        "and has at most 39 characters")


def test_what_another_process_writes_is_read_at_once(repo: GitRepoBuilder,
                                                     forge: LocalForge) -> None:
    # The reader keeps what it parsed while the file's bytes are unchanged; another
    # process's write (here another LocalForge on the same repository) is seen on the next
    # call, merge lookup included.
    number = open_pr(forge, repo).number
    assert forge.pull_request(number).state is PullRequestState.OPEN
    assert forge.pull_request_for_commit(repo.sha("main")) is None
    other = LocalForge(GitRepository(repo.path))
    merge = other.merge(number, LEA, at=AT).merge_sha
    assert merge is not None
    assert forge.pull_request(number).state is PullRequestState.MERGED
    found = forge.pull_request_for_commit(merge.upper())
    assert found is not None and found.number == number


def test_the_heartbeat_does_not_rewrite_the_pull_requests(repo: GitRepoBuilder,
                                                          forge: LocalForge) -> None:
    # Reconcile stamps a heartbeat every run: a forge with thousands of pull requests must
    # not be rewritten each time.
    open_pr(forge, repo)
    before = forge.path.read_bytes()
    forge.record_heartbeat(AT)
    forge.record_heartbeat(AT - timedelta(minutes=5))  # an older stamp never goes back
    forge.record_watchdog_alert(AT)
    assert forge.path.read_bytes() == before
    assert json.loads(forge.marks_path.read_text(encoding="utf-8")) == {
        "heartbeat": "2026-12-01T09:00:00+00:00", "watchdog_alert": "2026-12-01T09:00:00+00:00"}
    assert (forge.last_heartbeat(), forge.last_watchdog_alert()) == (AT, AT)


def test_a_heartbeat_an_older_version_kept_in_forge_json_still_counts(
        repo: GitRepoBuilder, forge: LocalForge) -> None:
    open_pr(forge, repo)
    state = json.loads(forge.path.read_text(encoding="utf-8"))
    forge.path.write_text(json.dumps({**state, "heartbeat": "2026-12-01T10:00:00Z"}),
                          encoding="utf-8")
    assert forge.last_heartbeat() == AT + timedelta(hours=1)
    forge.record_heartbeat(AT)  # older than the one kept: nothing changes
    assert forge.last_heartbeat() == AT + timedelta(hours=1)
    assert not forge.marks_path.exists()
    forge.marks_path.write_text("[1]", encoding="utf-8")
    with pytest.raises(GitjitError, match=r"are not a JSON object; delete the file"):
        forge.last_heartbeat()
