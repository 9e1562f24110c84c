"""The command line: a thin click layer that fills an options object and calls a command.

Exit codes (also in the README):
  0  success: clean check, approved pull request, all policy tests pass
  1  findings: check found errors, the pull request is denied, a policy test failed
  2  usage or configuration error: the command could not run as asked
  3  internal error: a bug in gitjit; please report it
  4  pending: the pull request waits for approvals (check-pr only)
"""

from __future__ import annotations

import importlib
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from engine import __version__
from engine.adapters import clock
from engine.cli_types import (
    DEFAULT_FORGE,
    FORGE_ORDER,
    FORMAT_ORDER,
    Day,
    Duration,
    LoginType,
    Timestamp,
    aliased,
    complete_policy,
    deprecated_alias,
    ordered,
)
from engine.commands import forges
from engine.core.models import Login
from engine.errors import GitjitError
from engine.reporters import CHECK_FORMATS, PR_FORMATS
from engine.reporters.terminal import StyledGroup

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _logins(ctx: click.Context, param: click.Parameter, value: str | None) -> frozenset[Login]:
    names = [v.strip() for v in (value or "").split(",") if v.strip()]
    return frozenset(LoginType().convert(name, param, ctx) for name in names)


class _LazyChoice(click.Choice):  # type: ignore[type-arg,unused-ignore]
    """A choice among a command module's constants, read when the option is first used:
    defining the command line must not import every command (gitjit --help would load
    PyGithub, the ledger, the lifecycle ...)."""

    def __init__(self, module: str, name: str, order: tuple[str, ...]) -> None:
        self._source = (module, name)
        self._order = order
        super().__init__(())

    # Any: click 8.4 declares Sequence[Any], 8.5 tuple[...]; the value is a tuple of str.
    @property
    def choices(self) -> Any:
        module, name = self._source
        values: tuple[str, ...] = getattr(importlib.import_module(f"engine.commands.{module}"),
                                          name)
        return ordered(values, self._order)

    @choices.setter
    def choices(self, _value: Any) -> None:
        pass


def _choices(module: str, name: str,
             order: tuple[str, ...] = FORMAT_ORDER) -> click.Choice:  # type: ignore[type-arg]
    return _LazyChoice(module, name, order)


class _LazyGroup(click.Group):
    """A command group defined in another module, loaded when it is used: listing it in
    'gitjit --help' needs only its one-line help."""

    def __init__(self, name: str, module: str, summary: str) -> None:
        # The first paragraph of the group's own help: 'gitjit --help' shortens it as it
        # would the group's.
        super().__init__(name, help=summary)
        self._module = module

    def _group(self) -> click.Group:
        group: click.Group = importlib.import_module(self._module).group
        return group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._group().format_help(ctx, formatter)


local_group = _LazyGroup("local", "engine.commands.local", "A forge in your repository: pull "
                         "requests, reviews and merges, offline.")


def _params(ctx: click.Context, param: click.Parameter,
            value: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for item in value:
        name, equals, text = item.partition("=")
        if not equals or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", ctx, param)
        if name in dict(out):
            raise click.BadParameter(f"{name!r} is given twice", ctx, param)
        out.append((name, text))
    return tuple(out)


REPO = click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=".",
                    show_default=True, help="The access repository (a git working tree).")
NOW = click.option("--now", type=Timestamp(), default=None,
                   help="Judge as of this time (RFC 3339 with offset, e.g. 2026-11-30T09:00:00Z);"
                        " default: the current time.")


@click.group(cls=StyledGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="gitjit")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Show the Python traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, show_traceback: bool) -> None:
    """gitjit: just-in-time privileged access, approved in git.

    Access requests are pull requests that add one grant file under grants/. gitjit checks
    them against the policies under policies/ and says what is missing.

    \b
    Exit codes: 0 ok or approved, 1 findings or denied, 2 usage or
    configuration error, 3 internal error, 4 pending (check-pr).

    \b
    Example:
      gitjit init access && cd access
      gitjit check && gitjit test
      gitjit explain db-admin
    """
    ctx.obj = show_traceback


