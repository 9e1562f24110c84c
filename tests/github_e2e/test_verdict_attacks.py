"""Attacks on the verdict and on who counts, performed as an attacker would on GitHub (issue 8,
items 1-4, 6 and 13; issue 7's used grant ids), and shown to fail with a clear reason.

The attacker works with their own token through PyGithub and pushes with plain git from their
own clone; gitjit runs as the evaluate and lifecycle workflows would (the App's token, a fresh
clone of the default branch, the pull request's head fetched as data). The configuration is
tests/orders_access.py: bob (sre) may request orders-admin; dave (dba) and sam (security)
must both approve; root is an admin."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import github
import pytest
import yaml

from engine.cli import run
from tests.github.emulator import User
from tests.github.fixtures import github_emulator
from tests.github_e2e.test_lifecycle_on_github import POLICY, REPO, T0, World, world

__all__ = ["github_emulator", "world"]

GRANT_PATH = f"grants/orders-admin/bob-{T0:%Y%m%dT%H%MZ}.yaml"
GRANT_ID = GRANT_PATH.removeprefix("grants/").removesuffix(".yaml")
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: orders-admin
requester: bob
duration: 1h
justification: Replication lag on the orders primary (INC-1234)
"""


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def push(world: World, user: User, branch: str, files: Mapping[str, str | None], *,
         start: str = "main", email: str | None = None, message: str = "Change",
         force_from: str | None = None) -> str:
    """``user`` commits ``files`` (None deletes) on ``branch`` in their own clone and pushes
    it with plain git; ``email`` is the address they commit under (default: their own)."""
    clone = world.clone()
    own = {**os.environ, **world.gh.git_env(user)}  # their own token, over HTTP
    git(clone, "fetch", "--quiet", "origin", env=own)
    remote = git(clone, "ls-remote", "--heads", "origin", branch, env=own)
    git(clone, "checkout", "--quiet", "-B", branch,
        force_from or (f"origin/{branch}" if remote else f"origin/{start}"))
    for path, content in files.items():
        target = clone / path
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
    address = email or (user.emails or [user.noreply_email])[0]
    identity = {f"GIT_{role}_{part}": value for role in ("AUTHOR", "COMMITTER")
                for part, value in (("NAME", user.login), ("EMAIL", address))}
    env = {**os.environ, **identity}
    git(clone, "add", "--all")
    git(clone, "commit", "--quiet", "--allow-empty", "-m", message, env=env)
    git(clone, "push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}", env=own)
    return git(clone, "rev-parse", "HEAD")


def request(world: World, branch: str = "bob/orders", base: str = "main") -> int:
    """bob's request for orders-admin, opened with his own token."""
    push(world, world.bob, branch, {GRANT_PATH: GRANT}, message="Request orders-admin")
    pull = world.api(world.bob).create_pull(title="orders-admin", body="", head=branch,
                                            base=base)
    return int(pull.number)


def approve(world: World, number: int, *people: User) -> None:
    for person in people:
        world.api(person).get_pull(number).create_review(event="APPROVE")


