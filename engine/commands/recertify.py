"""gitjit recertify: one pull request per policy owner that removes unused eligibility.

The unused eligibility is the report's (``report.unused-eligibility``, judged at ``--now``);
the edits and their checks are engine/report/recertify.py. Each owner's changes are committed
with plumbing on top of the default branch's tip, on the branch gitjit/recertify/<owner>
(moved there again on a later run, which updates an open pull request), and the pull request
is opened in the local forge or on GitHub; without a forge the branch is prepared only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.adapters.remote import Remote
from engine.commands import report as report_command
from engine.commands.forges import github_from_env
from engine.commands.report_forge import RECERTIFY_PREFIX
from engine.commands.repository import read_config, require_config
from engine.core.config import POLICIES_DIR, ConfigFile, ConfigResult, build_config
from engine.core.models import Login
from engine.errors import GitError, UsageError
from engine.report.recertify import Proposal, propose
from engine.report.signals import eligibility, span, unused_eligibility

FORGES = ("none", "local", "github")
AUTHOR = "gitjit[bot]"
"""Who opens the pull requests in the local forge."""
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class RecertifyOptions:
    repo: Path
    branch: str
    now: datetime
    forge: str
    format: str


def branch_for(owner: str) -> str:
    return RECERTIFY_PREFIX + (_SLUG.sub("-", owner.lower()).strip("-") or "admins")


def run(options: RecertifyOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    repo = GitRepository(options.repo)
    report_options = report_command.ReportOptions(
        options.repo, options.branch, None, options.now, None, "text",
        "none" if options.forge == "none" else options.forge)
    facts, thresholds, _ledger = report_command.read_facts(repo, report_options)
    _signals, unused = unused_eligibility(facts, thresholds)
    tip = repo.resolve(options.branch)
    tree = repo.tree(tip)
    loaded = read_config(tree)
    config = require_config(loaded, options.branch)
    entries = tree.entries(POLICIES_DIR)
    files = tree.read_many(e.path for e in entries if e.mode == "100644")
    modes = {e.path: e.mode for e in entries}

    def rebuild(changed: Mapping[str, bytes]) -> ConfigResult:
        return build_config([ConfigFile(path, modes[path], changed.get(path, b""))
                             for path in modes], loaded.schemas)

    proposals = propose(config, {p: files[p] for p in files}, unused, rebuild, eligibility)
    results = [_publish(repo, options, tip, proposal, span(thresholds.unused_after))
               for proposal in proposals]
    if options.format == "json":
        print(json.dumps({"version": 1, "pull_requests": results}, indent=2))
    else:
        if not results:
            print(f"nothing to recertify: every eligibility was used in the last "
                  f"{span(thresholds.unused_after)}")
        for item in results:
            where = f"#{item['pull_request']}" if item["pull_request"] else "branch only"
            print(f"{item['owner']}: {item['branch']} ({where}, {item['action']}): "
                  f"{len(item['removals'])} removals, {len(item['manual'])} left to people")
            for line in item["removals"]:
                print(f"  - {line}")
            for line in item["manual"]:
                print(f"  ! {line}")
    return 0


def _publish(repo: GitRepository, options: RecertifyOptions, tip: str, proposal: Proposal,
             window: str) -> dict[str, Any]:
    branch = branch_for(proposal.owner)
    title = f"Recertification: remove unused eligibility ({proposal.owner})"
    body = describe(proposal, window, options.now)
    commit = _commit(repo, tip, proposal, title, body) if proposal.changes else None
    number: int | None = None
    action = "nothing to change" if commit is None else "prepared"
    if commit is not None:
        ref = f"refs/heads/{branch}"
        old = repo.ref_target(ref)
        if not repo.update_ref(ref, commit, old, message="gitjit recertify"):
            raise GitError(f"{branch} moved while gitjit wrote it; run recertify again")
        if options.forge == "local":
            forge = LocalForge(repo)
            existing = forge.open_pull_request_for(branch)
            if existing is None:
                number = forge.open_pull_request(author=Login(AUTHOR), head_ref=branch,
                                                 base=options.branch, title=title, body=body,
                                                 at=options.now).number
                action = "opened"
            else:
                number, action = existing.number, "updated"
        elif options.forge == "github":
            github = github_from_env()
            Remote(repo).push(branch, None if old is None else old)
            existing = github.open_pull_request_for(branch)
            if existing is None:
                number = github.open_pull_request(author=Login(AUTHOR), head_ref=branch,
                                                  base=options.branch, title=title,
                                                  body=body).number
                action = "opened"
            else:
                number, action = existing.number, "updated"
    return {"owner": proposal.owner, "branch": branch, "commit": commit,
            "pull_request": number, "action": action,
            "removals": [r.describe() for r in proposal.removals],
            "manual": [f"{u.login}: {u.role} of {u.policy} through {u.via}: {why}"
                       for u, why in proposal.manual]}


def describe(proposal: Proposal, window: str, now: datetime) -> str:
    """The pull request's description: what goes, the evidence, and what is left to people.
    Logins and group names are validated identifiers; nothing here is free text."""
    lines = [f"gitjit recertify, {now:%Y-%m-%d}: eligibility nobody used in the last {window} "
             f"(report.unused-eligibility), for the owners {proposal.owner} to approve (merge) "
             "or reject (close, and say why).", "", "| person | policy | role | through | change |",
             "|---|---|---|---|---|"]
    lines += [f"| {item.login} | {item.policy} | {item.role} | `{item.via}` | "
              f"{removal.describe()} |" for removal in proposal.removals for item in removal.why]
    if proposal.manual:
        lines += ["", "Left to people (not changed here):", ""]
        lines += [f"- {u.login}, {u.role} of {u.policy} through `{u.via}`: {why}"
                  for u, why in proposal.manual]
    lines += ["", f"Evidence: `gitjit report --until {now:%Y-%m-%dT%H:%M:%SZ}` lists each "
              "person with the window in which they neither requested nor approved a grant "
              "of the policy."]
    return "\n".join(lines) + "\n"


def _commit(repo: GitRepository, tip: str, proposal: Proposal, title: str, body: str) -> str:
    """A commit of the tip's tree with the changed files, on top of the tip (plumbing only:
    no index, no working tree)."""
    paths = sorted(proposal.changes)
    blobs = {path: repo.git("hash-object", "-w", "--no-filters", "--stdin",
                            stdin=proposal.changes[path].encode("utf-8")).decode().strip()
             for path in paths}
    tree = _replace_in_tree(repo, f"{tip}^{{tree}}", blobs)
    return repo.commit_tree(tree, [tip], f"{title}\n\n{body}")


def _replace_in_tree(repo: GitRepository, tree: str, blobs: dict[str, str]) -> str:
    """The tree with each path's blob replaced (paths under one level of folders)."""
    entries = repo.git("ls-tree", "-z", tree).split(b"\0")
    mine: dict[str, dict[str, str]] = {}
    for path, blob in blobs.items():
        head, _slash, rest = path.partition("/")
        mine.setdefault(head, {})[rest] = blob
    listing = []
    for raw in entries:
        if not raw:
            continue
        meta, _tab, name_bytes = raw.partition(b"\t")
        mode, kind, sha = meta.decode().split(" ")
        name = name_bytes.decode("utf-8", "surrogateescape")
        if name in mine and kind == "tree":
            sha = _replace_in_tree(repo, sha, mine.pop(name))
        elif name in mine and kind == "blob" and "" in mine[name]:
            sha = mine.pop(name)[""]
        listing.append(f"{mode} {kind} {sha}\t{name}\0")
    if mine:
        raise GitError(f"cannot place {', '.join(sorted(mine))} in the tree")
    return repo.git("mktree", "-z", stdin="".join(listing).encode("utf-8")).decode().strip()
