"""gitjit explain: a policy in plain words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.adapters.worktree import WorkTree
from engine.commands.repository import read_config
from engine.core.explain import explain
from engine.errors import ConfigurationError, UsageError


@dataclass(frozen=True)
class ExplainOptions:
    repo: Path
    policy: str
    format: str


def run(options: ExplainOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    loaded = read_config(WorkTree(options.repo))
    config = loaded.result.config
    if config is None:
        first = next(f for f in loaded.result.findings if f.severity.value == "error")
        raise ConfigurationError(f"the configuration has errors, e.g. {first.render()}; "
                                 "run 'gitjit check'")
    policy = config.policies.get(options.policy)  # type: ignore[call-overload]
    if policy is None:
        raise UsageError(f"unknown policy {options.policy!r}; known policies: "
                         f"{', '.join(sorted(config.policies))}")
    lines = explain(policy, config)
    if options.format == "json":
        print(json.dumps({"policy": policy.id, "lines": lines}, indent=2))
    else:
        print("\n".join(lines))
    return 0