@cli.command("check")
@REPO
@click.option("--now", type=Timestamp(), default=None,
              help="Also report committed grants whose time is up at this time (RFC 3339 with "
                   "offset) and that await removal, as notices.")
@click.option("--format", "fmt", type=click.Choice(ordered(CHECK_FORMATS)), default="text",
              show_default=True, help="Output format; 'github' prints workflow annotations.")
@click.option("--forge", type=click.Choice(FORGE_ORDER), default=DEFAULT_FORGE,
              show_default=True,
              help="'github': also look every login the configuration names up on GitHub "
                   "(GITHUB_REPOSITORY, GITHUB_TOKEN) and warn where one no longer resolves or "
                   "is another account than the id pinned in policies/groups.yaml; 'local' and "
                   "'none' look nothing up (the local forge has no accounts).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Check grants in this many processes (default: one per 1,000 grants, up "
                   "to the number of cores).")
def check_command(repo: Path, now: datetime | None, fmt: str, forge: str,
                  jobs: int | None) -> int:
    """Validate all configuration and every grant in the working tree.

    Checks every file under policies/ and grants/ with the strict YAML loader and the
    schemas, and across files: unknown policies and groups, grant paths that disagree with
    their content, approval steps that can never be met.

    \b
    Example:
      gitjit check --repo . --format json
    """
    from engine.commands import check

    return check.run(check.CheckOptions(repo, now, fmt, forge, jobs))


@cli.command("check-pr")
@REPO
@click.option("--base", help="The base branch (its tip judges the request).")
@click.option("--head", help="The pull request's head commit or branch.")
@click.option("--as", "author", type=LoginType(),
              help="The pull request's author, as the forge reports it (the requester).")
@deprecated_alias("--author", "--as", "author", type=LoginType())
@click.option("--forge", type=click.Choice(FORGE_ORDER), default=DEFAULT_FORGE,
              show_default=True,
              help="With --pr N: read the pull request from the local forge, or from GitHub "
                   "(GITHUB_REPOSITORY, GITHUB_TOKEN; the verdict check and plan comment are "
                   "posted). Without --pr: --base, --head and --as say what to judge.")
@click.option("--pr", type=click.IntRange(min=1),
              help="The pull request number, read from the --forge.")
@click.option("--reviews", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="GitHub's 'list reviews for a pull request' JSON (all pages).")
@click.option("--pushers", callback=_logins, default="", metavar="LOGIN,...",
              help="People who pushed or authored commits on the pull request.")
@NOW
@click.option("--format", "fmt", type=click.Choice(ordered(PR_FORMATS)), default="text",
              show_default=True, help="Output format; 'markdown' is the pull-request comment.")
def check_pr_command(repo: Path, base: str | None, head: str | None, author: Login | None,
                     forge: str, pr: int | None, reviews: Path | None,
                     pushers: frozenset[Login], now: datetime | None, fmt: str) -> int:
    """The verdict on a pull request, offline or on GitHub.

    Classifies the change from the merge base of BASE and HEAD to HEAD (request,
    relinquish, housekeeping, revoke, modify, control plane, mixed), reads grant files at
    HEAD as data only, and judges them with the configuration at the tip of BASE.

    With --pr N, base, head, author, reviews and pushers come from the forge: the local
    forge (the default) judges as 'gitjit local show N' does. With --forge github --pr N,
    they come from GitHub;
    the head must have been fetched (as data, never checked out), and the verdict is posted
    as the check gitjit/verdict (a check run with a GitHub App token, GITJIT_TOKEN_KIND=app;
    a commit status otherwise) and as the plan comment, updated in place.

    \b
    Exit codes: 0 approved, 1 denied, 4 pending (approvals missing or
    changes requested), 2 usage error.

    \b
    Example:
      gh api repos/acme/access/pulls/42/reviews --paginate > reviews.json
      gitjit check-pr --base main --head pr-42 --as bob --reviews reviews.json
      gitjit check-pr --pr 1
      gitjit check-pr --forge github --pr 42 --format github
    """
    from engine.commands import check_pr

    author = aliased("author", author)
    options = check_pr.CheckPullRequestOptions(repo, base, head, author, reviews, pushers,
                                               now or clock.now(), fmt, forge, pr)
    return check_pr.run(options)


