"""GitHub Actions workflow commands: annotations at file and line.

User text can contain '::' or newlines that would start a workflow command of its own, so
every value is escaped as the Actions toolkit does (percent-encoding %, CR, LF, and in
properties also ':' and ',')."""

from __future__ import annotations

from engine.core.findings import Finding, Severity
from engine.core.report import CheckReport, PullRequestReport
from engine.reporters import text

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    props = []
    if finding.path:
        props.append(f"file={escape_property(finding.path)}")
        if finding.line:
            props.append(f"line={finding.line}")
    props.append(f"title={escape_property(finding.code)}")
    return f"::{_LEVEL[finding.severity]} {','.join(props)}::{escape_data(finding.message)}"


def check(report: CheckReport) -> str:
    lines = [annotation(f) for f in report.findings]
    return "\n".join([*lines, escape_data(text.check(report).rstrip("\n").splitlines()[-1])]) + "\n"


def pull_request(report: PullRequestReport) -> str:
    decision = report.decision
    lines = [annotation(f) for f in decision.findings]
    lines.append(escape_data(f"{decision.outcome.value.upper()}: {text.describe(decision)}"))
    return "\n".join(lines) + "\n"
