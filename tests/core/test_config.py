"""build_config: the configuration under policies/, file by file and across files."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from engine.core.changes import EXECUTABLE_FILE, SYMLINK
from engine.core.config import ConfigFile, build_config
from engine.core.models import ActiveHours, Principal, RemovalMode
from tests.core.builders import POLICY, SCHEMAS, build, configure, doc, policy_files

PROJECT = Path(__file__).resolve().parents[2]

SETTINGS = """
notify:
  sre-teams: {url_env: SRE_TEAMS_URL}
connections:
  orders-prod: {provider: postgres, password_env: PG_PASSWORD}
"""


def rendered(files: dict[str, str], modes: dict[str, str] | None = None) -> list[str]:
    result = build(files, modes)
    if result.findings:
        assert result.config is None, "a configuration with findings must not be used"
    return [f.render() for f in result.findings]


def test_the_example_configuration_builds() -> None:
    files = [ConfigFile(p.relative_to(PROJECT).as_posix(), "100644", p.read_bytes())
             for p in sorted((PROJECT / "policies").rglob("*")) if p.is_file()]
    result = build_config(files, SCHEMAS)
    assert [f.render() for f in result.findings] == []
    assert result.config is not None
    assert sorted(result.config.policies) == [
        "aws-prod-admin", "break-glass-prod", "entra-user-admin", "github-release-team",
        "prod-db-admin"]
    assert len(result.tests) == 5


def test_policy_is_typed() -> None:
    full = POLICY + """\