@cli.command("test")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
@click.option("-v", "--verbose", is_flag=True, help="Also list the cases that pass.")
@click.option("--format", "fmt", type=_choices("policy_test", "FORMATS"), default="text",
              show_default=True, help="'junit' is JUnit XML for CI test reports.")
def test_command(path: Path, verbose: bool, fmt: str) -> int:
    """Run the policy tests (kind PolicyTest under policies/tests/).

    PATH is the access repository, or a test file or folder inside it to run only those.
    Each case gives a grant, an author, reviews, a time and the expected decision. A
    repository without policy tests passes (and says so); a PATH that holds none fails.

    \b
    Example:
      gitjit test
      gitjit test policies/tests/break-glass-prod.yaml
      gitjit test --format junit > policy-tests.xml
    """
    repo, only = _split_repo(path)
    from engine.commands import policy_test

    return policy_test.run(policy_test.TestOptions(repo, only, verbose, fmt))


@cli.command("explain")
@click.argument("policy", required=False, shell_complete=complete_policy)
@REPO
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="'json' gives the policy as data (docs/json-output.md).")
def explain_command(policy: str | None, repo: Path, fmt: str) -> int:
    """Say in plain words who may request POLICY, who must approve, and the limits; without
    POLICY, list the policies.

    \b
    Example:
      gitjit explain
      gitjit explain prod-db-admin --format json
    """
    from engine.commands import explain

    return explain.run(explain.ExplainOptions(repo, policy, fmt))


@cli.command("policies")
@REPO
@click.option("--for", "login", type=LoginType(),
              help="Only what LOGIN may request, with the conditions and who would approve.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def policies_command(repo: Path, login: Login | None, fmt: str) -> int:
    """List the policies, or what one person may request: under which conditions (duration,
    ticket, active hours, break-glass) and who would approve it.

    \b
    Example:
      gitjit policies --for alice
      gitjit policies --for alice --format json
    """
    from engine.commands import policies

    return policies.run(policies.PoliciesOptions(repo, login, fmt))


LIFECYCLE_OPTIONS = [
    click.option("--branch", default="main", show_default=True,
                 help="The default branch, where merged grants live."),
    click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing."),
    click.option("--no-notify", "quiet", is_flag=True,
                 help="Tell no channel (a trial run); everything else happens as usual."),
    click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                 show_default=True),
    click.option("--forge", type=click.Choice(forges.FORGES), default=DEFAULT_FORGE,
                 show_default=True,
                 help="Where pull requests live: the local forge, or GitHub (from the "
                      "workflow's GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL; writes "
                      "are pushed to origin)."),
]


def _lifecycle_options(command: Any) -> Any:
    for option in reversed([REPO, NOW, *LIFECYCLE_OPTIONS]):
        command = option(command)
    return command


@cli.command("activate")
@_lifecycle_options
def activate_command(repo: Path, now: datetime | None, branch: str, dry_run: bool, quiet: bool,
                     fmt: str, forge: str) -> int:
    """Verify and apply the grants newly merged into the default branch.

    Each grant on BRANCH without a verdict in the ledger is re-verified from the forge's
    data (its pull request, reviews, head SHA) against the configuration of the merge's
    first parent. A verified grant is applied to its target (when its window is open) and
    recorded as activated; one that fails is never applied: it is refused, an alert is
    recorded, and the file is removed by a commit.

    \b
    Exit codes: 0 done, 1 some grant failed (the others went ahead), 2 usage error.

    \b
    Example:
      gitjit activate --dry-run
      gitjit activate --forge github
    """
    from engine.commands import lifecycle_run

    options = lifecycle_run.LifecycleOptions(repo, branch, now or clock.now(), dry_run, fmt,
                                             forge, notify=not quiet)
    return lifecycle_run.run_activate(options)


