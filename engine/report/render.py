"""The report as text, JSON and CSV (the HTML report is engine/report/html.py)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, fields
from datetime import datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

from engine.core.messages import Message, access_review
from engine.report.build import Report
from engine.report.model import Signal
from engine.report.signals import SIGNALS, span
from engine.report.stats import APPROVAL_BUCKETS, REVOCATION_BUCKETS, WEEKDAYS
from engine.reporters.markdown import escape_markdown

VERSION = 1
FORMATS = ("csv", "html", "json", "markdown", "text")


def _time(when: datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(value: int | None) -> str:
    return "-" if value is None else span(timedelta(seconds=value)) or "0s"


def period_line(report: Report) -> str:
    scope = f"policy {report.policy}" if report.policy else "all policies"
    return (f"gitjit access review of {report.branch}, {_time(report.period.since)} to "
            f"{_time(report.period.until)} ({scope})")


def summary_lines(report: Report) -> list[str]:
    s = report.summary
    ends = ", ".join(f"{how} {n}" for how, n in s.ended.items()) or "none"
    lines = [
        f"{s.requested} grants requested, {s.activated} activated ({s.break_glass} break-glass) "
        f"by {s.requesters} people, {s.refused} refused; ended: {ends}; {s.alerts} alerts",
        f"approval: median {_seconds(s.approval_median_seconds)} from push to approval "
        f"({s.approvers} approvers); revocation latency: median "
        f"{_seconds(s.revocation_median_seconds)}, worst {_seconds(s.revocation_worst_seconds)}",
    ]
    if s.pull_requests is not None:
        states = ", ".join(f"{n} {state}" for state, n in sorted(s.pull_requests.items()))
        lines.append(f"pull requests opened ({report.forge} forge): {states or 'none'} "
                     "(closed: denied or abandoned)")
    else:
        lines.append("no forge given: denied and abandoned requests, and reviews that did not "
                     "approve, are not seen (--forge)")
    for item in report.recertifications:
        number = f"#{item.number} " if item.number else ""
        opened = f", opened {_time(item.opened_at)}" if item.opened_at else ""
        lines.append(f"open recertification: {number}{item.branch} (owner {item.owner}{opened})")
    return lines


def headline(report: Report) -> str:
    levels = report.levels()
    if not report.findings:
        return "no findings"
    return (f"{len(report.findings)} findings: {levels['high']} high, {levels['medium']} "
            f"medium, {levels['low']} low")


def render_text(report: Report) -> str:
    lines = [period_line(report), *summary_lines(report), "", headline(report)]
    for finding in report.findings:
        lines.append("")
        lines += _text_block(finding)
    return "\n".join(lines) + "\n"


def _text_block(finding: Signal) -> list[str]:
    lines = [f"{finding.level.value.upper()} {finding.code} {finding.subject}: {finding.message}"]
    evidence = finding.evidence
    if evidence.grants:
        lines.append(f"  grants: {', '.join(evidence.grants)}")
    if evidence.pull_requests:
        lines.append(f"  pull requests: {', '.join(f'#{n}' for n in evidence.pull_requests)}")
    if evidence.people:
        lines.append(f"  people: {', '.join(evidence.people)}")
    if evidence.times:
        lines.append(f"  times: {', '.join(_time(t) or '' for t in evidence.times)}")
    if evidence.records:
        lines.append(f"  ledger records: {', '.join(str(n) for n in evidence.records)}")
    lines += [f"  - {note}" for note in evidence.notes]
    lines.append(f"  what to do: {SIGNALS[finding.code].action}")
    return lines


def markdown_summary(report: Report, limit: int = 30) -> str:
    """The summary posted to the security channel and into the period's issue: the counts and
    one line per finding. Every line's text is escaped for markdown and HTML, '@' included,
    so a justification quoted in a finding can neither format nor mention anyone."""
    def safe(text: str) -> str:
        return str(escape_markdown(text))

    lines = [f"**{safe(period_line(report))}**", ""]
    lines += [f"- {safe(line)}" for line in summary_lines(report)]
    lines += ["", f"**{safe(headline(report))}**", ""]
    lines += [f"- **{finding.level.value.upper()}** `{finding.code}` {safe(finding.subject)}: "
              f"{safe(finding.message)}" for finding in report.findings[:limit]]
    if len(report.findings) > limit:
        lines.append(f"- ... and {len(report.findings) - limit} more (see the full report)")
    return "\n".join(lines) + "\n"


def summary_message(report: Report, limit: int = 30) -> Message:
    """The summary as the notification the security channel receives."""
    return access_review(
        period_line(report), headline(report), summary_lines(report),
        [(f"{f.level.value} {f.code}", f"{f.subject}: {f.message}") for f in report.findings],
        high=report.levels()["high"], limit=limit)


def finding_document(finding: Signal) -> dict[str, Any]:
    evidence = finding.evidence
    return {
        "code": finding.code, "level": finding.level.value, "policy": finding.policy or None,
        "subject": finding.subject, "message": finding.message,
        "action": SIGNALS[finding.code].action,
        "evidence": {
            "grants": list(evidence.grants), "pull_requests": list(evidence.pull_requests),
            "people": list(evidence.people), "times": [_time(t) for t in evidence.times],
            "ledger_records": list(evidence.records), "notes": list(evidence.notes),
        },
    }


def report_document(report: Report) -> dict[str, Any]:
    charts = report.charts
    thresholds = {}
    for item in fields(report.thresholds):
        value = getattr(report.thresholds, item.name)
        thresholds[item.name] = (int(value.total_seconds()) if isinstance(value, timedelta)
                                 else value)
    return {
        "version": VERSION,
        "branch": report.branch,
        "ledger": report.ledger,
        "forge": report.forge,
        "policy": report.policy,
        "period": {"since": _time(report.period.since), "until": _time(report.period.until)},
        "engine_version": report.engine_version,
        "summary": asdict(report.summary),
        "levels": report.levels(),
        "findings": [finding_document(f) for f in report.findings],
        # Built by hand: asdict copies each value deeply, and there can be a hundred thousand.
        "unused_eligibility": [
            {"login": u.login, "policy": u.policy, "role": u.role, "via": u.via}
            for u in report.unused],
        "recertifications": [
            {"branch": r.branch, "pull_request": r.number, "owner": r.owner,
             "opened_at": _time(r.opened_at)} for r in report.recertifications],
        "charts": {
            "buckets": list(charts.buckets),
            "grants_over_time": [{"policy": s.label, "values": list(s.values)}
                                 for s in charts.grants_over_time],
            "heatmap": {"weekdays": list(WEEKDAYS), "hours_utc": list(range(24)),
                        "counts": [list(row) for row in charts.heatmap]},
            "approval_latency": {"buckets": [b for b, _ in APPROVAL_BUCKETS],
                                 "counts": list(charts.approval_latency)},
            "revocation_latency": {"buckets": [b for b, _ in REVOCATION_BUCKETS],
                                   "counts": list(charts.revocation_latency)},
            "top_requesters": [{"login": k, "activations": n} for k, n in charts.top_requesters],
            "top_approvers": [{"login": k, "approvals": n} for k, n in charts.top_approvers],
        },
        "thresholds": thresholds,
    }


def render_json(report: Report) -> str:
    return indented_json(report_document(report)) + "\n"


def indented_json(value: Any) -> str:
    """``json.dumps(value, indent=2)``, character for character, for plain data (dicts with
    text keys, lists, text, whole numbers, booleans, None; anything else is handed to json).
    json uses its C encoder only without indent, and its Python one takes about a third
    longer than this on a large report."""
    out: list[str] = []
    _write(value, "\n", out)
    return "".join(out)


_SCALARS: dict[Any, str] = {None: "null", True: "true", False: "false"}


def _write(value: Any, newline: str, out: list[str]) -> None:
    # Text, the commonest value by far, is written inline by the loops below; the order of
    # the checks follows json's own (True is an int, so bool comes before int).
    if isinstance(value, str):
        out.append(encode_basestring_ascii(value))
    elif value is None or value is True or value is False:
        out.append(_SCALARS[value])
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(separator + encode_basestring_ascii(item))
            else:
                out.append(separator)
                _write(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif isinstance(value, dict) and all(type(key) is str for key in value):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        if all(type(item) is str for item in value.values()):
            # The rows of a long table (unused eligibility): one string each.
            out.append("{" + inner + ("," + inner).join(
                [encode_basestring_ascii(key) + ": " + encode_basestring_ascii(item)
                 for key, item in value.items()]) + newline + "}")
            return
        separator = "{" + inner
        for key, item in value.items():
            if type(item) is str:
                out.append(separator + encode_basestring_ascii(key) + ": "
                           + encode_basestring_ascii(item))
            else:
                out.append(separator + encode_basestring_ascii(key) + ": ")
                _write(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    else:
        # Floats, int subclasses, odd keys: json's own rules, re-indented to this depth.
        out.append(json.dumps(value, indent=2).replace("\n", newline))


CSV_COLUMNS = ("level", "code", "policy", "subject", "message", "grants", "pull_requests",
               "people", "times", "ledger_records", "notes")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; requesters write the text.
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.findings:
        e = f.evidence
        writer.writerow([f.level.value, f.code, f.policy, _cell(f.subject), _cell(f.message),
                         " ".join(e.grants), " ".join(f"#{n}" for n in e.pull_requests),
                         " ".join(e.people), " ".join(_time(t) or "" for t in e.times),
                         " ".join(str(n) for n in e.records), _cell("; ".join(e.notes))])
    return out.getvalue()