justification: {min_length: 20}
ticket: {required: true, pattern: "^INC-[0-9]+$"}
active_hours: {days: [mon, fri], between: "07:00-24:00", timezone: Europe/Berlin}
limits: {max_active_per_requester: 2}
auto_approve: {max_duration: 30m, requesters: [user:Carol]}
break_glass: {max_duration: 1h, review_within: 1d}
"""
    result = configure(full.replace("group:sre]", "group:sre, user:Carol]"))
    assert result.config is not None
    policy = result.config.policies["db"]  # type: ignore[index]
    assert policy.requesters == (Principal("group", "sre"), Principal("user", "carol"))
    assert policy.duration.max == timedelta(hours=4)
    assert (policy.justification_min_length, policy.ticket.required, policy.ticket.pattern) == (
        20, True, "^INC-[0-9]+$")
    assert policy.active_hours == (ActiveHours(frozenset({0, 4}), time(7), time.max,
                                              "Europe/Berlin"),)
    assert policy.max_active_per_requester == 2
    assert policy.auto_approve is not None and policy.auto_approve.requesters == (
        Principal("user", "carol"),)
    assert policy.break_glass is not None and policy.break_glass.review_within == timedelta(1)
    assert result.config.groups.members["sre"] == frozenset({"alice", "bob", "carol", "erin"})
    assert result.config.settings.removal is None


def test_unknown_group() -> None:
    text = POLICY.replace("[group:sre]", "[group:sre, group:ops]").replace(
        "[group:dba]", "[group:dbas]") + "auto_approve: {max_duration: 30m, requesters: " \
        "[group:oncal]}\n"
    assert rendered(policy_files(text)) == [
        "policies/db.yaml:6: config.unknown-group: unknown group 'ops': define it in "
        "policies/groups.yaml",
        "policies/db.yaml:8: config.unknown-group: unknown group 'dbas' in approval step 1: "
        "did you mean 'dba'? define it in policies/groups.yaml",
        "policies/db.yaml:10: config.unknown-group: unknown group 'oncal' in auto_approve: "
        "did you mean 'oncall'? define it in policies/groups.yaml",
    ]


def test_without_groups_file_every_group_is_unknown() -> None:
    files = policy_files(POLICY)
    del files["policies/groups.yaml"]
    codes = [f.code for f in build(files).findings]
    assert codes == ["config.unknown-group", "config.unknown-group"]


def test_unknown_channel() -> None:
    text = POLICY + "notify: [sre-teams, security-email]\n"
    assert rendered(policy_files(text, settings=SETTINGS)) == [
        "policies/db.yaml:10: config.unknown-channel: unknown notification channel "
        "'security-email': define it under notify in policies/settings.yaml"]
    # Without settings no channel exists.
    assert [f.code for f in build(policy_files(text)).findings] == [
        "config.unknown-channel", "config.unknown-channel"]


def test_unknown_connection() -> None:
    good = POLICY.replace("{provider: command, role: admin}",
                          "{provider: postgres, connection: orders-prod}")
    configure(good, settings=SETTINGS)
    bad = good.replace("orders-prod}", "orders-test}")
    assert rendered(policy_files(bad, settings=SETTINGS)) == [
        "policies/db.yaml:5: config.unknown-connection: unknown connection 'orders-test': "
        "did you mean 'orders-prod'? define it under connections in policies/settings.yaml"]


def test_policy_id_equals_file_name() -> None:
    files = policy_files(POLICY)
    files["policies/database.yaml"] = files.pop("policies/db.yaml")
    assert rendered(files) == [
        "policies/database.yaml:3: config.policy-id: policy id 'db' differs from its file name "
        "'database'; make them equal"]


def test_default_duration_exceeds_max() -> None:
    text = POLICY.replace("{default: 1h, max: 4h}", "{default: 5h, max: 4h}")
    assert rendered(policy_files(text)) == [
        "policies/db.yaml:9: config.default-exceeds-max: duration.default 5h exceeds "
        "duration.max 4h"]
    assert rendered(policy_files(POLICY.replace("default: 1h", "default: 4h"))) == []


def test_unsatisfiable_step() -> None:
    text = POLICY.replace("count: 1", "count: 3")
    assert rendered(policy_files(text)) == [
        "policies/db.yaml:8: config.unsatisfiable-step: approval step 1 needs 3 distinct "
        "approvers but only 2 are eligible; lower 'count' or add approvers"]


def test_steps_unsatisfiable_together() -> None:
    # Each step alone can be met, but one person counts in one step only.
    text = POLICY.replace("  - {from: [group:dba], count: 1}\n",
                          "  - {from: [user:dave], count: 1}\n"
                          "  - {from: [user:dave, group:dba], count: 2}\n")
    assert rendered(policy_files(text)) == [
        "policies/db.yaml:7: config.unsatisfiable-step: the approval steps need 3 distinct "
        "approvers in all (one person counts in one step only), but the people they name can "
        "fill only 2; lower 'count' or add approvers"]
    assert rendered(policy_files(text.replace("[user:dave, group:dba]",
                                              "[group:dba, user:sam]"))) == []


def test_auto_approve_outsiders() -> None:
    text = POLICY + "auto_approve: {max_duration: 30m, requesters: [group:dba, user:bob]}\n"
    assert rendered(policy_files(text)) == [
        "policies/db.yaml:10: config.auto-approve-not-requester: auto_approve.requesters names "
        "dave, who may not request this policy; auto-approve only narrows the requesters"]


def test_auto_approve_exceeds_max() -> None:
    text = POLICY + "auto_approve: {max_duration: 5h, requesters: [user:bob]}\n"
    assert [f.code for f in build(policy_files(text)).findings] == [
        "config.auto-approve-exceeds-max"]
    assert rendered(policy_files(text.replace("5h", "4h"))) == []


def test_no_approval_path() -> None:
    text = POLICY.replace("approvals:\n  - {from: [group:dba], count: 1}\n", "")
    assert rendered(policy_files(text)) == [
        "policies/db.yaml:3: config.no-approval-path: policy 'db' has no approval step, no "
        "auto_approve and no break_glass rule, so no request could ever be approved; add an "
        "approval step"]
    for rule in ("auto_approve: {max_duration: 30m, requesters: [user:bob]}",
                 "break_glass: {max_duration: 1h, review_within: 24h}"):
        assert rendered(policy_files(text + rule + "\n")) == []


@pytest.mark.parametrize("path", [
    "policies/notes.txt", "policies/db.yml", "policies/team/db.yaml", "policies/.hidden",
])
def test_unexpected_file(path: str) -> None:
    files = {**policy_files(POLICY), path: "anything"}
    assert rendered(files) == [
        f"{path}: config.unexpected-file: no gitjit file belongs here: policies are "
        "policies/<id>.yaml, groups policies/groups.yaml, settings policies/settings.yaml, "
        "tests policies/tests/*.yaml, gitjit's signing keys policies/allowed_signers"]


def test_markdown_is_allowed() -> None:
    assert rendered({**policy_files(POLICY), "policies/README.md": "# Policies"}) == []


@pytest.mark.parametrize("mode", [SYMLINK, EXECUTABLE_FILE])
def test_non_regular_file_in_policies(mode: str) -> None:
    files = policy_files(POLICY, POLICY.replace("id: db", "id: other"))
    assert rendered(files, {"policies/other.yaml": mode}) == [
        f"policies/other.yaml: config.unexpected-file: configuration files must be regular "
        f"files (mode {mode}); replace it with a plain file"]


def test_no_policy() -> None:
    assert rendered({"policies/groups.yaml": doc("Groups", "groups: {}\n")}) == [
        "policies/: config.missing: no policy found: add at least one policies/<id>.yaml"]


@pytest.mark.parametrize(("line", "code"), [
    ('ticket: {required: "false", pattern: "(INC"}', "schema.invalid"),
    ('active_hours: {days: [mon], between: "07:00-19:00", timezone: Mars/Olympus}',
     "value.timezone"),
    ('active_hours: {days: [mon], between: "07:00-07:00", timezone: UTC}', "value.time-range"),
    ('active_hours: [{days: [mon], between: "07:00-19:00", timezone: UTC}, '
     '{days: [sat], between: "10:00-12:00", timezone: Mars/Olympus}]', "value.timezone"),
    ('active_hours: []', "schema.invalid"),
    ('active_hours: {days: [mon], between: "07:00-24:01", timezone: UTC}', "schema.invalid"),
    ("auto_approve: {max_duration: 0m, requesters: [user:bob]}", "value.duration"),
])
def test_invalid_values(line: str, code: str) -> None:
    assert [f.code for f in build(policy_files(POLICY + line + "\n")).findings] == [code]


def test_invalid_login_in_group() -> None:
    result = build(policy_files(POLICY, groups="groups:\n  sre: [bob]\n  dba: [dave, e--rin]\n"))
    assert result.config is None
    # Rejected, never normalised; the groups it defines are then unknown to the policies.
    assert [f.render() for f in result.findings if f.path == "policies/groups.yaml"] == [
        "policies/groups.yaml:5: schema.invalid: $.groups.dba[1]: 'e--rin' is not a GitHub "
        "login; use ASCII letters, digits and single hyphens, at most 39 characters"]


def test_settings_and_tests_are_loaded() -> None:
    files = policy_files(POLICY, settings=SETTINGS + "removal: pull-request\n"
                                                     "limits: {grant_bytes: '1000'}\n")
    files["policies/tests/db.yaml"] = doc("PolicyTest", """
        cases:
          - name: one DBA approves
            now: 2026-11-30T09:00:00Z
            grant: {policy: db, requester: bob, duration: 1h, justification: because}
            expect: {decision: pending}
        """)
    result = build(files)
    assert result.findings == () and result.config is not None
    assert result.config.settings.removal is RemovalMode.PULL_REQUEST
    assert result.config.settings.max_grant_bytes == 1000
    assert set(result.config.settings.channels) == {"sre-teams"}
    assert [t.path for t in result.tests] == ["policies/tests/db.yaml"]


def test_wrong_kind_at_a_path() -> None:
    files = policy_files(POLICY)
    files["policies/groups.yaml"] = doc("Policy", POLICY)
    codes = [f.code for f in build(files).findings]
    assert "schema.kind" in codes


# --- every layer of a broken configuration in one run (issue 13) ----------------------------


def test_a_schema_error_does_not_hide_an_unknown_group_in_the_same_policy() -> None:
    text = POLICY.replace("max: 4h", "max: 4 hours").replace("[group:dba]", "[group:dbas]")
    text += "notify: [sre-team]\n"
    assert rendered(policy_files(text, settings=SETTINGS)) == [
        "policies/db.yaml:8: config.unknown-group: unknown group 'dbas': did you mean 'dba'? "
        "define it in policies/groups.yaml",
        "policies/db.yaml:9: schema.invalid: $.duration.max: '4 hours' is not a duration; "
        "write a duration such as 30m, 2h, 1h30m, 1d or PT2H (no months or years)",
        "policies/db.yaml:10: config.unknown-channel: unknown notification channel "
        "'sre-team': did you mean 'sre-teams'? define it under notify in "
        "policies/settings.yaml",
    ]


def test_broken_groups_give_no_unknown_groups_elsewhere() -> None:
    """Every policy's groups would be 'unknown': only the groups file's own error counts."""
    files = policy_files(POLICY, POLICY.replace("id: db", "id: db2"), settings=SETTINGS)
    files["policies/groups.yaml"] = doc("Groups", "groupz:\n  sre: [bob]\n")
    assert rendered(files) == [
        "policies/groups.yaml:1: schema.invalid: $: missing required key 'groups'",
        "policies/groups.yaml:3: schema.invalid: $: unexpected key 'groupz'; did you mean "
        "'groups'? allowed keys: apiVersion, groups, kind",
    ]


@pytest.mark.parametrize("settings", [
    "notify: {sre-teams: {url_env: X}}\nnotify: {}\n",  # fails to parse: a duplicate key
    "notify: {sre-teams: {url: https://example.com}}\n",  # fails its schema
])
def test_broken_settings_give_no_unknown_channels_or_connections_elsewhere(
        settings: str) -> None:
    text = POLICY.replace("{provider: command, role: admin}",
                          "{provider: command, role: admin, connection: orders-prod}")
    found = rendered(policy_files(text + "notify: [sre-teams]\n", settings=settings))
    assert found and all(line.startswith("policies/settings.yaml:") for line in found), found