@cli.command("reconcile")
@_lifecycle_options
def reconcile_command(repo: Path, now: datetime | None, branch: str, dry_run: bool, quiet: bool,
                      fmt: str, forge: str) -> int:
    """Make every target match the grants that are live now, then remove expired files.

    Applies every verified, active grant (idempotently); revokes grants whose time is up or
    whose file a pull request deleted, unless another live grant covers the same person and
    target; records each end in the ledger; and removes expired grant files by one commit
    with trailers (or a pull request, if settings say removal: pull-request). One grant's
    failure never stops the others.

    \b
    Exit codes: 0 done, 1 something failed (see the report), 2 usage error.

    \b
    Example:
      gitjit reconcile --dry-run
      gitjit reconcile --forge github
    """
    from engine.commands import lifecycle_run

    options = lifecycle_run.LifecycleOptions(repo, branch, now or clock.now(), dry_run, fmt,
                                             forge, notify=not quiet)
    return lifecycle_run.run_reconcile(options)


BRANCH = click.option("--branch", default="main", show_default=True,
                      help="The default branch, where merged grants live.")


@cli.command("status")
@REPO
@BRANCH
@NOW
@click.option("--format", "fmt", type=_choices("status", "FORMATS"), default="text",
              show_default=True)
@click.option("--requester", type=LoginType(),
              help="Only this person's grants and actions, and their open requests.")
@click.option("--mine", is_flag=True,
              help="--requester yourself: $GITJIT_LOGIN, else 'git config github.user'.")
def status_command(repo: Path, branch: str, now: datetime | None, fmt: str,
                   requester: Login | None, mine: bool) -> int:
    """Where every grant on the default branch stands now.

    Reads the grant files at the tip of BRANCH through git (not the working tree) and the
    ledger's verdicts: active, scheduled, expired awaiting removal, awaiting activation (no
    verdict yet) or refused awaiting removal, with activation time, expiry, time left, and
    whether the target or gitjit enforces the expiry. With --mine or --requester, one
    person's grants, actions and open requests (pull requests of the local forge).

    \b
    Example:
      gitjit status
      gitjit status --mine
      gitjit status --requester alice --format json
    """
    from engine.commands import status

    if mine:
        if requester is not None:
            raise click.UsageError("--mine and --requester both say whose status; give one")
        requester = status.my_login(repo)
    return status.run(status.StatusOptions(repo, branch, now or clock.now(), fmt, requester))


@cli.group("audit", invoke_without_command=True)
@REPO
@BRANCH
@click.option("--since", type=Day(), default=None,
              help="Keep only lifecycles with an event at or after this day or time.")
@click.option("--format", "fmt", type=_choices("audit", "FORMATS"), default="text",
              show_default=True)
@click.pass_context
def audit_group(ctx: click.Context, repo: Path, branch: str, since: datetime | None,
                fmt: str) -> int | None:
    """Every grant's lifecycle, rebuilt from this clone alone (no forge, no network).

    Requested (by whom, why), the pull request, who approved and when, activated, how and
    when it ended, and the removal commit: from the history of BRANCH, the ledger
    (gitjit/ledger or origin/gitjit/ledger) and the removal commits' trailers.

    \b
    'gitjit audit verify' checks the ledger for tampering instead.

    \b
    Example:
      git fetch origin gitjit/ledger
      gitjit audit --since 2026-11-01 --format csv > audit.csv
    """
    if ctx.invoked_subcommand is not None:
        return None
    from engine.commands import audit

    return audit.run(audit.AuditOptions(repo, branch, since, fmt))


@audit_group.command("verify")
@REPO
@BRANCH
@click.option("--format", "fmt", type=_choices("audit", "VERIFY_FORMATS"), default="text",
              show_default=True)
@click.pass_context
def audit_verify_command(ctx: click.Context, repo: Path, branch: str, fmt: str) -> int:
    """Check the ledger: rewritten, removed or reordered records, records naming commits
    that do not exist, and grants on BRANCH that were never verified.

    \b
    Exit codes: 0 intact, 1 findings, 2 usage error or no ledger.

    \b
    Example:
      git fetch origin gitjit/ledger
      gitjit audit verify
    """
    # 'gitjit audit --repo X verify' means the same as 'gitjit audit verify --repo X'.
    parent = ctx.parent.params if ctx.parent else {}
    if ctx.get_parameter_source("repo") is click.core.ParameterSource.DEFAULT:
        repo = parent.get("repo", repo)
    if ctx.get_parameter_source("branch") is click.core.ParameterSource.DEFAULT:
        branch = parent.get("branch", branch)
    from engine.commands import audit

    return audit.run_verify(audit.VerifyOptions(repo, branch, fmt))


