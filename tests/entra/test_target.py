"""The Entra target against the Graph emulator: PIM schedule requests for directory roles and
groups, native expiry, early revocation, overlap, foreign assignments, and drift (holders)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.request_schedule import RequestSchedule
from msgraph.generated.models.unified_role_assignment_schedule_request import (
    UnifiedRoleAssignmentScheduleRequest,
)
from msgraph.generated.models.unified_role_schedule_request_actions import (
    UnifiedRoleScheduleRequestActions,
)
from msgraph.graph_service_client import GraphServiceClient

from engine.core.models import Target
from engine.targets.base import TargetError
from engine.targets.entra.privileges import JUSTIFICATION_MAX
from tests.entra.emulator import RolePolicy
from tests.entra.tenant import GLOBAL_ADMIN, HUGO_ID, T0, USER_ADMIN, Tenant


def posts(tenant: Tenant) -> list[dict[str, object]]:
    return [body for method, path, body in tenant.graph.received
            if method == "POST" and path.endswith("ScheduleRequests")]


def test_apply_assigns_the_role_for_the_grants_window_with_justification_and_ticket(
        tenant: Tenant) -> None:
    target, a = tenant.target(), tenant.assignment()
    target.apply(a)
    assert posts(tenant) == [{
        "action": "adminAssign",
        "customData": "gitjit grant entra-user-admin/hana-20261130T1030Z",
        "directoryScopeId": "/",
        "justification": "Bulk-reset MFA for the new Lisbon office staff (REQ-2041) "
                         "(gitjit grant entra-user-admin/hana-20261130T1030Z)",
        "principalId": tenant.hana.id,
        "roleDefinitionId": USER_ADMIN,
        "scheduleInfo": {"expiration": {"endDateTime": "2026-11-30T11:30:00+00:00",
                                        "type": "afterDateTime"},
                         "startDateTime": "2026-11-30T10:30:00+00:00"},
        "ticketInfo": {"ticketNumber": "REQ-2041", "ticketSystem": "Contoso ServiceNow"},
    }]
    assert tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
    assert target.native_expiry(a) is True
    target.apply(a)  # idempotent: nothing more is asked of PIM
    assert len(posts(tenant)) == 1
    [managed] = target.list_managed()
    assert (managed.principal, managed.grant_id, managed.expires_at) == (
        tenant.hana.id, a.grant_id, a.expires_at)


def test_entra_ends_the_assignment_itself_and_revoke_then_only_verifies(tenant: Tenant) -> None:
    target, a = tenant.target(), tenant.assignment()
    target.apply(a)
    tenant.graph.now = a.expires_at  # no gitjit job runs: PIM's schedule ends on its own
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
    assert target.list_managed() == []
    target.revoke(a)  # reconcile afterwards: nothing left to remove, and it checks
    assert [b["action"] for b in posts(tenant)] == ["adminAssign"]


def test_revoke_before_the_end_removes_the_assignment_and_checks_it_is_gone(
        tenant: Tenant) -> None:
    target, a = tenant.target(), tenant.assignment()
    target.apply(a)
    tenant.graph.now = T0 + timedelta(minutes=10)
    target.revoke(a)
    target.revoke(a)  # idempotent
    assert [b["action"] for b in posts(tenant)] == ["adminAssign", "adminRemove"]
    remove = posts(tenant)[1]
    assert remove["customData"] == f"gitjit grant {a.grant_id}"
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)


def test_a_long_justification_is_cut_but_keeps_the_grant_id(tenant: Tenant) -> None:
    tenant.target().apply(tenant.assignment(justification="x" * 2000))
    text = str(posts(tenant)[0]["justification"])
    assert len(text) == JUSTIFICATION_MAX
    assert text.endswith("... (gitjit grant entra-user-admin/hana-20261130T1030Z)")


def test_an_overlapping_later_grant_extends_the_schedule_and_takes_it_over(
        tenant: Tenant) -> None:
    target = tenant.target()
    first = tenant.assignment(hours=2)
    second = tenant.assignment(start=T0 + timedelta(hours=1), hours=3)
    target.apply(first)
    tenant.graph.now = T0 + timedelta(hours=1)
    target.apply(second)
    assert [b["action"] for b in posts(tenant)] == ["adminAssign", "adminUpdate"]
    [managed] = target.list_managed()
    assert (managed.grant_id, managed.expires_at) == (second.grant_id, second.expires_at)
    target.apply(first)  # the shorter grant is covered: it does not shorten the schedule
    assert len(posts(tenant)) == 2
    tenant.graph.now = second.expires_at
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)


def test_a_schedule_lengthened_by_hand_is_brought_back_to_the_grants_end(
        tenant: Tenant) -> None:
    target, a = tenant.target(), tenant.assignment()
    target.apply(a)
    schedule = next(iter(tenant.graph.schedules.values()))
    schedule.end = None  # an administrator made gitjit's assignment permanent
    target.apply(a)  # the next reconcile
    assert posts(tenant)[-1]["action"] == "adminUpdate"
    assert tenant.graph.schedules[schedule.id].end == a.expires_at


def test_a_role_held_outside_gitjit_is_neither_taken_over_nor_removed(tenant: Tenant) -> None:
    tenant.assign_by_hand(tenant.hana.id)
    target, a = tenant.target(), tenant.assignment()
    with pytest.raises(TargetError) as apply_error:
        target.apply(a)
    assert (f"entra target: hana@contoso.com (GitHub login 'hana') already holds directory "
            f"role {USER_ADMIN} at / through an assignment gitjit did not make") \
        in str(apply_error.value)
    assert "permanent); gitjit gives only what it can also take away" in str(apply_error.value)
    with pytest.raises(TargetError, match="gitjit does not take away what it did not give"):
        target.revoke(a)
    assert tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
    assert target.list_managed() == []


def test_a_pim_assignment_someone_made_by_hand_is_not_gitjits(tenant: Tenant) -> None:
    async def assign(client: GraphServiceClient) -> None:
        await client.role_management.directory.role_assignment_schedule_requests.post(
            UnifiedRoleAssignmentScheduleRequest(
                action=UnifiedRoleScheduleRequestActions.AdminAssign,
                principal_id=tenant.hana.id, role_definition_id=USER_ADMIN,
                directory_scope_id="/", justification="by hand",
                custom_data="gitjit grant not/a-grant-id",
                schedule_info=RequestSchedule(start_date_time=T0, expiration=ExpirationPattern(
                    type=ExpirationPatternType.AfterDateTime,
                    end_date_time=T0 + timedelta(hours=2)))))
    tenant.admin(assign)
    target = tenant.target()
    assert target.list_managed() == []  # a marker that names no grant id is not gitjit's
    with pytest.raises(TargetError, match="through an assignment gitjit did not make"):
        target.apply(tenant.assignment())


def test_policy_rules_of_the_role_are_reported_as_pim_states_them(tenant: Tenant) -> None:
    tenant.graph.policies[USER_ADMIN] = RolePolicy(max_duration=timedelta(hours=2),
                                                   require_mfa=True)
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment(hours=4))
    assert str(error.value) == (
        "entra target: Microsoft Graph refused (HTTP 400 "
        "RoleAssignmentRequestPolicyValidationFailed): The following policy rules failed: "
        '["ExpirationRule", "MfaRule"]')
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)


# -- who is who -----------------------------------------------------------------------------


def test_the_explicit_map_names_users_by_object_id(tenant: Tenant) -> None:
    tenant.target().apply(tenant.assignment("hugo"))
    assert tenant.graph.holds_role(HUGO_ID, USER_ADMIN)


def test_an_unknown_login_fails_closed(tenant: Tenant) -> None:
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment("mallory"))
    assert str(error.value) == (
        "entra target: no Entra user for GitHub login 'mallory': no user has the UPN "
        "'mallory@contoso.com' (from upn_pattern); add the login to 'users'")
    assert posts(tenant) == []


def test_a_stale_map_entry_fails_closed(tenant: Tenant) -> None:
    del tenant.graph.users[HUGO_ID]
    with pytest.raises(TargetError, match=f"'users' maps GitHub login 'hugo' to '{HUGO_ID}', "
                                          "which is no user in the tenant"):
        tenant.target().apply(tenant.assignment("hugo"))


def test_two_users_with_one_upn_are_ambiguous(tenant: Tenant) -> None:
    twin = tenant.graph.add_user("HANA@contoso.com")
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment())
    ids = ", ".join(sorted([tenant.hana.id, twin.id]))
    assert str(error.value) == (
        f"entra target: GitHub login 'hana' is ambiguous: 2 users have the UPN "
        f"'hana@contoso.com' ({ids}); map it in 'users' by object id")


def test_a_pattern_that_meets_a_mapped_user_is_ambiguous(tenant: Tenant) -> None:
    # A GitHub account named like hugo's UPN prefix must not become hugo in Entra.
    tenant.graph.users[HUGO_ID].upn = "hugo-almeida@contoso.com"
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment("hugo-almeida"))
    assert str(error.value) == (
        "entra target: GitHub login 'hugo-almeida' is ambiguous: upn_pattern gives "
        "'hugo-almeida@contoso.com', which 'users' maps to 'hugo'; map 'hugo-almeida' in "
        "'users' too, or fix the line for 'hugo'")


def test_guests_by_pattern_and_disabled_accounts_are_refused(tenant: Tenant) -> None:
    tenant.graph.add_user("gus@contoso.com", user_type="Guest")
    tenant.hana.enabled = False
    target = tenant.target()
    with pytest.raises(TargetError, match="'gus@contoso.com' \\(from upn_pattern for 'gus'\\) "
                                          "is a guest account"):
        target.apply(tenant.assignment("gus"))
    with pytest.raises(TargetError, match="the Entra user hana@contoso.com \\(for GitHub login "
                                          "'hana', through upn_pattern\\) is disabled"):
        target.apply(tenant.assignment())
    assert posts(tenant) == []


def test_revoke_finds_the_grants_assignment_even_after_the_mapping_changed(
        tenant: Tenant) -> None:
    a = tenant.assignment()
    tenant.target().apply(a)
    tenant.hana.upn = "hana.sato@contoso.com"  # renamed: the pattern no longer finds her
    tenant.target().revoke(a)
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)


# -- drift ------------------------------------------------------------------------------------


def test_holders_lists_everyone_holding_the_role_however_they_got_it(tenant: Tenant) -> None:
    target = tenant.target()
    target.apply(tenant.assignment())
    ida = next(u for u in tenant.graph.users.values() if u.upn == "ida@contoso.com")
    outsider = tenant.graph.add_user("ext_mallory@contoso.com")
    admins = tenant.graph.add_group("helpdesk-admins", role_assignable=True)
    tenant.add_member_by_hand(admins.id, outsider.id)
    tenant.assign_by_hand(ida.id)
    tenant.assign_by_hand(admins.id)
    tenant.graph.service_principals["7d1f5c2e-0000-4000-8000-000000000001"] = "automation"
    tenant.assign_by_hand("7d1f5c2e-0000-4000-8000-000000000001")
    holders = {(h.principal, h.login, h.details["how"]): h
               for h in target.holders(tenant.assignment().target)}
    assert set(holders) == {
        (tenant.hana.id, "hana", "assigned until 2026-11-30T11:30:00+00:00"),
        (ida.id, "ida", "assigned permanently"),
        (outsider.id, None, f"assigned permanently, through group {admins.id}"),
        ("7d1f5c2e-0000-4000-8000-000000000001", None, "assigned permanently"),
    }
    assert holders[(outsider.id, None, f"assigned permanently, through group {admins.id}")
                   ].details["upn"] == "ext_mallory@contoso.com"


def test_holders_of_another_role_are_not_this_roles(tenant: Tenant) -> None:
    tenant.assign_by_hand(tenant.hana.id, GLOBAL_ADMIN)
    assert tenant.target().holders(tenant.assignment().target) == []


# -- PIM for Groups ---------------------------------------------------------------------------


def test_group_membership_and_ownership_through_pim_for_groups(tenant: Tenant) -> None:
    group = tenant.graph.add_group("release-approvers")
    connection = {**tenant.connection, "groups": group.id}
    target = tenant.target(connection)
    member = tenant.assignment(params={"group_id": group.id})
    owner = tenant.assignment("hugo", params={"group_id": group.id, "access": "owner"})
    target.apply(member)
    target.apply(owner)
    target.apply(member)
    bodies = [b for m, p, b in tenant.graph.received if m == "POST"]
    assert [(b["action"], b["accessId"], b["principalId"]) for b in bodies] == [
        ("adminAssign", "member", tenant.hana.id), ("adminAssign", "owner", HUGO_ID)]
    assert bodies[0]["groupId"] == group.id
    assert bodies[0]["ticketInfo"] == {"ticketNumber": "REQ-2041",
                                       "ticketSystem": "Contoso ServiceNow"}
    assert tenant.graph.members(group.id) == {tenant.hana.id}
    assert tenant.graph.owners(group.id) == {HUGO_ID}
    assert sorted((m.principal, m.grant_id) for m in target.list_managed()) == sorted(
        [(tenant.hana.id, member.grant_id), (HUGO_ID, owner.grant_id)])
    tenant.add_member_by_hand(group.id, tenant.hugo.id)
    assert {(h.login, h.details["how"]) for h in target.holders(member.target)} == {
        ("hana", "member"), ("hugo", "member")}
    target.revoke(member)
    assert tenant.graph.members(group.id) == {tenant.hugo.id}
    tenant.graph.now = owner.expires_at
    assert tenant.graph.owners(group.id) == set()
    target.revoke(owner)


def test_a_group_missing_from_the_connection_is_refused(tenant: Tenant) -> None:
    group = tenant.graph.add_group("tier0")
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment(params={"group_id": group.id}))
    assert str(error.value) == (
        f"entra target: group {group.id} is not in the connection's 'groups'; add it there "
        "(policies/settings.yaml), so that gitjit can list and clean up what it assigns in "
        "that group")


def test_a_target_naming_role_and_group_is_refused(tenant: Tenant) -> None:
    with pytest.raises(TargetError, match="exactly one of role_id"):
        tenant.target().holders(Target("entra", (("group_id", HUGO_ID),
                                                 ("role_id", USER_ADMIN))))
