"""privileges.changes: who newly may request or approve what after a configuration change."""

from __future__ import annotations

from engine.core.findings import Severity
from engine.core.privileges import changes
from tests.core.builders import GROUPS, POLICY, config_of


def messages(base_policies: tuple[str, ...], head_policies: tuple[str, ...],
             base_groups: str = GROUPS, head_groups: str = GROUPS) -> list[str]:
    found = changes(config_of(*base_policies, groups=base_groups),
                    config_of(*head_policies, groups=head_groups))
    assert all(f.code == "pr.privilege-change" and f.severity is Severity.WARNING
               for f in found)
    return [f.render() for f in found]


def test_no_change_reports_nothing() -> None:
    assert messages((POLICY,), (POLICY,)) == []


def test_new_requester_through_a_group() -> None:
    assert messages((POLICY,), (POLICY,), head_groups=GROUPS.replace(
        "[alice, bob, carol, erin]", "[alice, bob, carol, erin, zoe]")) == [
        "policies/db.yaml: pr.privilege-change: may newly request 'db': zoe"]


def test_new_requester_in_the_policy_and_one_lost() -> None:
    head = POLICY.replace("[group:sre]", "[group:oncall, user:zoe]")
    assert messages((POLICY,), (head,)) == [
        "policies/db.yaml: pr.privilege-change: may newly request 'db': zoe",
        "policies/db.yaml: pr.privilege-change: may no longer request 'db': alice, bob, erin",
    ]


def test_new_approver_and_fewer_approvals() -> None:
    base = POLICY.replace("count: 1", "count: 2")
    head = POLICY.replace("[group:dba]", "[group:dba, user:sam]")
    assert messages((base,), (head,)) == [
        "policies/db.yaml: pr.privilege-change: may newly approve 'db': sam",
        "policies/db.yaml: pr.privilege-change: 'db' needs fewer approvals: 2 -> 1",
    ]


def test_new_approver_through_a_group() -> None:
    assert messages((POLICY,), (POLICY,), head_groups=GROUPS.replace(
        "dba: [dave, erin]", "dba: [dave, erin, mallory]")) == [
        "policies/db.yaml: pr.privilege-change: may newly approve 'db': mallory"]


def test_longer_maximum_and_new_target() -> None:
    head = POLICY.replace("max: 4h", "max: 8h").replace("role: admin", "role: root")
    assert messages((POLICY,), (head,)) == [
        "policies/db.yaml: pr.privilege-change: 'db' maximum duration grows: 4h -> 8h",
        "policies/db.yaml: pr.privilege-change: 'db' target changes: "
        "Target(provider='command', params=(('role', 'admin'),)) -> "
        "Target(provider='command', params=(('role', 'root'),))",
    ]


def test_new_and_removed_policies() -> None:
    other = POLICY.replace("id: db", "id: web")
    assert messages((POLICY,), (POLICY, other)) == [
        "policies/web.yaml: pr.privilege-change: new policy 'web' (command): alice, bob, carol, "
        "erin may request it, for up to 4h"]
    assert messages((POLICY, other), (POLICY,)) == [
        "policies/web.yaml: pr.privilege-change: policy 'web' is removed"]


def test_new_auto_approve_and_break_glass() -> None:
    head = (POLICY + "auto_approve: {max_duration: 30m, requesters: [group:oncall]}\n"
            "break_glass: {max_duration: 1h, review_within: 24h}\n")
    assert messages((POLICY,), (head,)) == [
        "policies/db.yaml: pr.privilege-change: 'db' auto-approves carol for up to 30m",
        "policies/db.yaml: pr.privilege-change: 'db' allows break-glass for up to 1h without "
        "review",
    ]


def test_newly_auto_approved_through_a_group() -> None:
    # The policy is unchanged, but bob joins the auto-approved on-call group.
    policy = POLICY + "auto_approve: {max_duration: 30m, requesters: [group:oncall]}\n"
    assert messages((policy,), (policy,), head_groups=GROUPS.replace(
        "oncall: [carol]", "oncall: [carol, bob]")) == [
        "policies/db.yaml: pr.privilege-change: 'db' auto-approves bob, carol for up to 30m"]


def test_active_hours_removed() -> None:
    base = POLICY + 'active_hours: {days: [mon], between: "07:00-19:00", timezone: UTC}\n'
    assert messages((base,), (POLICY,)) == [
        "policies/db.yaml: pr.privilege-change: 'db' active hours change or are removed"]
    assert messages((POLICY,), (base,)) == []
