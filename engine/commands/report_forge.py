"""What the access review reads from a forge: pull requests into the default branch with all
their reviews (the local forge, or GitHub), and the recertification pull requests still open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.commands.forges import github_from_env
from engine.core.models import ReviewState
from engine.report.model import ForgePull, ForgeReview, Recertification

RECERTIFY_PREFIX = "gitjit/recertify/"
"""Branches of recertification pull requests: gitjit/recertify/<owner>."""


def pull_requests(forge: str, repo: GitRepository, branch: str,
                  since: datetime) -> list[ForgePull] | None:
    """Pull requests into ``branch`` with any activity since ``since``; None without a forge
    (or with a local forge this clone has never used)."""
    if forge == "local":
        return _local(repo, branch, since)
    if forge == "github":
        return _github(branch, since)
    return None


def _recent(pull: ForgePull, since: datetime) -> bool:
    times = [pull.opened_at, pull.closed_at, pull.merged_at,
             *(r.submitted_at for r in pull.reviews)]
    return pull.state == "open" or any(t is not None and t >= since for t in times)


def _local(repo: GitRepository, branch: str, since: datetime) -> list[ForgePull] | None:
    forge = LocalForge(repo)
    if not forge.path.exists():
        # The default forge, never used in this clone (its pull requests live elsewhere):
        # no data, not "no pull requests", or every break-glass review would look missing.
        return None
    found = []
    for info in forge.pull_requests():
        if info.base != branch:
            continue
        bodies = forge.review_bodies(info.number)
        reviews = tuple(
            ForgeReview(str(r.reviewer), r.state, r.commit, r.submitted_at,
                        commented=bool(bodies.get(r.id, "").strip()))
            for r in forge.reviews(info.number) if not r.is_bot)
        pull = ForgePull(
            number=info.number, author=str(info.author), state=info.state.value,
            head_ref=info.head_ref, head_sha=info.head_sha,
            opened_at=forge.opened_at(info.number),
            closed_at=forge.closed_at(info.number), merged_at=info.merged_at,
            reviews=reviews, title=info.title)
        if _recent(pull, since):
            found.append(pull)
    return found


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _github(branch: str, since: datetime) -> list[ForgePull]:
    forge = github_from_env()
    pulls: Any = forge._call("listing pull requests", lambda: forge.repo.get_pulls(
        state="all", base=branch, sort="updated", direction="desc"))
    found = []
    for pull in pulls:
        updated = _utc(pull.updated_at)
        if updated is not None and updated < since and pull.state != "open":
            break  # sorted by update, newest first: the rest is older still
        items = forge._call(f"reading the reviews of #{pull.number}", _reviews_of(pull))
        reviews = []
        for item in items:
            user = item.user
            if user is None or user.type == "Bot" or user.login.endswith("[bot]"):
                continue
            try:
                review_state = ReviewState(item.state)
            except ValueError:
                continue
            reviews.append(ForgeReview(user.login.lower(), review_state, item.commit_id or "",
                                       _utc(item.submitted_at),
                                       commented=bool((item.body or "").strip())))
        merged_at = _utc(pull.merged_at)
        state = "merged" if merged_at else ("open" if pull.state == "open" else "closed")
        forge_pull = ForgePull(
            number=pull.number, author=pull.user.login.lower(), state=state,
            head_ref=pull.head.ref, head_sha=pull.head.sha, opened_at=_utc(pull.created_at),
            closed_at=_utc(pull.closed_at) if state == "closed" else None,
            merged_at=merged_at, reviews=tuple(reviews), title=pull.title or "")
        if _recent(forge_pull, since):
            found.append(forge_pull)
    return sorted(found, key=lambda p: p.number)


def _reviews_of(pull: Any) -> Callable[[], list[Any]]:
    return lambda: list(pull.get_reviews())


def recertifications(forge: str, repo: GitRepository,
                     pulls: list[ForgePull] | None) -> tuple[Recertification, ...]:
    """Recertifications not merged yet: open pull requests from gitjit/recertify/ branches,
    or, without a forge, such branches this clone holds (prepared offline)."""
    if pulls is not None:
        return tuple(Recertification(p.head_ref, p.number,
                                     p.head_ref.removeprefix(RECERTIFY_PREFIX), p.opened_at)
                     for p in pulls if p.state == "open"
                     and p.head_ref.startswith(RECERTIFY_PREFIX))
    raw = repo.git("for-each-ref", "--format=%(refname) %(committerdate:unix)",
                   f"refs/heads/{RECERTIFY_PREFIX}", f"refs/remotes/origin/{RECERTIFY_PREFIX}")
    found = []
    for line in raw.decode("utf-8", "replace").splitlines():
        ref, _space, stamp = line.rpartition(" ")
        branch = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/origin/")
        found.append(Recertification(branch, None, branch.removeprefix(RECERTIFY_PREFIX),
                                     datetime.fromtimestamp(int(stamp), UTC)))
    unique = {item.branch: item for item in found}
    return tuple(unique[name] for name in sorted(unique))
