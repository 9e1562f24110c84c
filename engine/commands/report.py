"""gitjit report: an access review of a period, from a clone and, where given, a forge.

What it reads from git is what ``gitjit audit`` reads, with the same readers: the first-parent
history of grants/, the ledger gitjit signed, the removal trailers. On top: the configuration
at the tip (who is eligible now) and as it stood ``unused_after`` before the period's end (who
was eligible then), the committer time of every reviewed commit (when it was pushed), and from
a forge the pull requests and all their reviews.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine import __version__
from engine.adapters import progress
from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger, find_ledger_ref
from engine.adapters.notify import INSTALL_HINT, AppriseMissing, Sender, apprise_send
from engine.commands import report_forge
from engine.commands.audit import read_histories, read_removal_commits
from engine.commands.repository import read_config, read_signers, require_config
from engine.core.audit import build_lifecycles
from engine.core.ledger import LedgerState
from engine.core.models import Config, Settings
from engine.core.suggest import did_you_mean
from engine.errors import GitError, UsageError
from engine.report.build import Report, build_report
from engine.report.model import Facts, Period, Thresholds
from engine.report.render import FORMATS as FORMATS
from engine.report.render import (
    markdown_summary,
    render_csv,
    render_json,
    render_text,
    summary_message,
)
from engine.report.thresholds import from_settings

DEFAULT_PERIOD = timedelta(days=30)
FORGES = ("none", "local", "github")


@dataclass(frozen=True)
class ReportOptions:
    repo: Path
    branch: str
    since: datetime | None
    until: datetime
    policy: str | None
    format: str
    forge: str
    output: Path | None = None
    notify: bool = False


def run(options: ReportOptions, send: Sender = apprise_send) -> int:
    report = make_report(options)
    rendered = render(report, options.format)
    failed = notify_summary(options, report, send) if options.notify else []
    if options.output is not None:
        options.output.write_text(rendered, encoding="utf-8")
        print(f"gitjit report: {len(report.findings)} findings; written to {options.output}",
              file=sys.stderr)
    else:
        sys.stdout.write(rendered)
    for message in failed:
        print(f"gitjit report: notify: {message}", file=sys.stderr)
    return 1 if failed else 0


def notify_summary(options: ReportOptions, report: Report, send: Sender) -> list[str]:
    """Send the markdown summary to the settings' alerts channels (the security channel);
    what could not be sent, one sentence each (never the URL: it holds secrets)."""
    repo = GitRepository(options.repo)
    config = require_config(read_config(repo.tree(repo.resolve(options.branch))))
    message = summary_message(report)
    failed = []
    if not config.settings.alerts:
        return [f"no channel is listed under alerts in {config.settings.path}"]
    for name in config.settings.alerts:
        variable = config.settings.channels.get(name, {}).get("url_env", "")
        url = os.environ.get(variable, "").strip() if variable else ""
        if not url:
            failed.append(f"channel {name!r}: the environment variable {variable or '?'} is "
                          "not set")
            continue
        try:
            delivered = send(url, message)
        except AppriseMissing:
            failed.append(f"channel {name!r}: apprise is not installed; {INSTALL_HINT}")
            continue
        except Exception as exc:  # the text may quote the URL: name the type only
            failed.append(f"channel {name!r}: sending failed ({type(exc).__name__})")
            continue
        if not delivered:
            failed.append(f"channel {name!r}: the service did not accept the message")
    return failed


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        from engine.report.html import render_html  # jinja2: only for the HTML report

        return render_html(report)
    if fmt == "text":
        return render_text(report)
    if fmt == "markdown":
        return markdown_summary(report)
    raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def make_report(options: ReportOptions) -> Report:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    repo = GitRepository(options.repo)
    facts, thresholds, ledger = read_facts(repo, options)
    return build_report(facts, thresholds, branch=options.branch, ledger=ledger,
                        forge=options.forge, engine_version=__version__)


def period_of(since: datetime | None, until: datetime) -> Period:
    start = since if since is not None else until - DEFAULT_PERIOD
    if start >= until:
        raise UsageError(f"--since {start:%Y-%m-%dT%H:%M:%SZ} is not before --until "
                         f"{until:%Y-%m-%dT%H:%M:%SZ}")
    return Period(start.astimezone(UTC), until.astimezone(UTC))


def thresholds_of(settings: Settings) -> Thresholds:
    try:
        return from_settings(settings.report)
    except ValueError as exc:
        raise UsageError(f"{settings.path}: {exc}; run 'gitjit check'") from exc


def read_facts(repo: GitRepository, options: ReportOptions) -> tuple[Facts, Thresholds, str]:
    period = period_of(options.since, options.until)
    tip = repo.resolve(options.branch)
    loaded = read_config(repo.tree(tip))
    config = require_config(loaded, options.branch)
    if options.policy is not None and options.policy not in config.policies:
        raise UsageError(f"unknown policy {options.policy!r}; "
                         f"{did_you_mean(options.policy, config.policies)}known policies: "
                         f"{', '.join(sorted(config.policies))}")
    thresholds = thresholds_of(config.settings)
    ledger = Ledger(repo, ref=find_ledger_ref(repo), signers=read_signers(repo.tree(tip)))
    state = ledger.state()
    records = tuple(ledger.records())  # the report reads every record of the period
    # Progress on stderr, on a terminal only: never in JSON, whose reader may be a program.
    with progress.task("reading grants", enabled=options.format != "json") as bar:
        histories = read_histories(repo, tip, loaded.schemas, config.settings.max_grant_bytes,
                                   bar)
    lifecycles = build_lifecycles(histories, records,
                                  read_removal_commits(repo, tip, ledger.verifier))
    pulls = report_forge.pull_requests(options.forge, repo, options.branch,
                                       since=min(period.since,
                                                 period.until - thresholds.unused_after))
    commits = {review.commit for lc in lifecycles for review in lc.approvals}
    commits |= {review.commit for pull in pulls or () for review in pull.reviews}
    facts = Facts(
        period=period,
        config=config,
        lifecycles=tuple(lifecycles),
        records=records,
        eligible_before=config_before(repo, options.branch,
                                      period.until - thresholds.unused_after, tip, config),
        pushed_at=pushed_at(repo, commits),
        pulls=None if pulls is None else tuple(pulls),
        ledger_problems=ledger_problems(state),
        recertifications=report_forge.recertifications(options.forge, repo, pulls),
        policy=options.policy,
    )
    return facts, thresholds, ledger.ref


def ledger_problems(state: LedgerState) -> tuple[str, ...]:
    problems = [f"commit {commit.sha[:12]} on the ledger: {commit.untrusted}"
                for commit in state.forged]
    problems += list(state.unreadable)
    if state.problem:
        problems.append(state.problem)
    return tuple(problems)


def config_before(repo: GitRepository, branch: str, when: datetime, tip: str,
                  current: Config) -> Config | None:
    """The configuration of the newest first-parent commit of ``branch`` at or before
    ``when``; None when the branch has no commit that old (a history too short to tell how
    long anyone has been eligible) or its configuration then was broken. Where policies/ and
    schemas/ are the same trees as at ``tip``, that is the current configuration."""
    raw = repo.git("rev-list", "--first-parent", "-n", "1",
                   f"--before={int(when.timestamp())}", branch, "--")
    sha = raw.decode("ascii").strip()
    if not sha:
        return None
    if _trees(repo, sha) == _trees(repo, tip):
        return current
    try:
        return read_config(repo.tree(sha)).result.config
    except GitError:
        return None


def _trees(repo: GitRepository, commit: str) -> tuple[str, ...]:
    """The tree ids of policies/ and schemas/ at ``commit`` ("" where missing)."""
    return tuple(
        repo.run("rev-parse", "--verify", "--quiet", f"{commit}:{folder}",
                 ok_codes=(0, 1)).stdout.decode("ascii").strip()
        for folder in ("policies", "schemas"))


def pushed_at(repo: GitRepository, commits: set[str]) -> dict[str, datetime]:
    """The committer time of each commit this clone holds (one batch): when it was pushed,
    as far as git can tell."""
    present = [sha for sha, kind in repo.object_types(c for c in commits if c).items()
               if kind == "commit"]
    found: dict[str, datetime] = {}
    for sha, raw in repo.read_objects(present, "commit").items():
        headers = raw.split(b"\n\n", 1)[0]
        for line in headers.split(b"\n"):
            if line.startswith(b"committer "):
                stamp = line.rsplit(b" ", 2)[-2]
                found[sha] = datetime.fromtimestamp(int(stamp), UTC)
                break
    return found
