"""gitjit local: drive the local forge from the command line.

Each subcommand is one move a forge user makes (open, review, push, merge, close) or a look at
the forge (list, show). State lives in the repository's git directory, so a sequence of
separate calls works, and ``merge`` is gated by gitjit's verdict the way a branch ruleset
requiring gitjit's check would gate it on GitHub.

The options use engine.cli_types, as engine.cli does (engine.cli registers this group, so
importing it back would be circular).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.adapters import clock
from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge, MergeRefusedError
from engine.adapters.signing import generate_key, local_key_path
from engine.cli_types import LoginType, Timestamp
from engine.core.decision import Outcome
from engine.core.forge import PullRequestInfo, PullRequestState
from engine.core.models import Login, ReviewState
from engine.core.report import PullRequestReport
from engine.core.signers import SIGNERS_PATH
from engine.errors import UsageError
from engine.reporters import jsonout, text
from engine.reporters.terminal import StyledGroup
from engine.targets.registry import catalog

if TYPE_CHECKING:
    from engine.commands.verdict import Verdict

EXIT_OK = 0
EXIT_REFUSED = 1
JSON_VERSION = 1


REPO = click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=".",
                    show_default=True, help="The access repository (a git working tree).")
NOW = click.option("--now", type=Timestamp(),
                   help="Act at this time (RFC 3339 with offset, e.g. 2026-11-30T09:00:00Z); "
                        "default: the current time.")
AS = click.option("--as", "login", required=True, type=LoginType(),
                  help="Who acts (a forge login).")
NUMBER = click.argument("number", type=click.IntRange(min=1))
FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, help="Output format.")


def _forge(repo: Path) -> tuple[GitRepository, LocalForge]:
    git = GitRepository(repo)
    return git, LocalForge(git)


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@click.group("local", cls=StyledGroup)
def group() -> None:
    """A forge in your repository: pull requests, reviews and merges, offline.

    Pull requests are real branches and merges are real merge commits (made with git
    plumbing: your working tree and index are never touched). Reviews, pushers and comments
    are kept in .git/gitjit/forge.json, which clones do not carry. Use it to try policies
    end to end, to demo gitjit, and for `gitjit simulate`.

    \b
    Example session:
      git switch -c request/ana && git add grants/ && git commit -m "Request access"
      gitjit local open --as ana --head request/ana --title "Reports access"
      gitjit local review 1 --as lea --approve
      gitjit local merge 1 --as lea
    """


@group.command("keygen")
@REPO
def keygen_command(repo: Path) -> int:
    """Make this repository's lifecycle signing key, and list it in policies/allowed_signers.

    gitjit signs every commit it writes (ledger records, removals) and trusts none it cannot
    verify against policies/allowed_signers on the default branch. In a local repository the
    key lives in the git directory (.git/gitjit/signing_key, never committed); its public
    line is added to policies/allowed_signers in the working tree. Commit that file (through
    your usual review: it says who may write records), then activate and reconcile can run.
    On GitHub the key is an environment secret instead (docs/signing.md).

    \b
    Example:
      gitjit local keygen
      git add policies/allowed_signers && git commit -m "gitjit's lifecycle key"
    """
    git = GitRepository(repo)
    key = local_key_path(git)
    line = generate_key(key)
    signers = git.root / SIGNERS_PATH
    existing = signers.read_text(encoding="ascii") if signers.is_file() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    signers.parent.mkdir(parents=True, exist_ok=True)
    signers.write_text(existing + line + "\n", encoding="ascii")
    click.echo(f"made the signing key {key} (keep it private; it never leaves this clone)")
    click.echo(f"listed it in {SIGNERS_PATH}:\n  {line}")
    click.echo(f"next: git add {SIGNERS_PATH} && git commit -m \"gitjit's lifecycle key\"")
    return EXIT_OK


@group.command("open")
@REPO
@AS
@click.option("--head", required=True, metavar="BRANCH", help="The existing branch to merge.")
@click.option("--base", default="main", show_default=True, metavar="BRANCH",
              help="The branch to merge into.")
@click.option("--title", default="", help="Default: the head commit's subject.")
@click.option("--body", default="", help="The pull request's description.")
@NOW
def open_command(repo: Path, login: Login, head: str, base: str, title: str, body: str,
                 now: datetime | None) -> int:
    """Open a pull request from BRANCH into the base, authored by LOGIN.

    The author is the requester gitjit judges: a grant's requester must be this login.

    \b
    Example:
      gitjit local open --as ana --head request/ana --title "Reports access"
    """
    _, forge = _forge(repo)
    opened = forge.open_pull_request(author=login, head_ref=head, base=base, title=title,
                                     body=body, at=now or clock.now())
    click.echo(f"opened pull request #{opened.number}: {opened.author} wants to merge "
               f"{opened.head_ref} ({opened.head_sha[:12]}) into {opened.base}")
    return EXIT_OK


_REVIEW_FLAGS = {"approve": ReviewState.APPROVED, "request_changes": ReviewState.CHANGES_REQUESTED,
                 "comment": ReviewState.COMMENTED, "dismiss": ReviewState.DISMISSED}


@group.command("review")
@NUMBER
@REPO
@AS
@click.option("--approve", is_flag=True, help="Approve.")
@click.option("--request-changes", is_flag=True, help="Request changes (blocks the request).")
@click.option("--comment", is_flag=True, help="Comment only (never counts).")
@click.option("--dismiss", is_flag=True, help="Dismiss LOGIN's earlier review.")
@click.option("--bot", is_flag=True, help="The reviewer is a bot (its reviews never count).")
@click.option("--commit", metavar="SHA", help="Review this commit; default: the current head.")
@click.option("--body", default="", help="The review's text.")
@NOW
def review_command(number: int, repo: Path, login: Login, approve: bool,
                   request_changes: bool, comment: bool, dismiss: bool, bot: bool,
                   commit: str | None, body: str, now: datetime | None) -> int:
    """Review pull request NUMBER as LOGIN: exactly one of --approve, --request-changes,
    --comment, --dismiss.

    Only approvals on the current head count, so a push after an approval needs a new one.

    \b
    Examples:
      gitjit local review 1 --as lea --approve
      gitjit local review 1 --as lea --request-changes --body "Use a ticket"
      gitjit local review 1 --as ci-helper --bot --approve
    """
    chosen = {"approve": approve, "request_changes": request_changes, "comment": comment,
              "dismiss": dismiss}
    picked = [name for name, on in chosen.items() if on]
    if len(picked) != 1:
        raise UsageError("give exactly one of --approve, --request-changes, --comment, "
                         f"--dismiss (got {len(picked)})")
    git, forge = _forge(repo)
    at = now or clock.now()
    review = forge.submit_review(number, login, _REVIEW_FLAGS[picked[0]], at=at,
                                 commit=commit, is_bot=bot, body=body)
    who = f"{review.reviewer} (bot)" if review.is_bot else review.reviewer
    click.echo(f"review {review.id} on pull request #{number}: {who} {review.state.value} "
               f"on {review.commit[:12]}")
    # What the review changed is the question a reviewer has next: the verdict it leads to.
    info = forge.pull_request(number)
    verdict = _verdict(git, forge, info, at)
    if verdict is not None:
        click.echo(text.pull_request(_report(verdict, info)), nl=False)
    return EXIT_OK


@group.command("push")
@NUMBER
@REPO
@AS
def push_command(number: int, repo: Path, login: Login) -> int:
    """Record that LOGIN pushed to pull request NUMBER's branch.

    Commit to the branch with git as usual; this tells the forge who pushed, since git
    does not know logins. A pusher's approvals never count.

    \b
    Example:
      git switch request/ana && git commit -am "Fix the duration" && git switch main
      gitjit local push 1 --as ben
    """
    _, forge = _forge(repo)
    forge.record_push(number, login)
    click.echo(f"pull request #{number}: recorded a push by {login}; their approvals no "
               "longer count")
    return EXIT_OK


@group.command("merge")
@NUMBER
@REPO
@AS
@click.option("--admin", is_flag=True,
              help="Merge whatever gitjit's verdict, like an admin bypassing the ruleset.")
@NOW
def merge_command(number: int, repo: Path, login: Login, admin: bool,
                  now: datetime | None) -> int:
    """Merge pull request NUMBER as LOGIN, with a merge commit dated --now.

    Without --admin, gitjit's verdict at the tip of the base branch must be approved, as a
    branch ruleset requiring gitjit's check would demand; otherwise nothing merges and the
    exit code is 1. With --admin the merge happens anyway, and activation later refuses a
    grant merged that way.

    \b
    Examples:
      gitjit local merge 1 --as lea
      gitjit local merge 1 --as root --admin
    """
    git, forge = _forge(repo)
    at = now or clock.now()
    # The verdict machinery (schemas, YAML, decisions) loads only for the commands that judge.
    from engine.commands.verdict import judge

    judged: list[Verdict] = []

    def gate(info: PullRequestInfo) -> str | None:
        verdict = judge(git, git.resolve(info.base), info.head_sha, info.author,
                        forge.reviews(info.number), forge.pushers(info.number), at,
                        targets=catalog())
        judged.append(verdict)
        outcome = verdict.decision.outcome
        if outcome is Outcome.APPROVED:
            return None
        return f"gitjit's verdict is {outcome.value} (merge with --admin to bypass it)"

    try:
        merged = forge.merge(number, login, at=at, gate=None if admin else gate)
    except MergeRefusedError as exc:
        verdict = judged[-1]
        click.echo(text.pull_request(_report(verdict, forge.pull_request(number))), nl=False)
        click.echo(f"gitjit: {exc}", err=True)
        return EXIT_REFUSED
    assert merged.merge_sha is not None  # a merged pull request always has its merge commit
    bypass = " (admin: gitjit's verdict was not required)" if admin else ""
    click.echo(f"merged pull request #{number} into {merged.base} as {merged.merge_sha[:12]} "
               f"by {login}{bypass}")
    if forge.checked_out(merged.base):
        _catch_up(git, merged.base, git.resolve(f"{merged.merge_sha}^1"), "merge")
    return EXIT_OK


def _catch_up(git: GitRepository, branch: str, old: str, what: str) -> None:
    click.echo(catch_up(git, branch, old, what), err=True)


def catch_up(git: GitRepository, branch: str, old: str, what: str) -> str:
    """Brings the checkout of ``branch`` (index and files) from ``old`` to the branch's new
    tip, and says what it did. Left at ``old``, the checkout would show the new commits undone
    as staged changes, and an ordinary commit would undo them: re-add a removed grant, drop a
    merged one. git's two-tree merge refuses, touching nothing, where a local change is in
    the way; then the user is told the exact command."""
    result = git.run("read-tree", "-m", "-u", old, branch, ok_codes=(0, 128))
    if result.returncode == 0:
        return f"updated your checkout of {branch} to the {what}"
    reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
    return (f"note: {branch} is checked out here and your local changes kept the {what} "
            f"out of your files ({reason[0] if reason else 'git read-tree failed'}); "
            f"commit or stash them, then run: git read-tree -m -u {old} {branch}")


@group.command("close")
@NUMBER
@REPO
@NOW
def close_command(number: int, repo: Path, now: datetime | None) -> int:
    """Close pull request NUMBER without merging it.

    \b
    Example:
      gitjit local close 1
    """
    _, forge = _forge(repo)
    forge.close(number, at=now or clock.now())
    click.echo(f"closed pull request #{number}")
    return EXIT_OK


@group.command("list")
@REPO
@FORMAT
def list_command(repo: Path, fmt: str) -> int:
    """List the pull requests, oldest first.

    \b
    Example:
      gitjit local list --format json
    """
    _, forge = _forge(repo)
    pulls = forge.pull_requests()
    if fmt == "json":
        click.echo(json.dumps({"version": JSON_VERSION,
                               "pull_requests": [_info_json(forge, p) for p in pulls]},
                              indent=2))
    elif not pulls:
        click.echo("no pull requests yet; open one with 'gitjit local open'")
    for pull in pulls if fmt == "text" else []:
        click.echo(f"#{pull.number:<4} {pull.state.value:<7} {pull.author:<12} "
                   f"{pull.head_ref} -> {pull.base}  {pull.title}")
    return EXIT_OK


@group.command("show")
@NUMBER
@REPO
@NOW
@FORMAT
def show_command(number: int, repo: Path, now: datetime | None, fmt: str) -> int:
    """Show pull request NUMBER: metadata, reviews, pushers, comments and gitjit's verdict.

    An open pull request is judged at the tip of its base; a merged one at the merge's
    first parent, as activation re-verifies it. --now is the time of the verdict.

    \b
    Example:
      gitjit local show 1 --now 2026-11-30T09:00:00Z
    """
    git, forge = _forge(repo)
    info = forge.pull_request(number)
    verdict = _verdict(git, forge, info, now or clock.now())
    if fmt == "json":
        report = json.loads(jsonout.pull_request(_report(verdict, info))) if verdict else None
        click.echo(json.dumps({"version": JSON_VERSION, **_info_json(forge, info),
                               "verdict": report}, indent=2))
        return EXIT_OK
    click.echo(_show_text(forge, info, verdict), nl=False)
    return EXIT_OK


def _verdict(git: GitRepository, forge: LocalForge, info: PullRequestInfo,
             now: datetime) -> Verdict | None:
    from engine.commands.verdict import judge

    if info.state is PullRequestState.CLOSED:
        return None
    if info.merge_sha is not None:
        base = git.resolve(f"{info.merge_sha}^1")
    else:
        base = git.resolve(info.base)
    return judge(git, base, info.head_sha, info.author, forge.reviews(info.number),
                 forge.pushers(info.number), now, targets=catalog())


def _report(verdict: Verdict, info: PullRequestInfo) -> PullRequestReport:
    return PullRequestReport(verdict.decision, info.author, verdict.base, verdict.head)


def _info_json(forge: LocalForge, info: PullRequestInfo) -> dict[str, Any]:
    bodies = forge.review_bodies(info.number)
    return {
        "number": info.number, "state": info.state.value, "author": info.author,
        "title": info.title, "body": info.body, "base": info.base, "head_ref": info.head_ref,
        "head_sha": info.head_sha, "opened_at": _time(forge.opened_at(info.number)),
        "merge_sha": info.merge_sha, "merged_at": _time(info.merged_at),
        "merged_by": info.merged_by, "closed_at": _time(forge.closed_at(info.number)),
        "reviews": [{"id": r.id, "reviewer": r.reviewer, "state": r.state.value,
                     "commit": r.commit, "submitted_at": _time(r.submitted_at),
                     "is_bot": r.is_bot, "body": bodies.get(r.id, "")}
                    for r in forge.reviews(info.number)],
        "pushers": sorted(forge.pushers(info.number).logins),
        "comments": forge.comments(info.number),
    }


def _show_text(forge: LocalForge, info: PullRequestInfo, verdict: Verdict | None) -> str:
    lines = [f"#{info.number} {info.state.value}: {info.title}",
             f"  author: {info.author}",
             f"  branch: {info.head_ref} -> {info.base}",
             f"  head: {info.head_sha}"]
    opened = forge.opened_at(info.number)
    if opened:
        lines.append(f"  opened: {_time(opened)}")
    if info.merge_sha:
        lines.append(f"  merged: {info.merge_sha} at {_time(info.merged_at)} by "
                     f"{info.merged_by}")
    closed = forge.closed_at(info.number)
    if closed:
        lines.append(f"  closed: {_time(closed)}")
    lines += [f"  | {line}" for line in info.body.splitlines()]
    reviews = forge.reviews(info.number)
    lines.append("reviews:" if reviews else "reviews: none")
    for review in reviews:
        bot = " (bot)" if review.is_bot else ""
        lines.append(f"  {review.id}  {_time(review.submitted_at)}  {review.reviewer}{bot}  "
                     f"{review.state.value} on {review.commit[:12]}")
    lines.append(f"pushers: {', '.join(sorted(forge.pushers(info.number).logins))}")
    comments = forge.comments(info.number)
    lines.append("comments:" if comments else "comments: none")
    lines += [f"  {key}: {len(body.splitlines())} lines" for key, body in comments.items()]
    if verdict is None:
        lines.append("verdict: none (the pull request is closed)")
    else:
        lines.append(f"verdict (configuration of {verdict.base[:12]}):")
        lines += [f"  {line}" for line in
                  text.pull_request(_report(verdict, info)).splitlines()]
    return "\n".join(lines) + "\n"
