"""gitjit explain: a policy in plain words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.adapters.worktree import WorkTree
from engine.commands.repository import read_config, require_config, require_policy
from engine.core.explain import explain
from engine.errors import UsageError


@dataclass(frozen=True)
class ExplainOptions:
    repo: Path
    policy: str
    format: str


def run(options: ExplainOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    loaded = read_config(WorkTree(options.repo))
    config = require_config(loaded)
    policy = require_policy(config, options.policy)
    lines = explain(policy, config)
    if options.format == "json":
        print(json.dumps({"policy": policy.id, "lines": lines}, indent=2))
    else:
        print("\n".join(lines))
    return 0
