"""What a pull request that touches actions/ is, from the diff alone (used by ``classify``).

An action request is added like a grant and judged like one: one per pull request, never
mixed with grants or configuration. It is never changed or deleted afterwards: the file on
the default branch is the request that was approved and run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.actions.request import file_finding
from engine.core.changes import Change
from engine.core.decision import Kind
from engine.core.findings import Finding

if TYPE_CHECKING:
    from engine.core.decide import Classification


def classify_actions(actions: Sequence[Change], others: Sequence[Change]) -> Classification:
    from engine.core.decide import Classification

    if others:
        return Classification(Kind.MIXED, (Finding(others[0].path, 0, "pr.mixed",
            f"adds or changes an action ({actions[0].path}) together with {others[0].path}; "
            "an action request goes alone in its pull request"),))
    changed = [c for c in actions if c.status != "A"]
    if changed:
        return Classification(Kind.MODIFY, tuple(Finding(c.path, 0, "action.immutable",
            "action requests are never changed or deleted: the file on the default branch is "
            "the request that was approved (and run); add a new request instead")
            for c in changed))
    shape = [f for c in actions if (f := file_finding(c.path, c.new_mode)) is not None]
    if shape:
        return Classification(Kind.INVALID, tuple(shape))
    if len(actions) > 1:
        return Classification(Kind.ACTION, (Finding(actions[1].path, 0, "action.multiple",
            f"adds {len(actions)} action requests; open one pull request per action"),))
    return Classification(Kind.ACTION)
