"""Builders for the core's tests: configurations from YAML text, grant files, reviews and
pull requests, so a test reads like the files a policy admin and a requester write."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from engine.adapters.schemas import packaged_schemas
from engine.core.changes import NO_FILE, REGULAR_FILE, Change
from engine.core.config import ConfigFile, ConfigResult, build_config
from engine.core.decide import decide
from engine.core.decision import Decision, GrantFile, PullRequest
from engine.core.grants import canonical_path
from engine.core.models import Config, Login, Review, ReviewState

SCHEMAS = packaged_schemas()
HEAD = "a" * 40
"""The pull request's head commit."""
OLDER = "b" * 40
"""An earlier commit of the pull request."""
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
"""A Monday; 10:00 in Berlin."""
JUSTIFICATION = "Replication lag on the orders primary, need pg_stat access"

GROUPS = """
groups:
  sre: [alice, bob, carol, erin]
  oncall: [carol]
  dba: [dave, erin]
  security: [sam, sue]
"""

POLICY = """
id: db
description: Superuser on the test database
target: {provider: command, role: admin}
requesters: [group:sre]
approvals:
  - {from: [group:dba], count: 1}
duration: {default: 1h, max: 4h}
"""
"""The plainest policy: sre may request, one DBA approves, at most 4h."""


def doc(kind: str, body: str) -> str:
    """A gitjit document of ``kind`` with ``body`` (dedented YAML) after the header."""
    return f"apiVersion: gitjit/v1\nkind: {kind}\n" + textwrap.dedent(body).lstrip("\n")


def build(files: Mapping[str, str | bytes], modes: Mapping[str, str] | None = None,
          ) -> ConfigResult:
    """build_config over {path: YAML text}; every file is a regular file unless ``modes``
    says otherwise."""
    modes = modes or {}
    return build_config(
        [ConfigFile(path, modes.get(path, REGULAR_FILE),
                    text.encode("utf-8") if isinstance(text, str) else text)
         for path, text in files.items()],
        SCHEMAS,
    )


def policy_files(*policies: str, groups: str = GROUPS,
                 settings: str | None = None) -> dict[str, str]:
    """The files of a configuration: each policy body goes to policies/<its id>.yaml."""
    files = {"policies/groups.yaml": doc("Groups", groups)}
    if settings is not None:
        files["policies/settings.yaml"] = doc("Settings", settings)
    for body in policies:
        match = re.search(r"^id: (\S+)$", textwrap.dedent(body), re.MULTILINE)
        assert match, f"policy without an id line: {body}"
        files[f"policies/{match[1]}.yaml"] = doc("Policy", body)
    return files


def configure(*policies: str, groups: str = GROUPS, settings: str | None = None) -> ConfigResult:
    """A configuration that must build without findings."""
    result = build(policy_files(*policies, groups=groups, settings=settings))
    assert [f.render() for f in result.findings] == []
    return result


def config_of(*policies: str, groups: str = GROUPS) -> Config:
    result = configure(*policies, groups=groups)
    assert result.config is not None
    return result.config


def grant_fields(policy: str = "db", requester: str = "bob", duration: str = "1h",
                 justification: str = JUSTIFICATION, **extra: str) -> dict[str, str]:
    return {"policy": policy, "requester": requester, "duration": duration,
            "justification": justification, **extra}


def grant_bytes(fields: Mapping[str, Any]) -> bytes:
    """A grant file as a requester writes it: header first, then the fields in order."""
    document = {"apiVersion": "gitjit/v1", "kind": "Grant", **fields}
    return yaml.safe_dump(document, sort_keys=False).encode("utf-8")


def grant_path(fields: Mapping[str, str], at: datetime = NOW) -> str:
    return canonical_path(fields["policy"], fields["requester"], at)


def review(reviewer: str, state: str = "APPROVED", *, minute: int = 0, commit: str = HEAD,
           bot: bool = False, review_id: int = 0) -> Review:
    """A review submitted ``minute`` minutes after an hour before NOW."""
    return Review(Login(reviewer.lower()), ReviewState(state), commit,
                  NOW - timedelta(hours=1) + timedelta(minutes=minute), bot, review_id)


def approvals(*reviewers: str) -> tuple[Review, ...]:
    """APPROVED reviews on the head, a minute apart in the order given."""
    return tuple(review(name, minute=i) for i, name in enumerate(reviewers))


def request(fields: Mapping[str, str] | None = None, *, raw: bytes | None = None,
            path: str | None = None, author: str | None = None,
            reviews: Iterable[Review] = (), pushers: Iterable[str] = (),
            existing: Iterable[GrantFile] = (), mode: str = REGULAR_FILE) -> PullRequest:
    """A pull request that adds one grant file (by default bob asks for 1h of policy db)."""
    fields = grant_fields() if fields is None else fields
    path = path or grant_path(fields)
    return PullRequest(
        author=Login((author or fields["requester"]).lower()),
        head=HEAD,
        changes=(Change("A", path, NO_FILE, mode, "0" * 40, "c" * 40),),
        reviews=tuple(reviews),
        pushers=frozenset(Login(p) for p in pushers),
        added=(GrantFile(path, grant_bytes(fields) if raw is None else raw),),
        existing=tuple(existing),
    )


def grant_file(fields: Mapping[str, str], activated_at: datetime | None,
               stamp: datetime = NOW - timedelta(hours=2)) -> GrantFile:
    """A grant on the base branch, activated at ``activated_at`` (None: not yet known)."""
    return GrantFile(grant_path(fields, stamp), grant_bytes(fields), activated_at)


def deletion(*files: GrantFile, author: str, reviews: Iterable[Review] = ()) -> PullRequest:
    """A pull request that deletes grant files."""
    return PullRequest(
        author=Login(author),
        head=HEAD,
        changes=tuple(Change("D", f.path, REGULAR_FILE, NO_FILE, "d" * 40, "0" * 40)
                      for f in files),
        reviews=tuple(reviews),
        deleted=files,
    )


def judge(pr: PullRequest, base: ConfigResult | None = None, now: datetime = NOW,
          head: ConfigResult | None = None) -> Decision:
    """The verdict under ``base`` (default: the plain policy db)."""
    return decide(pr, base or configure(POLICY), SCHEMAS, now, head)


def codes(decision: Decision) -> list[str]:
    """The finding codes of a decision, in order."""
    return [f.code for f in decision.findings]


def error_codes(decision: Decision) -> list[str]:
    return [f.code for f in decision.errors]


def messages(decision: Decision, code: str) -> list[str]:
    return [f.render() for f in decision.findings if f.code == code]
