"""gitjit policies: what there is to request and, with --for LOGIN, what that person may
request, under which conditions, and who would approve it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.adapters.worktree import WorkTree
from engine.commands.repository import read_config, require_config
from engine.core.explain import JSON_VERSION, describe, explain, requestable
from engine.core.models import Config, Login, Policy
from engine.core.principals import expand
from engine.errors import UsageError

FORMATS = ("text", "json")


@dataclass(frozen=True)
class PoliciesOptions:
    repo: Path
    login: Login | None
    format: str


def load(repo: Path) -> Config:
    if not repo.is_dir():
        raise UsageError(f"--repo {repo}: no such directory")
    return require_config(read_config(WorkTree(repo)))


def listing(config: Config) -> list[dict[str, Any]]:
    return [{"policy": str(policy_id), "description": config.policies[policy_id].description}
            for policy_id in sorted(config.policies)]


def print_listing(config: Config, fmt: str) -> None:
    items = listing(config)
    if fmt == "json":
        print(json.dumps({"version": JSON_VERSION, "policies": items}, indent=2))
        return
    width = max(len(item["policy"]) for item in items)
    for item in items:
        print(f"{item['policy']:<{width}}  {item['description']}".rstrip())
    print(f"{_count(len(items))}; 'gitjit explain POLICY' says more, 'gitjit policies --for "
          "LOGIN' what one person may request")


def run(options: PoliciesOptions) -> int:
    config = load(options.repo)
    if options.login is None:
        print_listing(config, options.format)
        return 0
    login = options.login
    found = requestable(config, login)
    if options.format == "json":
        print(json.dumps({
            "version": JSON_VERSION, "login": str(login),
            "policies": [{**describe(policy, config, requester=login),
                          "certain": certain} for policy, certain in found]}, indent=2))
        return 0
    if not found:
        print(f"{login} may request no policy: no policy names them among its requesters "
              "(directly or through a group); ask a policy's owners to add them")
        return 0
    print(f"{login} may request {_count(len(found))}:")
    for policy, certain in found:
        print()
        print("\n".join(explain(policy, config)))
        if not certain:
            print(f"  only if {login} is a member of "
                  f"{', '.join(_teams(policy, config))} (looked up on GitHub by the verdict)")
        for step in describe(policy, config, requester=login)["approvals"]:
            who = ", ".join(step["logins"] + step["unresolved"]) or "nobody"
            print(f"  may approve {login}'s request in step {step['step']}: {who}")
        if policy.grants:
            ticket = " --ticket TICKET" if policy.ticket.required else ""
            print(f"  request: gitjit request {policy.id} --as {login} --justification TEXT"
                  f"{ticket}")
    return 0


def _teams(policy: Policy, config: Config) -> list[str]:
    return list(expand(policy.requesters, config.groups).unresolved_teams)


def _count(n: int) -> str:
    return f"{n} {'policy' if n == 1 else 'policies'}"
