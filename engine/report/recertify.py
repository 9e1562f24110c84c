"""Access recertification: the changes that remove unused eligibility, one set per owner.

Pure: takes the configuration, its files' text and the unused eligibility the review found,
and returns, per owner, the new text of each file to change and what was left for a person
(and why). A change is made only where it can be made exactly: one list item removed from
one line of the file, and the configuration rebuilt from the new text must be valid and must
differ from the old one by exactly the eligibility meant to go (nobody else loses or gains
anything). Whatever cannot be removed that way is listed in the pull request for the owners.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.core.config import GROUPS_PATH, ConfigResult
from engine.core.models import Config, Policy
from engine.core.strictyaml import Document, Limits, LoadError, load
from engine.report.model import Unused

ADMINS = "admins"
"""The owner of what no policy owner owns alone, when settings name no admins."""


@dataclass(frozen=True)
class Removal:
    """One thing to remove: a login from a group, or a principal from a policy's list."""

    path: str
    """The file to change (policies/groups.yaml or policies/<id>.yaml)."""
    keys: tuple[str | int, ...]
    """Where the list is in the document ('groups', 'sre') or ('approvals', 0, 'from')."""
    item: str
    """The list item to remove: a login ('erin') or a principal ('user:erin')."""
    why: tuple[Unused, ...]
    """The unused eligibility this removes."""

    def describe(self) -> str:
        if self.path == GROUPS_PATH:
            return f"remove {self.item} from group {self.keys[1]}"
        where = ("requesters" if self.keys == ("requesters",)
                 else f"approval step {int(self.keys[1]) + 1}")
        return f"remove {self.item} from the {where} of {self.path}"


@dataclass(frozen=True)
class Proposal:
    """One owner's recertification: the files to change and what a person must do."""

    owner: str
    changes: Mapping[str, str]
    """path -> the file's new text."""
    removals: tuple[Removal, ...]
    manual: tuple[tuple[Unused, str], ...] = field(default=())
    """Eligibility that could not be removed automatically, with why."""


def owner_of(policy: Policy, config: Config) -> str:
    owners = policy.owners or config.settings.admins
    return " ".join(owners) if owners else ADMINS


def plan_removals(config: Config, unused: Sequence[Unused]) -> tuple[
        dict[str, list[Removal]], list[tuple[str, Unused, str]]]:
    """Per owner, what to remove; and (owner, unused, why) for what must be done by hand.

    A direct entry ('user:erin') goes from the policy's list. A group membership goes from
    the group only when every eligibility the group gives that person is unused; its owner
    is the policy owner when all the group's policies share one, else the admins."""
    by_owner: dict[str, list[Removal]] = defaultdict(list)
    manual: list[tuple[str, Unused, str]] = []
    unused_set = {(u.login, u.policy, u.role) for u in unused}
    group_items: dict[tuple[str, str], list[Unused]] = defaultdict(list)
    for item in unused:
        policy = config.policies[item.policy]  # type: ignore[index]
        owner = owner_of(policy, config)
        kind, _colon, name = item.via.partition(":")
        if kind == "user":
            for keys in _lists_naming(policy, item.role, item.via):
                by_owner[owner].append(Removal(policy.path, keys, item.via, (item,)))
        elif kind == "group":
            group_items[(name, item.login)].append(item)
        else:
            manual.append((owner, item, f"{item.via} is a GitHub team: remove {item.login} "
                                        "from the team on GitHub"))
    for (group, login), items in sorted(group_items.items()):
        gives = _eligibility_through_group(config, group)
        if all((login, policy_id, role) in unused_set for policy_id, role in gives):
            owners = {owner_of(config.policies[p], config) for p, _r in gives}  # type: ignore[index]
            owner = owners.pop() if len(owners) == 1 else _admins(config)
            by_owner[owner].append(Removal(GROUPS_PATH, ("groups", group), login, tuple(items)))
        else:
            used = sorted(f"{role} of {p}" for p, role in gives
                          if (login, p, role) not in unused_set)
            for item in items:
                owner = owner_of(config.policies[item.policy], config)  # type: ignore[index]
                manual.append((owner, item, f"group {group} also makes {login} "
                               f"{', '.join(used)}, which they use: remove group:{group} from "
                               f"{item.policy}'s {item.role}s or split the group"))
    return dict(by_owner), manual


def _admins(config: Config) -> str:
    return " ".join(config.settings.admins) if config.settings.admins else ADMINS


def _lists_naming(policy: Policy, role: str, principal: str) -> list[tuple[str | int, ...]]:
    if role == "requester":
        return [("requesters",)] if any(str(p) == principal for p in policy.requesters) else []
    return [("approvals", index, "from") for index, step in enumerate(policy.approvals)
            if any(str(p) == principal for p in step.approvers)]


