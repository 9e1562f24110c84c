"""gitjit explain: a policy in plain words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.commands.policies import load, print_listing
from engine.commands.repository import require_policy
from engine.core.explain import JSON_VERSION, describe, explain

FORMATS = ("text", "json")


@dataclass(frozen=True)
class ExplainOptions:
    repo: Path
    policy: str | None
    """None: list the policies."""
    format: str


def run(options: ExplainOptions) -> int:
    config = load(options.repo)
    if options.policy is None:
        print_listing(config, options.format)
        return 0
    policy = require_policy(config, options.policy)
    if options.format == "json":
        print(json.dumps({"version": JSON_VERSION, **describe(policy, config)}, indent=2))
    else:
        print("\n".join(explain(policy, config)))
    return 0