def judged(world: World, number: int,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """check-pr as the evaluate workflow runs it; its exit code and JSON verdict."""
    capsys.readouterr()
    code = world.evaluate(number)[0]
    return code, json.loads(capsys.readouterr().out)


def codes(verdict: dict[str, Any]) -> list[str]:
    return [f["code"] for f in verdict["findings"]]


def message(verdict: dict[str, Any], code: str) -> str:
    found = [f["message"] for f in verdict["findings"] if f["code"] == code]
    assert found, (code, codes(verdict))
    return str(found[0])


def check_run(world: World, sha: str) -> github.CheckRun.CheckRun:
    runs = [r for r in world.api(world.dave).get_commit(sha).get_check_runs()
            if r.name == "gitjit/verdict"]
    return runs[0]


def set_main(world: World, files: Mapping[str, str]) -> None:
    """A policy admin changes the configuration on the default branch."""
    world.now += timedelta(seconds=1)
    world.gh.commit(REPO, "main", files, author=world.admin, message="Configuration")


# -- 1. judged against the wrong base -------------------------------------------------------


def test_a_branch_whose_policies_approve_their_writer_gets_no_verdict(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bob = world.bob
    # bob's own branch, whose policy auto-approves him; then his request, into both branches.
    generous = POLICY + "auto_approve: {max_duration: 4h, requesters: [group:sre]}\n"
    push(world, bob, "evil", {"policies/orders-admin.yaml": generous})
    into_evil = request(world, base="evil")
    into_main = world.api(bob).create_pull(title="again", body="", head="bob/orders",
                                           base="main").number
    head = world.api(bob).get_pull(into_main).head.sha

    code, verdict = judged(world, into_evil, capsys)
    assert (code, verdict["decision"], codes(verdict)) == (1, "denied", ["pr.base-not-default"])
    assert message(verdict, "pr.base-not-default") == (
        "not judged: this pull request is into 'evil', and gitjit judges only pull requests "
        "into the default branch 'main' (with its configuration); open it against 'main' "
        "instead")
    posted = check_run(world, head)
    assert (posted.conclusion, posted.output.title) == (
        "failure", "not judged: not a pull request into the default branch")
    assert "pr.base-not-default" in world.plan(into_evil)

    # The check on the shared head does not pass: the pull request into main cannot merge.
    with pytest.raises(github.GithubException) as refused:
        world.api(bob).get_pull(into_main).merge()
    assert refused.value.status == 405
    assert "gitjit/verdict" in str(refused.value.data)

    # Judged with main's configuration, it waits for dave and sam; nothing auto-approves it.
    code, verdict = judged(world, into_main, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert "approval.auto" not in codes(verdict)


def test_no_success_on_a_head_that_another_open_pull_request_shares(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    world.gh.commit(REPO, "release", {"notes.txt": "release notes\n"}, author=world.admin)
    other = world.api(world.bob).create_pull(title="also", body="", head="bob/orders",
                                             base="release").number
    approve(world, number, world.dave, world.sam)

    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert message(verdict, "pr.head-shared") == (
        f"approved, but the head commit is also the head of open pull request(s) #{other} "
        "(into 'release'), which would show this check as passed: close them (or push a new "
        "commit here) and re-run the verdict")
    assert world.verdict(number) == "action_required"

    world.api(world.bob).get_pull(other).edit(state="closed")
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (0, "approved")
    assert world.verdict(number) == "success"


def test_a_review_event_re_judges_the_pull_request_into_the_default_branch(
        world: World, tmp_path: Path) -> None:
    """The workflow_run path: a review on the pull request into another branch finds the one
    into the default branch with the same head (evaluate.yml's own script, with jq)."""
    generous = POLICY + "auto_approve: {max_duration: 4h, requesters: [group:sre]}\n"
    push(world, world.bob, "evil", {"policies/orders-admin.yaml": generous})
    into_evil = request(world, base="evil")
    into_main = world.api(world.bob).create_pull(title="again", body="", head="bob/orders",
                                                 base="main")
    head = into_main.head.sha
    # GitHub lists the run's pull requests (the evil one first), as workflow_run says.
    runs = [{"number": n, "head": {"ref": "bob/orders", "sha": head},
             "base": {"ref": base, "sha": "0" * 40}}
            for n, base in ((into_evil, "evil"), (into_main.number, "main"))]
    for job in ("evaluate-app", "evaluate-token"):
        chosen = find_pull_request(world, tmp_path / job, head, runs, job)
        assert chosen == str(into_main.number)
        # Without a pull request into main there is nothing to judge.
        assert find_pull_request(world, tmp_path / f"{job}-none", head, runs[:1], job) == ""


def find_pull_request(world: World, work: Path, head: str,
                      pull_requests: list[dict[str, object]], job: str = "evaluate-app") -> str:
    """Run the "Find the pull request" step of evaluate.yml for a workflow_run event."""
    workflow = yaml.safe_load((Path(__file__).resolve().parents[2] / ".github" / "workflows"
                               / "evaluate.yml").read_text("utf-8"))
    step = next(s for s in workflow["jobs"][job]["steps"] if s.get("id") == "pr")
    clone = world.clone()
    work.mkdir()
    output = work / "output"
    output.touch()
    env = {**os.environ, "EVENT_NAME": "workflow_run", "RUN_HEAD_SHA": head,
           "RUN_HEAD_OWNER": "acme", "RUN_HEAD_BRANCH": "bob/orders",
           "RUN_PULL_REQUESTS": json.dumps(pull_requests), "DEFAULT_BRANCH": "main",
           "GH_TOKEN": world.app.token, "GITHUB_SERVER_URL": world.gh.url,
           "GITHUB_OUTPUT": str(output), "GITHUB_REPOSITORY": REPO}
    result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=clone, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    found = re.search(r"^number=(\d+)$", output.read_text(), re.M)
    return found[1] if found else ""


# -- 2. approvals expire ---------------------------------------------------------------------


def test_an_approval_banked_for_weeks_no_longer_counts(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    approve(world, number, world.dave, world.sam)
    assert judged(world, number, capsys)[0] == 0
    assert world.verdict(number) == "success"

    # Two weeks later bob merges: the green check from back then still stands.
    world.now += timedelta(days=14)
    assert world.api(world.bob).get_pull(number).merge().merged
    capsys.readouterr()
    assert world.lifecycle("activate") == 0
    report = capsys.readouterr().out
    assert (f"refused: {GRANT_ID} (merged while the verdict was pending: approval by dave "
            "ignored: given 14d ago (2026-11-30 09:00 UTC); the policy counts approvals for 1d "
            "(approval_max_age); ask them to approve again;") in report
    assert not world.recording.exists() or \
        json.loads(world.recording.read_text())["assignments"] == {}


def test_the_verdict_asks_again_for_approvals_older_than_the_policy_allows(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    set_main(world, {"policies/orders-admin.yaml": POLICY + "approval_max_age: 2h\n"})
    number = request(world)
    approve(world, number, world.dave)
    world.now += timedelta(hours=1, minutes=50)
    approve(world, number, world.sam)
    assert judged(world, number, capsys)[0] == 0
    world.now += timedelta(minutes=20)
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert message(verdict, "approval.expired") == (
        "approval by dave ignored: given 2h10m ago (2026-11-30 09:00 UTC); the policy counts "
        "approvals for 2h (approval_max_age); ask them to approve again")
    assert world.verdict(number) == "action_required"


# -- 3. pushers are not guessed from e-mail addresses ----------------------------------------


def test_an_approver_who_adds_a_commit_under_an_unlinked_address_cannot_clear_it(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    # dave (an approver) pushes to bob's request under an address no account has, and approves.
    push(world, world.dave, "bob/orders", {"notes.txt": "a note\n"},
         email="nobody@corp.invalid", message="Tidy up")
    world.gh.commit(REPO, "bob/orders", {"notes.txt": None}, author=world.bob)
    approve(world, number, world.dave, world.sam)
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert "nobody@corp.invalid (author of" in message(verdict, "approval.unattributed")
    assert "the request needs 1 more approval from the policy's approvers" in \
        message(verdict, "approval.unattributed")
    assert world.verdict(number) == "action_required"

    # A second DBA's approval covers the unknown author, whoever it is.
    erin = world.gh.create_user("erin")
    set_main(world, {"policies/groups.yaml": "apiVersion: gitjit/v1\nkind: Groups\ngroups:\n"
                     "  sre: [bob]\n  dba: [dave, erin]\n  security: [sam]\n"})
    approve(world, number, erin)
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")  # sam alone in security: still short
    assert "approval.unattributed" in codes(verdict)


def test_an_approver_who_rewrites_the_request_as_the_requester_is_a_pusher(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    # dave rewrites bob's request under bob's own address (anyone can write any address) and
    # force-pushes it with his token; then he approves.
    rewritten = GRANT.replace("duration: 1h", "duration: 4h")
    base = world.gh.repo(REPO).bare.resolve("refs/heads/main")
    assert base is not None
    dave = world.api(world.dave)
    blob = dave.create_git_blob(rewritten, "utf-8")
    tree = dave.create_git_tree(
        [github.InputGitTreeElement(GRANT_PATH, "100644", "blob", sha=blob.sha)],
        dave.get_git_tree(base))
    commit = dave.create_git_commit(
        "Request orders-admin", tree, [dave.get_git_commit(base)],
        author=github.InputGitAuthor("bob", "bob@example.com"))
    dave.get_git_ref("heads/bob/orders").edit(commit.sha, force=True)
    approve(world, number, world.dave, world.sam)

    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert message(verdict, "approval.pusher") == (
        "approval by dave ignored: they pushed or authored commits on this pull request")


def test_a_co_author_is_a_pusher(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    dave = world.dave
    push(world, world.bob, "bob/orders", {GRANT_PATH: GRANT}, message=(
        f"Request orders-admin\n\nCo-authored-by: Dave <{dave.id}+dave@users.noreply.github.com>"))
    number = world.api(world.bob).create_pull(title="orders-admin", body="",
                                              head="bob/orders", base="main").number
    approve(world, number, dave, world.sam)
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert "approval by dave ignored: they pushed or authored commits" in \
        message(verdict, "approval.pusher")


def test_more_commits_than_github_lists_deny(world: World,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    clone = world.clone()
    parent = git(clone, "rev-parse", "origin/main")
    # 251 commits by bob, written fast with git fast-import, then one plain push.
    stream = []
    for index in range(251):
        # Every commit writes the grant file; the last one its final text.
        path, body = GRANT_PATH, GRANT if index == 250 else f"draft {index}\n"
        stream.append(
            f"commit refs/heads/bob/orders\nmark :{index + 1}\n"
            "author bob <bob@example.com> 1796029200 +0000\n"
            "committer bob <bob@example.com> 1796029200 +0000\n"
            "data 4\nstep\n" + (f"from {parent}\n" if index == 0 else "")
            + f"M 100644 inline {path}\ndata {len(body.encode())}\n{body}\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=clone, check=True,
                   input="".join(stream), text=True, capture_output=True)
    git(clone, "push", "--quiet", "origin", "refs/heads/bob/orders:refs/heads/bob/orders",
        env={**os.environ, **world.gh.git_env(world.bob)})
    pull = world.api(world.bob).create_pull(title="orders-admin", body="", head="bob/orders",
                                            base="main")
    assert pull.commits == 251
    approve(world, pull.number, world.dave, world.sam)
    code, verdict = judged(world, pull.number, capsys)
    assert (code, verdict["decision"]) == (1, "denied")
    assert message(verdict, "pr.too-many-commits") == (
        "1 commit(s) of this pull request are beyond what GitHub's API lists (250), so gitjit "
        "cannot tell who wrote them and no approval can count; squash the commits and push "
        "again")


# -- 4. identity is more than a login --------------------------------------------------------


def test_an_approver_without_write_access_does_not_count(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    # sam left the security team's repository access (read only now), but is still listed.
    world.gh.set_permission(REPO, "sam", "read")
    approve(world, number, world.dave, world.sam)
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert message(verdict, "approval.no-write-access") == (
        "approval by sam ignored: they have no write access to the repository (anyone may "
        "review a public repository)")
    world.gh.set_permission(REPO, "sam", "write")
    assert judged(world, number, capsys)[0] == 0


def test_a_login_claimed_after_a_rename_is_not_the_pinned_person(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    gh = world.gh
    set_main(world, {"policies/groups.yaml": (
        "apiVersion: gitjit/v1\nkind: Groups\ngroups:\n  sre: [{login: bob, id: "
        f"'{world.bob.id}'}}]\n  dba: [{{login: dave, id: '{world.dave.id}'}}]\n"
        "  security: [sam]\n")})
    number = request(world)
    # dave renames his account; someone else registers 'dave' and approves.
    gh.rename_user("dave", "dave-elsewhere")
    impostor = gh.create_user("dave")
    approve(world, number, impostor, world.sam)
    code, verdict = judged(world, number, capsys)
    assert (code, verdict["decision"]) == (4, "pending")
    assert message(verdict, "identity.reviewer-id") == (
        f"approval by dave ignored: GitHub says account id {impostor.id}, but "
        f"policies/groups.yaml pins dave to id {world.dave.id}; the login was renamed or "
        "re-registered")

    # The same on the requester's side: a new 'bob' asks in the old bob's name.
    gh.rename_user("bob", "bob-elsewhere")
    new_bob = gh.create_user("bob", emails=["new-bob@example.com"])
    push(world, new_bob, "bob/again", {GRANT_PATH.replace("0900Z", "0901Z"): GRANT})
    again = world.api(new_bob).create_pull(title="orders-admin", body="", head="bob/again",
                                           base="main").number
    code, verdict = judged(world, again, capsys)
    assert (code, verdict["decision"]) == (1, "denied")
    assert "identity.author-id" in codes(verdict)
    # An admin merges it anyway: activation checks the author's account too, and refuses.
    assert world.api(world.admin).get_pull(again).merge().merged
    capsys.readouterr()
    assert world.lifecycle("activate") == 0
    assert (f"merged while the verdict was denied: the pull request's author bob is GitHub "
            f"account id {new_bob.id}, but policies/groups.yaml pins bob to id "
            f"{world.bob.id}") in capsys.readouterr().out


def test_check_warns_about_logins_that_moved(world: World,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    gh = world.gh
    set_main(world, {"policies/groups.yaml": (
        "apiVersion: gitjit/v1\nkind: Groups\ngroups:\n  sre: [bob]\n"
        f"  dba: [{{login: dave, id: '{world.dave.id}'}}]\n  security: [sam]\n")})
    gh.rename_user("dave", "dave-elsewhere")
    impostor = gh.create_user("dave")
    gh.rename_user("sam", "sam-elsewhere")
    clone = world.clone()
    world.as_(world.app, "app")
    capsys.readouterr()
    assert run(["check", "--repo", str(clone), "--forge", "github"]) == 0
    out = capsys.readouterr().out
    assert (f"policies/groups.yaml:5: identity.id-changed: dave is now GitHub account id "
            f"{impostor.id}, not the pinned {world.dave.id} (that account is now "
            "'dave-elsewhere'); replace the login, or remove it") in out
    assert ("policies/groups.yaml:6: identity.login-gone: no GitHub account has the login "
            "'sam' any more (renamed or deleted); replace it with the person's current login, "
            "or remove it") in out


# -- 6. the plan comment is gitjit's own -----------------------------------------------------


def test_a_comment_with_gitjits_marker_is_never_edited_by_gitjit(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    forged = "<!-- gitjit:plan -->\n### gitjit: approved (request)\n"
    world.api(world.bob).get_pull(number).create_issue_comment(forged)
    assert judged(world, number, capsys)[0] == 4
    assert judged(world, number, capsys)[0] == 4  # the plan is updated in place, once
    comments = [(c.user.login, c.body)
                for c in world.api(world.dave).get_pull(number).get_issue_comments()]
    assert comments[0] == ("bob", forged)
    ours = [body for login, body in comments if login == "gitjit[bot]"]
    assert len(ours) == 1 and ours[0].startswith("<!-- gitjit:plan -->\n### gitjit: pending")


# -- 13. the emergency stop ------------------------------------------------------------------


def test_one_revokers_approval_revokes_a_live_grant(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    set_main(world, {"policies/orders-admin.yaml": POLICY + "revokers: [group:security]\n"})
    number = request(world)
    approve(world, number, world.dave, world.sam)
    assert judged(world, number, capsys)[0] == 0
    assert world.api(world.sam).get_pull(number).merge().merged
    world.now += timedelta(minutes=1)
    assert world.lifecycle("activate") == 0
    assert list(json.loads(world.recording.read_text())["assignments"]) == [GRANT_ID]

    # An incident: root removes bob's grant in a pull request; sam alone approves it.
    world.now += timedelta(minutes=5)
    push(world, world.admin, "revoke-bob", {GRANT_PATH: None}, message="Revoke bob (INC-9)")
    revoke = world.api(world.admin).create_pull(title="Revoke bob", body="", head="revoke-bob",
                                                base="main").number
    code, verdict = judged(world, revoke, capsys)
    assert (code, verdict["decision"], verdict["kind"]) == (4, "pending", "revoke")
    assert "or one approval by any of its revokers (group:security)" in \
        message(verdict, "pr.revoke")
    approve(world, revoke, world.sam)
    code, verdict = judged(world, revoke, capsys)
    assert (code, verdict["decision"]) == (0, "approved")
    assert message(verdict, "approval.revoker") == (
        "approved by sam alone, a revoker of policy 'orders-admin' (group:security): the "
        "emergency stop")
    assert world.api(world.sam).get_pull(revoke).merge().merged
    assert world.lifecycle("reconcile") == 0
    assert json.loads(world.recording.read_text())["assignments"] == {}


# -- issue 7: a grant id is used once --------------------------------------------------------


def test_a_reverted_grant_cannot_be_requested_again(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number = request(world)
    approve(world, number, world.dave, world.sam)
    assert judged(world, number, capsys)[0] == 0
    merged = world.api(world.sam).get_pull(number).merge()
    assert merged.merged
    # The grant leaves main (a relinquish); then bob re-adds the very file, as GitHub's
    # Revert button of the relinquish would.
    push(world, world.bob, "bob/done", {GRANT_PATH: None}, message="Relinquish")
    done = world.api(world.bob).create_pull(title="done", body="", head="bob/done",
                                            base="main").number
    assert judged(world, done, capsys)[0] == 0
    assert world.api(world.bob).get_pull(done).merge().merged
    push(world, world.bob, "revert-done", {GRANT_PATH: GRANT}, message='Revert "Relinquish"')
    again = world.api(world.bob).create_pull(title="Revert", body="", head="revert-done",
                                             base="main").number
    approve(world, again, world.dave, world.sam)
    code, verdict = judged(world, again, capsys)
    assert (code, verdict["decision"]) == (1, "denied")
    assert message(verdict, "grant.id-used").startswith(
        f"grant id '{GRANT_ID}' was used before: the default branch's history already held "
        "this file (commit ")
    assert "pick a new stamp: rename the file such as grants/orders-admin/bob-" in \
        message(verdict, "grant.id-used")