def _eligibility_through_group(config: Config, group: str) -> list[tuple[str, str]]:
    found = []
    for policy_id, policy in config.policies.items():
        if any(p.kind == "group" and p.name == group for p in policy.requesters):
            found.append((str(policy_id), "requester"))
        if any(p.kind == "group" and p.name == group
               for step in policy.approvals for p in step.approvers):
            found.append((str(policy_id), "approver"))
    return found


# -- editing text --------------------------------------------------------------------------

_FLOW = re.compile(r"^(?P<head>[^#\[]*\[)(?P<items>[^\]\[#]*)(?P<tail>\].*)$")


def remove_item(text: str, doc: Document, keys: tuple[str | int, ...], item: str) -> str | None:
    """``text`` with ``item`` removed from the list at ``keys``; None when that cannot be
    done on one line exactly (the caller leaves it to a person)."""
    values = _at(doc.data, keys)
    if not isinstance(values, list):
        return None
    matches = [i for i, value in enumerate(values) if _item_name(value) == item]
    if len(matches) != 1:
        return None
    line_no = doc.lines.get((*keys, matches[0]))
    if line_no is None:
        return None
    lines = text.splitlines(keepends=True)
    line = lines[line_no - 1]
    block = re.match(r"^\s*-\s+(.*?)\s*(#.*)?$", line.rstrip("\n"))
    if block and _unquote(block.group(1)) == item:
        del lines[line_no - 1]
        return "".join(lines)
    flow = _FLOW.match(line.rstrip("\n"))
    if flow is None or "{" in flow.group("items"):
        return None
    parts = [part.strip() for part in flow.group("items").split(",") if part.strip()]
    kept = [part for part in parts if _unquote(part) != item]
    if len(kept) != len(parts) - 1:
        return None
    newline = "\n" if line.endswith("\n") else ""
    lines[line_no - 1] = f"{flow.group('head')}{', '.join(kept)}{flow.group('tail')}{newline}"
    return "".join(lines)


def _at(data: object, keys: tuple[str | int, ...]) -> object:
    for key in keys:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _item_name(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("login", ""))
    return str(value)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


Rebuild = Callable[[Mapping[str, bytes]], ConfigResult]
"""Builds the configuration from the files under policies/ (path -> bytes)."""


def propose(config: Config, files: Mapping[str, bytes], unused: Sequence[Unused],
            rebuild: Rebuild, eligibility: Callable[[Config], set[tuple[str, str, str]]],
            ) -> list[Proposal]:
    """One proposal per owner with something to remove, each checked on its own: the
    configuration rebuilt with exactly its changes is valid and loses exactly the eligibility
    it means to remove."""
    by_owner, manual = plan_removals(config, unused)
    before = eligibility(config)
    proposals = []
    owners = sorted(set(by_owner) | {owner for owner, _u, _w in manual})
    for owner in owners:
        texts = {path: raw.decode("utf-8") for path, raw in files.items()}
        done: list[Removal] = []
        left = [(u, why) for o, u, why in manual if o == owner]
        for removal in by_owner.get(owner, []):
            attempt = _apply(texts, removal)
            if attempt is None:
                left += [(u, f"{removal.path} could not be edited exactly there: "
                             f"{removal.describe()} by hand") for u in removal.why]
                continue
            result = rebuild({**files, **{p: t.encode("utf-8") for p, t in attempt.items()}})
            intended = {(u.login, u.policy, u.role) for r in [*done, removal] for u in r.why}
            if result.config is None:
                first = next(f for f in result.findings if f.severity.value == "error")
                left += [(u, f"removing it leaves the configuration invalid ({first.code}: "
                             f"{first.message})") for u in removal.why]
                continue
            lost = before - eligibility(result.config)
            gained = eligibility(result.config) - before
            if gained or not lost <= intended:
                left += [(u, "the edit would change more than this eligibility")
                         for u in removal.why]
                continue
            texts = attempt
            done.append(removal)
        changes = {path: text for path, text in texts.items()
                   if text != files[path].decode("utf-8")}
        if changes or left:
            proposals.append(Proposal(owner, changes, tuple(done), tuple(left)))
    return proposals


def _apply(texts: Mapping[str, str], removal: Removal) -> dict[str, str] | None:
    text = texts.get(removal.path)
    if text is None:
        return None
    try:
        doc = load(text.encode("utf-8"), removal.path, Limits(max_bytes=512 * 1024))
    except LoadError:
        return None
    changed = remove_item(text, doc, removal.keys, removal.item)
    return None if changed is None else {**texts, removal.path: changed}