@cli.command("report")
@REPO
@BRANCH
@click.option("--since", type=Day(), default=None,
              help="Start of the period (included); default: 30 days before --until.")
@click.option("--until", type=Day(), default=None,
              help="End of the period (excluded); default: now.")
@click.option("--policy", default=None, help="Review only this policy.")
@click.option("--format", "fmt", type=_choices("report", "FORMATS"), default="text",
              show_default=True,
              help="'html' is one self-contained file with the charts (use --output).")
@click.option("--forge", type=_choices("report", "FORGES", FORGE_ORDER), default=DEFAULT_FORGE,
              show_default=True,
              help="Also read pull requests and all their reviews: from the local forge, or "
                   "GitHub (GITHUB_REPOSITORY, GITHUB_TOKEN); gives denied and abandoned "
                   "requests, reviews that did not approve, and break-glass reviews.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of standard output.")
@click.option("--notify", is_flag=True,
              help="Also send the summary to the channels under alerts in settings.")
def report_command(repo: Path, branch: str, since: datetime | None, until: datetime | None,
                   policy: str | None, fmt: str, forge: str, output: Path | None,
                   notify: bool) -> int:
    """An access review of a period: unusual patterns, each with its evidence and a severity.

    Reads this clone (the history of BRANCH, the ledger gitjit signed, the configuration) and,
    with --forge, the pull requests and their reviews. Signals: too many activations, unused
    eligibility, rubber-stamp approvals, reciprocal approvals and rings, overdue break-glass
    reviews, activity outside active hours or at unusual times, reused or short
    justifications and reused tickets, long chains of extensions, late revocations, access
    held after its end, refused activations, alerts and drift (docs/audit.md). Thresholds
    come from report: in policies/settings.yaml.

    \b
    Exit codes: 0 the report was made (findings or not), 1 a notification
    could not be sent (--notify), 2 usage error.

    \b
    Example:
      gitjit report --since 2026-11-01 --until 2026-12-01 --format html -o review.html
    """
    from engine.commands import report

    options = report.ReportOptions(repo, branch, since, until or clock.now(), policy, fmt,
                                   forge, output, notify)
    return report.run(options)


@cli.command("recertify")
@REPO
@BRANCH
@NOW
@click.option("--forge", type=_choices("recertify", "FORGES", FORGE_ORDER),
              default=DEFAULT_FORGE,
              show_default=True,
              help="'local' opens the pull requests in the local forge, 'github' pushes the "
                   "branches and opens them on GitHub; 'none' prepares the branches only.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def recertify_command(repo: Path, branch: str, now: datetime | None, forge: str,
                      fmt: str) -> int:
    """Open one pull request per policy owner that removes unused eligibility.

    Finds the people who have not used their eligibility (the report's unused-eligibility
    signal) and, for each owner of the policies concerned (a policy's owners, else the
    admins in settings), prepares a branch gitjit/recertify/OWNER that removes them from the
    groups and policies, with the evidence in the pull request's description. The owners
    approve (merge) or reject (close) it.

    \b
    Exit codes: 0 done (or nothing to remove), 2 usage error.

    \b
    Example:
      gitjit recertify --forge local
      gitjit local list
    """
    from engine.commands import recertify

    options = recertify.RecertifyOptions(repo, branch, now or clock.now(), forge, fmt)
    return recertify.run(options)


@cli.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the simulated repository here (a new or empty folder); default: a "
                   "temporary folder, deleted afterwards.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def simulate_command(scenario: Path, workdir: Path | None, fmt: str) -> int:
    """Run SCENARIO, a timeline of requests, reviews, merges and lifecycle runs, end to end.

    The access repository's policies/ and schemas/ are copied into a new repository with a
    local forge; every policy's target is the recording target, so nothing real is touched.
    Each step prints one timeline line and whether its expectations hold (docs/simulate.md).

    \b
    Exit codes: 0 every expectation holds, 1 one failed, 2 the scenario
    file is invalid (findings with file and line) or a step cannot run.

    \b
    Example:
      gitjit simulate docs/scenarios/happy-path.yaml
      gitjit simulate my-scenario.yaml --workdir /tmp/sim --format json
    """
    from engine.commands import simulate

    return simulate.run(simulate.SimulateOptions(scenario, workdir, fmt))


