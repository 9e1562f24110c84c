"""``gitjit check`` over actions/: every request file loads, sits at its canonical path and
names a policy that approves actions. (What exactly it runs is the verdict's business: a
request that ran is judged by the configuration of its day, not today's.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.actions.request import file_finding, load_action
from engine.core.changes import REGULAR_FILE, TreeEntry
from engine.core.config import ConfigResult
from engine.core.findings import Finding
from engine.core.schema import SchemaSet
from engine.core.suggest import did_you_mean


def check_actions(entries: Sequence[TreeEntry], contents: Mapping[str, bytes],
                  config: ConfigResult, schemas: SchemaSet) -> list[Finding]:
    findings: list[Finding] = []
    max_bytes = config.config.settings.max_grant_bytes if config.config else 64 * 1024
    for entry in entries:
        unusable = file_finding(entry.path, entry.mode)
        if unusable is not None:
            findings.append(unusable)
            continue
        if entry.mode != REGULAR_FILE:
            continue
        loaded = load_action(entry.path, contents[entry.path], schemas, max_bytes)
        findings += loaded.findings
        request = loaded.request
        if request is None or config.config is None:
            continue
        policy = config.config.policies.get(request.policy)
        if policy is None:
            findings.append(Finding(entry.path, request.lines.get("policy", 0),
                                    "action.unknown-policy", f"unknown policy "
                                    f"{request.policy!r}; "
                                    f"{did_you_mean(request.policy, config.config.policies)}"
                                    "known policies: "
                                    f"{', '.join(sorted(config.config.policies)) or 'none'}"))
        elif policy.actions is None:
            findings.append(Finding(entry.path, request.lines.get("policy", 0),
                                    "action.not-allowed", f"policy {policy.id!r} approves no "
                                    "actions (it has no 'actions' section)"))
    return findings
