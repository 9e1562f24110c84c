"""The report of an access review: the findings, the figures and the charts of one period."""

from __future__ import annotations

from dataclasses import dataclass

from engine.report.model import Facts, Period, Recertification, Signal, Thresholds, Unused
from engine.report.signals import review
from engine.report.stats import Charts, Summary, charts, summarize


@dataclass(frozen=True)
class Report:
    period: Period
    policy: str | None
    branch: str
    ledger: str
    """The ledger ref read."""
    forge: str
    """'none', 'local' or 'github': where pull requests and reviews came from."""
    findings: tuple[Signal, ...]
    unused: tuple[Unused, ...]
    summary: Summary
    charts: Charts
    recertifications: tuple[Recertification, ...]
    thresholds: Thresholds
    engine_version: str

    def levels(self) -> dict[str, int]:
        counts = {"high": 0, "medium": 0, "low": 0}
        for finding in self.findings:
            counts[finding.level.value] += 1
        return counts


def build_report(facts: Facts, thresholds: Thresholds, *, branch: str, ledger: str,
                 forge: str, engine_version: str) -> Report:
    found, unused = review(facts, thresholds)
    return Report(period=facts.period, policy=facts.policy, branch=branch, ledger=ledger,
                  forge=forge, findings=tuple(found), unused=tuple(unused),
                  summary=summarize(facts), charts=charts(facts),
                  recertifications=facts.recertifications, thresholds=thresholds,
                  engine_version=engine_version)