@cli.command("demo")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's repository here (a new or empty folder) to look around.")
def demo_command(workdir: Path | None) -> int:
    """Show gitjit at work: a request, approvals, merges, activation and revocation.

    Runs a bundled scenario against the example configuration in a temporary repository,
    with a local forge and a recording target: no account, network or database needed.

    \b
    Example:
      gitjit demo
      gitjit demo --workdir /tmp/gitjit-demo
    """
    from engine.commands import simulate

    return simulate.run_demo(simulate.DemoOptions(workdir))


@cli.command("request")
@click.argument("policy", shell_complete=complete_policy)
@click.option("--as", "requester", type=LoginType(),
              help="Your forge login: the pull request's author must be the requester "
                   "(with --forge github, default: the token's login).")
@click.option("--duration", type=Duration(),
              help="How long, e.g. 30m, 2h, 1h30m (default: the policy's).")
@click.option("--justification", required=True, help="Why you need the access.")
@click.option("--ticket", help="The incident or change reference, if the policy asks.")
@click.option("--start", type=Timestamp(),
              help="Start later than the merge (RFC 3339 with offset).")
@click.option("--extends", help="The id of your live grant this one extends.")
@click.option("--break-glass", is_flag=True, help="Emergency access, if the policy allows it.")
@click.option("--runbook", help="File an action instead: run this runbook of POLICY once "
              "after the merge (see 'gitjit explain POLICY').")
@click.option("--param", "params", multiple=True, callback=_params, metavar="NAME=VALUE",
              help="A runbook parameter (repeat for each).")
@click.option("--sql", help="File an action of free-form SQL, where POLICY allows it.")
@click.option("--max-rows", type=click.IntRange(min=1),
              help="An action's row guard: roll back if more rows change.")
@click.option("--branch", "base", default="main", show_default=True,
              help="The default branch, where merged grants live.")
@deprecated_alias("--base", "--branch", "base")
@click.option("--forge", type=_choices("request", "FORGES", FORGE_ORDER), default=DEFAULT_FORGE,
              show_default=True,
              help="'github' pushes the branch and opens the pull request on GitHub "
                   "(the repository from GITHUB_REPOSITORY or the origin remote; the token "
                   "from GITHUB_TOKEN, GH_TOKEN or 'gh auth token'); 'local' opens it in the "
                   "local forge; "
                   "'none' prepares the branch and says what to do next.")
@REPO
@NOW
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def request_command(policy: str, requester: Login | None, duration: str | None, justification: str,
                    ticket: str | None, start: datetime | None, extends: str | None,
                    break_glass: bool, runbook: str | None,
                    params: tuple[tuple[str, str], ...], sql: str | None,
                    max_rows: int | None, base: str, forge: str, repo: Path,
                    now: datetime | None, fmt: str) -> int:
    """Request access, or an action: write it on a new branch and open the pull request.

    The grant goes to its canonical path, grants/POLICY/LOGIN-STAMP.yaml, committed on the
    branch access/POLICY/LOGIN-STAMP on top of BRANCH (your checkout is not touched). gitjit
    judges it at once: a request that would be denied is not opened; otherwise it says
    which approvals it needs and who may give them.

    With --runbook (and --param NAME=VALUE) or --sql it files an action instead:
    actions/POLICY/LOGIN-STAMP.yaml on the branch action/POLICY/LOGIN-STAMP; gitjit shows
    exactly what will run, and after approval and merge runs it once (docs/actions.md).

    \b
    Example:
      gitjit request prod-db-admin --as bob --duration 2h --ticket INC-1234 \\
        --justification "Replication lag on the orders primary" --forge local
      gitjit request orders-fix --as bob --runbook cancel-order --param order_id=4711 \\
        --justification "Double charge, INC-1234" --ticket INC-1234 --forge local
    """
    from engine.commands import request

    base = aliased("base", base)
    options = request.RequestOptions(repo, policy, requester, duration, justification, ticket,
                                     start, extends, break_glass, base, forge,
                                     now or clock.now(), fmt, runbook, params, sql, max_rows)
    return request.run(options)


