"""Attacks on the lifecycle by someone with write access to the access repository.

Each test does what the attacker would (plain git commits and branch moves on the ledger and
the default branch, records built with gitjit's own code, their own SSH key), then runs the
real CLI (activate, reconcile, status, audit) and shows the attack fails: no access granted or
kept, an alert recorded and told, and `audit verify` naming the forgery.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from engine.core.forge import PullRequestInfo
from engine.core.ledger import AppliedTarget, Event, ExpiryEnforcer, Record
from engine.core.models import GrantId, Login
from engine.core.trailers import format_removed
from tests import signing
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.attacker import Attacker
from tests.lifecycle.world import T0, World, hours
from tests.receivers import HttpReceiver

ENV = "GITJIT_TEST_SECURITY_URL"
ALERTS = f"notify:\n  security: {{url_env: {ENV}}}\nalerts: [security]\n"
SU_TARGET = AppliedTarget("recording", "rec", (("connection", "rec"), ("role", "superuser")))


@pytest.fixture(autouse=True)
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    monkeypatch.setenv(ENV, receiver.url)
    yield receiver
    receiver.close()


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> World:
    return World(repo, tmp_path, roles={"read": "reader", "su": "superuser"}, settings=ALERTS)


@pytest.fixture
def mallory(repo: GitRepoBuilder) -> Attacker:
    return Attacker(repo)


def granted(world: World) -> dict[str, str]:
    """Who holds which role, by grant."""
    return {gid: a["target"]["params"]["role"] for gid, a in world.granted().items()}


def approved(world: World, requester: str, policy: str = "read", duration: str = "30m",
             after: float = 0) -> GrantId:
    """A request approved by dave and merged: (requested at T0 + after hours)."""
    number, path = world.request(requester, T0 + hours(after), policy=policy,
                                 duration=duration)
    world.approve(number, "dave", T0 + hours(after + 0.05))
    world.merge(number, "dave", T0 + hours(after + 0.1))
    return GrantId(path.removeprefix("grants/").removesuffix(".yaml"))


def alerts(world: World, code: str) -> list[Record]:
    return [r for r in world.records() if r.event is Event.ALERT and r.code == code]


def events(world: World, gid: str) -> list[Event]:
    return [r.event for r in world.records() if r.grant_id == gid]


def cli(world: World, capsys: pytest.CaptureFixture[str], *args: str,
        at: float = 0) -> tuple[int, str]:
    capsys.readouterr()
    if args[0] == "audit":  # audit reads git alone: no clock
        code = run([*args, "--repo", str(world.builder.path)])
    else:
        code = world.cli(*args, now=T0 + hours(at))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def forged_activation(world: World, gid: GrantId, **changes: object) -> Record:
    record = Record(
        event=Event.ACTIVATED, grant_id=gid, policy="su", requester=gid.split("/")[1][:3],
        at=T0, activated_at=T0, expires_at=T0 + timedelta(days=365), engine_version="0.1.0",
        expiry_enforced_by=ExpiryEnforcer.GITJIT, target=SU_TARGET,
        merge_sha=world.repo.resolve("main"))
    return replace(record, **changes)  # type: ignore[arg-type]


# -- 1. forged records ---------------------------------------------------------------------


def test_a_forged_activation_naming_another_policy_grants_nothing(
        world: World, mallory: Attacker, http: HttpReceiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    # bob's harmless request is approved and merged; before activate runs, bob pushes an
    # 'activated' record for it, built with gitjit's own code, naming the superuser policy
    # and a window of a year.
    gid = approved(world, "bob")
    forged_sha, _ = mallory.append_record(forged_activation(world, gid), None)

    code, out = cli(world, capsys, "activate", at=0.2)
    assert code == 1, out  # the forgery is a failure someone must look at
    assert f"FAILED ledger.forged: {gid} (ledger commit {forged_sha[:12]}" in out
    assert granted(world) == {gid: "reader"}
    [activated] = [r for r in world.records() if r.event is Event.ACTIVATED]
    assert (activated.policy, activated.expires_at) == ("read", T0 + hours(0.6))
    [alert] = alerts(world, "ledger.forged")
    assert (alert.subject, alert.grant_id) == (forged_sha, gid)
    assert "but it is not signed" in alert.detail and f"(activated {gid})" in alert.detail
    assert f"gitjit: alert (alert ledger.forged) {gid}" in http.titles()

    assert cli(world, capsys, "reconcile", at=1)[0] == 0  # 30 minutes, not a year
    assert granted(world) == {}
    code, out = cli(world, capsys, "audit", "verify")
    assert code == 1
    assert f"ledger.forged: ledger commit {forged_sha[:12]} adds records/" in out


def test_a_record_extended_by_a_plain_commit_keeps_nothing(
        world: World, mallory: Attacker, capsys: pytest.CaptureFixture[str]) -> None:
    gid = approved(world, "bob")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    [record] = world.records()
    tampering = mallory.rewrite_record(
        record, replace(record, expires_at=record.expires_at + timedelta(days=365)))  # type: ignore[operator,arg-type]

    code, out = cli(world, capsys, "status", at=0.5)
    assert "expires" not in out.lower() or "2027" not in out
    assert f"{tampering[:12]}: it is not signed" in out
    code, out = cli(world, capsys, "reconcile", at=1)
    assert code == 1 and granted(world) == {}
    assert events(world, gid) == [Event.ACTIVATED, Event.ALERT, Event.EXPIRED]
    assert alerts(world, "ledger.forged")[0].subject == tampering
    assert cli(world, capsys, "audit", "verify")[0] == 1


def test_a_key_of_the_attackers_own_signs_nothing_gitjit_trusts(
        world: World, mallory: Attacker, capsys: pytest.CaptureFixture[str]) -> None:
    gid = approved(world, "bob")
    own_key = signing.key("mallory")
    sha, _ = mallory.append_record(forged_activation(world, gid), None, key=own_key)

    assert world.cli("activate", now=T0 + hours(0.2)) == 1
    assert granted(world) == {gid: "reader"}
    [alert] = alerts(world, "ledger.forged")
    assert alert.subject == sha
    assert "signed by a key that policies/allowed_signers does not list" in alert.detail


def test_forged_ends_revoke_nobody(world: World, mallory: Attacker,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    alice = approved(world, "alice", duration="2h")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    [activated] = world.records()
    # bob ends alice's access: an 'expired' and a 'relinquished' record for her grant.
    _, first = mallory.append_record(replace(activated, event=Event.EXPIRED), activated)
    mallory.append_record(replace(activated, event=Event.RELINQUISHED), first)

    assert world.cli("reconcile", now=T0 + hours(0.5)) == 1
    assert granted(world) == {alice: "reader"}
    assert events(world, alice) == [Event.ACTIVATED, Event.ALERT, Event.ALERT]
    assert world.cli("reconcile", now=T0 + hours(0.6)) == 0  # told once


def test_deleted_refusals_and_alerts_are_still_known(
        world: World, mallory: Attacker, capsys: pytest.CaptureFixture[str]) -> None:
    number, _ = world.request("bob", T0, policy="su")
    world.merge(number, "bob", T0 + hours(0.1))  # an admin merge: no approval
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    refused, alert = world.records()
    assert (refused.event, alert.event) == (Event.REFUSED, Event.ALERT)
    gone = mallory.delete_records(refused, alert)

    assert world.cli("activate", now=T0 + hours(0.3)) == 1
    assert granted(world) == {}
    assert [r.event for r in world.records()][:2] == [Event.REFUSED, Event.ALERT]
    assert alerts(world, "ledger.forged")[0].subject == gone
    code, out = cli(world, capsys, "audit")
    assert code == 1 and out.startswith("LEDGER NOT INTACT")
    assert f"ledger commit {gone[:12]} deletes records/00000001-refused-su_bob" in out


# -- 2. nothing halts revocation -----------------------------------------------------------


def test_an_unreadable_record_halts_nothing(world: World, mallory: Attacker,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    gid = approved(world, "bob")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    junk = mallory.drop_file("records/00000002-activated-junk.json", b"{}\n")

    code, out = cli(world, capsys, "reconcile", at=1)
    assert code == 1  # the junk is reported ...
    assert granted(world) == {}  # ... and the expired grant is revoked all the same
    assert events(world, gid) == [Event.ACTIVATED, Event.EXPIRED]
    [alert] = alerts(world, "ledger.forged")
    assert (alert.subject, alert.grant_id) == (junk, "")  # it names no grant
    assert "(not a readable record)" in alert.detail
    assert world.cli("reconcile", now=T0 + hours(1.1)) == 0


# -- 3. the story is read only from what gitjit signed -------------------------------------


def test_a_removal_trailer_in_a_request_commit_ends_nothing(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # bob writes gitjit's removal trailer for his own grant into his request commit.
    number, path = world.request("bob", T0, policy="read", duration="2h")
    gid = path.removeprefix("grants/").removesuffix(".yaml")
    world.builder.checkout(f"request-bob-{T0:%H%M}-read")
    world.builder.git("commit", "--quiet", "--amend", "-m",
                      "request read\n\n" + format_removed(gid, T0, T0 + hours(0.1)))
    world.builder.checkout("main")
    world.approve(number, "dave", T0 + hours(0.05))
    world.merge(number, "dave", T0 + hours(0.1))
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert f"Gitjit-Removed: {gid}" in world.builder.git("log", "main")

    code, out = cli(world, capsys, "audit", at=0.5)
    assert code == 0
    assert "not ended" in out and "removed in" not in out and "expired" not in out


def test_a_direct_push_with_a_removal_trailer_is_a_revocation_not_an_expiry(
        world: World, mallory: Attacker, capsys: pytest.CaptureFixture[str]) -> None:
    alice = approved(world, "alice", duration="2h")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    # bob deletes alice's grant with a direct push whose message reads like gitjit's removal.
    mallory.commit("refs/heads/main", {f"grants/{alice}.yaml": None},
                   "gitjit: remove expired grants\n\n" + format_removed(alice, T0, T0),
                   when=T0 + hours(0.3))
    world.sync()

    code, out = cli(world, capsys, "reconcile", at=0.4)
    assert code == 1 and granted(world) == {}  # fail safe: the access goes
    assert events(world, alice)[-2:] == [Event.REVOKED, Event.ALERT]
    [alert] = alerts(world, "deletion.unapproved")
    assert "deleted without a pull request" in alert.detail
    assert "committed as Test Committer <committer@example.invalid>" in alert.detail
    code, out = cli(world, capsys, "audit", at=0.5)
    assert "revoked (6m after its end): deleted without a pull request" in out
    assert "(expired at" not in out


def test_audit_says_loudly_that_the_ledger_is_not_intact(
        world: World, mallory: Attacker, capsys: pytest.CaptureFixture[str]) -> None:
    gid = approved(world, "bob")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    [record] = world.records()
    mallory.rewrite_record(record, replace(record, requester="bob", policy="su"))
    for fmt in ("text", "json", "csv"):
        code, out = cli(world, capsys, "audit", "--format", fmt, at=0.3)
        assert code == 1, fmt
    code, out = cli(world, capsys, "audit", at=0.3)
    assert out.startswith("LEDGER NOT INTACT: refs/heads/gitjit/ledger holds 1 problems")
    assert f"{gid}: bob asked for read for 30m" in out


# -- 5. activation counts only what was there at the merge ---------------------------------


def test_an_approval_given_after_the_merge_does_not_count(world: World) -> None:
    number, _ = world.request("bob", T0, policy="su")
    world.merge(number, "bob", T0 + hours(0.1))  # merged with no approval
    world.approve(number, "dave", T0 + hours(0.15))  # a forge accepts reviews after merge

    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert granted(world) == {}
    refused = world.records()[0]
    assert refused.event is Event.REFUSED and "approval" in refused.detail


# -- 6. deletions are judged again ---------------------------------------------------------


def deletion(world: World, gid: str, *, author: str) -> PullRequestInfo:
    """``author`` opens a pull request that deletes the grant ``gid``."""
    world.builder.branch("drop", "main")
    world.builder.checkout("drop")
    world.builder.git("rm", "--quiet", f"grants/{gid}.yaml")
    world.builder.commit(f"drop {gid}")
    world.builder.checkout("main")
    return world.forge.open_pull_request(author=Login(author), head_ref="drop", base="main",
                                         title="drop", body="")


def test_an_unapproved_revocation_still_revokes_and_names_who_did_it(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    alice = approved(world, "alice", duration="2h")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    pr = deletion(world, alice, author="bob")
    world.merge(pr.number, "bob", T0 + hours(0.3))  # admin merge, no approval

    code, out = cli(world, capsys, "reconcile", at=0.4)
    assert code == 1 and granted(world) == {}
    revoked, alert = world.records()[-2:]
    assert (revoked.event, revoked.pull_request) == (Event.REVOKED, pr.number)
    assert alert.code == "deletion.unapproved"
    assert f"revoked by bob in pull request #{pr.number}, merged by bob" in alert.detail
    assert "would not have approved" in alert.detail


def test_an_approved_revocation_raises_no_alert(world: World) -> None:
    alice = approved(world, "alice", duration="2h")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    pr = deletion(world, alice, author="erin")
    world.approve(pr.number, "dave", T0 + hours(0.25))
    world.merge(pr.number, "dave", T0 + hours(0.3))

    assert world.cli("reconcile", now=T0 + hours(0.4)) == 0
    assert events(world, alice) == [Event.ACTIVATED, Event.REVOKED]


# -- the record is checked against the branch and the forge --------------------------------


def test_a_signed_record_with_a_window_the_merge_does_not_give_is_revoked(
        world: World) -> None:
    gid = approved(world, "bob", duration="2h")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    [record] = world.records()
    # A key holder rewrites history: a new ledger whose record for bob lasts a year.
    world.builder.git("update-ref", "-d", "refs/heads/gitjit/ledger")
    world.ledger.trust(world.ledger.verifier.signers, world.signer)
    world.ledger.append(replace(record, seq=0, prev="",
                                expires_at=T0 + timedelta(days=365)))

    assert world.cli("reconcile", now=T0 + hours(3)) == 1
    assert granted(world) == {}
    [alert] = alerts(world, "record.mismatch")
    assert "the record says 2026-11-30T09:06:00Z until 2027-11-30" in alert.detail
    assert events(world, gid) == [Event.ACTIVATED, Event.REVOKED, Event.ALERT]


# -- fail towards revocation ---------------------------------------------------------------


def test_without_a_trusted_ledger_only_provably_live_access_stays(
        world: World, mallory: Attacker, capsys: pytest.CaptureFixture[str]) -> None:
    bob = approved(world, "bob", duration="2h")
    alice = approved(world, "alice", duration="30m")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert granted(world) == {bob: "reader", alice: "reader"}
    # The ledger is replaced wholesale by an unsigned one (a force push where nothing stops
    # it) that records neither grant's activation ...
    world.builder.git("update-ref", "-d", "refs/heads/gitjit/ledger")
    mallory.drop_file("records/README", b"nothing to see\n")

    code, out = cli(world, capsys, "reconcile", at=1)
    assert code == 1
    # ... bob's grant re-verifies from the branch and the forge and stays; alice's window
    # is over, so what the target still holds for her is revoked and alerted.
    assert granted(world) == {bob: "reader"}
    assert f"unrecorded: {bob}" in out
    [alert] = alerts(world, "target.unverified-access")
    assert alert.grant_id == alice
    code, out = cli(world, capsys, "activate", at=1.1)
    assert code == 0 and events(world, bob) == [Event.ACTIVATED]


# -- a policy's target changes while a grant is live ---------------------------------------


def test_a_live_grant_moves_with_its_policys_target_and_ends_there(world: World) -> None:
    gid = approved(world, "bob", duration="2h")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    world.builder.write("policies/read.yaml", world.builder.file("policies/read.yaml")
                        .read_text().replace("role: reader", "role: reader2"))
    world.builder.commit("read moves to reader2")

    assert world.cli("reconcile", now=T0 + hours(0.5)) == 0
    assert granted(world) == {gid: "reader2"}
    assert events(world, gid) == [Event.ACTIVATED, Event.RETARGETED]
    # The policy moves again after the grant ended: revocation goes where the record says.
    world.builder.write("policies/read.yaml", world.builder.file("policies/read.yaml")
                        .read_text().replace("role: reader2", "role: reader3"))
    world.builder.commit("read moves to reader3")
    assert world.cli("reconcile", now=T0 + hours(3)) == 0
    assert granted(world) == {}
    assert [e for e, g in world.events() if g == gid] == ["apply", "apply", "revoke"]


# -- removal pull requests cannot be suppressed --------------------------------------------


def test_a_precreated_removal_branch_does_not_suppress_the_removal(
        repo: GitRepoBuilder, tmp_path: Path, mallory: Attacker) -> None:
    world = World(repo, tmp_path, removal="pull-request", settings=ALERTS)
    gid = approved(world, "bob", policy="db")
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    import hashlib
    digest = hashlib.sha256(gid.encode()).hexdigest()[:12]
    mallory.commit(f"refs/heads/gitjit/remove-{digest}", {"README.md": b"mine\n"}, "squat")

    assert world.cli("reconcile", now=T0 + hours(3)) == 0
    [pr] = [p for p in world.forge.pull_requests() if p.author == "gitjit"]
    assert pr.head_ref == f"gitjit/remove-{digest}-2"
    assert world.repo.tree(pr.head_sha).exists(f"grants/{gid}.yaml") is False


def test_refused_grants_are_removed_by_pull_request_when_settings_say_so(
        repo: GitRepoBuilder, tmp_path: Path) -> None:
    world = World(repo, tmp_path, removal="pull-request", settings=ALERTS)
    number, path = world.request("bob", T0, policy="db")
    world.merge(number, "bob", T0 + hours(0.1))  # admin merge: refused at activation

    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert world.repo.tree("main").exists(path)  # main is not pushed to
    [pr] = [p for p in world.forge.pull_requests() if p.author == "gitjit"]
    assert pr.head_ref.startswith("gitjit/remove-")
    assert not world.repo.tree(pr.head_sha).exists(path)
