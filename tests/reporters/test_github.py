"""The github reporter: workflow annotations that user text can never break out of."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.findings import Finding, Severity
from engine.core.report import CheckReport
from engine.reporters import github
from tests.reporters import samples


@pytest.mark.parametrize(("raw", "data", "prop"), [
    ("plain text", "plain text", "plain text"),
    ("100%", "100%25", "100%25"),
    ("a\nb", "a%0Ab", "a%0Ab"),
    ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
    ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
    ("%0A", "%250A", "%250A"),
    ("::set-output name=x::y", "::set-output name=x::y", "%3A%3Aset-output name=x%3A%3Ay"),
])
def test_escaping(raw: str, data: str, prop: str) -> None:
    assert github.escape_data(raw) == data
    assert github.escape_property(raw) == prop


def test_a_message_with_a_newline_cannot_start_a_workflow_command() -> None:
    finding = Finding("grants/x/bob-20261130T0912Z.yaml", 3, "grant.justification",
                      "justification 'x\n::set-output name=approved::true\r\n::error::pwned' "
                      "is 100% too short")
    assert github.annotation(finding) == (
        "::error file=grants/x/bob-20261130T0912Z.yaml,line=3,title=grant.justification::"
        "justification 'x%0A::set-output name=approved::true%0D%0A::error::pwned' is 100%25 "
        "too short")


def test_a_path_with_colons_and_commas_stays_one_property() -> None:
    finding = Finding("grants/a,title=x:y.yaml", 0, "grant.path", "bad path",
                      Severity.WARNING)
    assert github.annotation(finding) == \
        "::warning file=grants/a%2Ctitle=x%3Ay.yaml,title=grant.path::bad path"


@given(st.text())
def test_no_user_text_adds_a_line(message: str) -> None:
    finding = Finding("p.yaml", 1, "yaml.syntax", message, Severity.NOTICE)
    report = CheckReport((finding, finding), policies=0, grants=0, files=1)
    lines = github.check(report).split("\n")
    assert lines[-1] == ""
    assert len(lines) == 4
    assert lines[0].startswith("::notice file=p.yaml,line=1,title=yaml.syntax::")
    assert not lines[2].startswith("::")


def test_check_output_whole() -> None:
    assert github.check(samples.check_report()) == (
        "::error title=config.missing::policies/groups.yaml is missing; add it\n"
        "::warning file=grants/prod-db-admin/bob-20261130T0912Z.yaml,line=5,"
        "title=grant.duration-exceeds-max::duration '5h' exceeds today's maximum '4h' "
        "(policies/prod-db-admin.yaml)\n"
        "::error file=policies/prod-db-admin.yaml,line=12,title=config.unknown-group::unknown "
        "group 'secops' in approval step 2: define it in policies/groups.yaml\n"
        "4 policies, 3 grants, 2 errors, 1 warning\n")


def test_pull_request_output_whole() -> None:
    report = samples.pending(message="approval by dave ignored\n::error::forged")
    assert github.pull_request(report) == (
        "::notice file=grants/prod-db-admin/bob-20261130T0912Z.yaml,title=approval.stale::"
        "approval by dave ignored%0A::error::forged\n"
        "PENDING: request: bob asks for prod-db-admin for 2h\n")