@cli.command("targets")
@click.argument("provider", required=False)
@click.option("--format", "fmt", type=_choices("targets", "FORMATS"), default="text",
              show_default=True)
def targets_command(provider: str | None, fmt: str) -> int:
    """The target providers installed with this gitjit, and what each accepts.

    For each provider: where it comes from (built-in, or which package), the keys a policy's
    target and a settings connection may hold (its JSON Schemas, which 'gitjit check' and
    the verdict check), whether the target itself ends access at a grant's end, and whether
    it can list who holds a privilege (drift detection). PROVIDER prints one provider with
    its full schemas; gitjit's own providers that are not installed are listed with the
    command that installs them.

    \b
    Exit codes: 0 ok, 1 an installed provider cannot be used, 2 unknown PROVIDER.

    \b
    Examples:
      gitjit targets
      gitjit targets postgres
      gitjit targets --format json
    """
    from engine.commands import targets

    return targets.run(targets.TargetsOptions(provider, fmt))


@cli.command("codeowners")
@REPO
@click.option("--write", is_flag=True, help="Write .github/CODEOWNERS instead of printing it.")
def codeowners_command(repo: Path, write: bool) -> int:
    """Generate .github/CODEOWNERS from the policies.

    grants/POLICY/ is owned by the policy's approvers (every step), everything else by the
    policy admins named in policies/settings.yaml (admins: [@org/team]). 'gitjit check'
    warns when the file drifts from the policies.

    \b
    Example:
      gitjit codeowners --write && git add .github/CODEOWNERS
    """
    from engine.commands import codeowners

    return codeowners.run(codeowners.CodeownersOptions(repo, write))


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--branch", default=None,
              help="The default branch the workflows watch (default: the repository's "
                   "current branch, or main in a new repository).")
@click.option("--release-lock", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None,
              help="A folder with the release's locks (gitjit.txt, gitjit-release.txt), for a "
                   "gitjit installed from source; a release carries its own.")
@click.option("--local-key", is_flag=True,
              help="Also make a lifecycle signing key for offline trials (in .git/gitjit, never "
                   "committed) and list it in policies/allowed_signers.")
def init_command(directory: Path, branch: str | None, release_lock: Path | None,
                 local_key: bool) -> int:
    """Create an access repository in DIRECTORY (default: here) and commit it.

    Writes an example policy with comments and its policy tests, groups, settings, the JSON
    Schemas with editor settings that attach them (.vscode/), CODEOWNERS, and the GitHub
    workflows, which install this gitjit release pinned by hash (requirements/), never
    anything of the repository itself. DIRECTORY may be a new or empty folder, or the top of
    a git repository without an access configuration; no file is ever overwritten.

    \b
    Exit codes: 0 created, 2 a file exists already or no release lock.

    \b
    Example:
      gitjit init access && cd access
      gitjit check && gitjit test
    """
    from engine.commands import init

    return init.run(init.InitOptions(directory, branch, release_lock, local_key))


@cli.command("schemas")
@click.option("--write", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Write the schemas into DIR instead of listing them.")
def schemas_command(write: Path | None) -> int:
    """The JSON Schemas of every file kind, for editors and other tools.

    Lists the schema files packaged with this gitjit, or writes them into DIR (an access
    repository's schemas/ folder, which then judges its files: refresh it after an upgrade).

    \b
    Example:
      gitjit schemas --write schemas
    """
    from engine.commands import init

    return init.run_schemas(init.SchemasOptions(write))


@cli.command("doctor")
@click.option("--branch", help="The default branch (default: the repository's).")
@click.option("--app-id", type=int, help="The gitjit App's id (default: $GITJIT_APP_ID, else "
              "the repository variable GITJIT_APP_ID): the required check, the heartbeat and "
              "gitjit's branches must be its.")
@NOW
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def doctor_command(branch: str | None, app_id: int | None, now: datetime | None,
                   fmt: str) -> int:
    """Check a live GitHub repository's settings against what gitjit relies on.

    Reads GITHUB_REPOSITORY, GITHUB_TOKEN (needs administration:read) and GITHUB_API_URL,
    and reports each requirement as ok or FAIL with its fix: pull requests required, the
    gitjit/verdict check required and from the gitjit App, stale approvals dismissed and the
    last push approved by someone else, removals that main accepts, no bypass actors,
    Actions may not approve pull requests, a read-only default token, gitjit/ledger and
    gitjit/* written by the App alone, and a recent reconcile heartbeat that gitjit posted.
    The App's id comes from --app-id, GITJIT_APP_ID or the repository variable
    GITJIT_APP_ID; without one the repository is checked as GITHUB_TOKEN mode.

    \b
    Exit codes: 0 all met, 1 something to fix, 2 usage error.

    \b
    Example:
      export GITHUB_REPOSITORY=acme/access GITHUB_TOKEN="$(gh auth token)"
      gitjit doctor --app-id 123456
    """
    from engine.commands import doctor

    return doctor.run(doctor.DoctorOptions(branch, app_id, now or clock.now(), fmt))


@cli.command("watchdog")
@REPO
@BRANCH
@click.option("--forge", type=click.Choice(forges.FORGES), default=DEFAULT_FORGE,
              show_default=True,
              help="Where reconcile's heartbeat is: the local forge, or GitHub (the "
                   "gitjit/heartbeat on the default branch; GITHUB_REPOSITORY, GITHUB_TOKEN).")
@click.option("--app-id", type=int, help="The gitjit App's id (default: $GITJIT_APP_ID): only "
              "its check runs count; without one, GITHUB_TOKEN mode's commit statuses do.")
@NOW
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def watchdog_command(repo: Path, branch: str, forge: str, app_id: int | None,
                     now: datetime | None, fmt: str) -> int:
    """Tell the security channels when reconcile has not succeeded for too long.

    Runs apart from reconcile (its own schedule). Reads when reconcile last succeeded (on
    GitHub, the gitjit/heartbeat gitjit posted on the default branch's recent commits; locally,
    the local forge's heartbeat) and, when that is older than watchdog.after in
    policies/settings.yaml (default 1h), tells the watchdog.notify channels (default: alerts),
    again every watchdog.repeat (default 6h) while it lasts.

    \b
    Exit codes: 0 reconcile is on time, 1 it is stalled (or telling failed), 2 usage error.

    \b
    Example:
      gitjit watchdog --forge github
    """
    from engine.commands import watchdog

    return watchdog.run(watchdog.WatchdogOptions(repo, branch, now or clock.now(), forge,
                                                 app_id, fmt))


def _split_repo(path: Path) -> tuple[Path, str | None]:
    """The repository that holds ``path`` (the nearest folder with policies/) and the part
    of ``path`` inside it."""
    path = path.resolve()
    for candidate in [path, *path.parents]:
        if (candidate / "policies").is_dir():
            inner = path.relative_to(candidate).as_posix()
            return candidate, None if inner == "." else inner
    raise GitjitError(f"{path} is not inside an access repository (no policies/ folder)")


def run(args: list[str] | None = None, entry: click.Command = cli) -> int:
    """The error boundary: expected errors are one sentence and exit 2, bugs exit 3."""
    show_traceback = "--traceback" in (args if args is not None else sys.argv[1:])
    try:
        result = entry.main(args=args, prog_name="gitjit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("gitjit: aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except GitjitError as exc:
        if show_traceback:
            traceback.print_exc()
        click.echo(f"gitjit: error: {exc}", err=True)
        return EXIT_USAGE
    except Exception:
        if show_traceback:
            traceback.print_exc()
        else:
            click.echo(f"gitjit: internal error: {traceback.format_exc().splitlines()[-1]}",
                       err=True)
        click.echo("This is a bug in gitjit: please report it with the output of "
                   "'gitjit --traceback ...'.", err=True)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())


cli.add_command(local_group)
