"""Policy tests (kind PolicyTest): example requests and the verdict each must get.

Each case is judged by the same code as a real pull request: the grant is serialised to a
file at its canonical path, the reviews become forge reviews on the head commit (or on an
older one when marked stale), and ``decide`` runs at the case's ``now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from engine.actions.request import canonical_path as action_canonical_path
from engine.core.changes import NO_FILE, REGULAR_FILE, Change
from engine.core.codes import CODES
from engine.core.config import ConfigResult
from engine.core.decide import decide
from engine.core.decision import Decision, GrantFile, PullRequest
from engine.core.findings import Finding
from engine.core.grants import canonical_path
from engine.core.models import Login, Review, ReviewState
from engine.core.schema import API_VERSION, SchemaSet
from engine.core.strictyaml import Document
from engine.core.suggest import did_you_mean
from engine.core.values import parse_timestamp

HEAD = "1" * 40
OLDER = "2" * 40


@dataclass(frozen=True)
class CaseResult:
    path: str
    line: int
    name: str
    expected: str
    decision: Decision
    missing_codes: tuple[str, ...]
    """Expected finding codes the decision did not have (and, for actions, expected texts of
    what runs that it does not hold, as "runs '...'")."""

    @property
    def passed(self) -> bool:
        return self.decision.outcome.value == self.expected and not self.missing_codes

    def failure(self) -> Finding:
        got = self.decision.outcome.value
        codes = ", ".join(sorted({f.code for f in self.decision.findings})) or "none"
        what = ("finding(s) " if not any(c.startswith("runs ") for c in self.missing_codes)
                else "")
        why = (f"expected {self.expected}, got {got}" if got != self.expected else
               f"expected {what}{', '.join(self.missing_codes)} not reported")
        unknown = [c for c in self.missing_codes if not c.startswith("runs ") and c not in CODES]
        for code in unknown:
            # A typo in the expectation fails for ever: say so rather than blame the policy.
            why += (f"; {code!r} is no finding code ({did_you_mean(code, CODES)}see "
                    "docs/findings.md)")
        return Finding(self.path, self.line, "test.failed",
                       f"case {self.name!r}: {why} (findings: {codes})")


def run(config: ConfigResult, schemas: SchemaSet, tests: tuple[Document, ...],
        only: str | None = None) -> list[CaseResult]:
    """Run every case of every test document (only those whose path starts with ``only``)."""
    results = []
    for doc in tests:
        if only and not doc.path.startswith(only):
            continue
        data: dict[str, Any] = doc.data  # type: ignore[assignment]  # schema-valid
        for index, case in enumerate(data["cases"]):
            results.append(_run_case(config, schemas, doc, index, case))
    return results


def _grant_bytes(fields: dict[str, Any]) -> bytes:
    document = {"apiVersion": API_VERSION, "kind": "Grant", **fields}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode("utf-8")


def _action_bytes(fields: dict[str, Any]) -> bytes:
    document = {"apiVersion": API_VERSION, "kind": "Action", **fields}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode("utf-8")


def _run_case(config: ConfigResult, schemas: SchemaSet, doc: Document, index: int,
              case: dict[str, Any]) -> CaseResult:
    now = parse_timestamp(case["now"])
    is_action = "action" in case
    grant = case["action"] if is_action else case["grant"]
    place = action_canonical_path if is_action else canonical_path
    path = case.get("path") or place(grant.get("policy", "unknown"),
                                     grant.get("requester", "unknown"), now)
    count = len(case.get("reviews", []))
    reviews = tuple(
        Review(
            reviewer=Login(review["reviewer"].lower()),
            state=ReviewState(review["state"]),
            commit=OLDER if review.get("stale") == "true" else HEAD,
            # Without explicit times, reviews are a minute apart in the order written.
            submitted_at=parse_timestamp(review["at"]) if "at" in review
            else now - timedelta(minutes=count - position),
            is_bot=review.get("bot") == "true",
            id=position + 1,
        )
        for position, review in enumerate(case.get("reviews", []))
    )
    existing = tuple(
        GrantFile(item["path"], _grant_bytes(item["grant"]),
                  parse_timestamp(item["activated_at"]) if "activated_at" in item else None)
        for item in case.get("existing", [])
    )
    pr = PullRequest(
        author=Login(case.get("author", grant.get("requester", "")).lower()),
        head=HEAD,
        changes=(Change("A", path, NO_FILE, REGULAR_FILE, "0" * 40, "3" * 40),),
        reviews=reviews,
        pushers=frozenset(Login(p.lower()) for p in case.get("pushers", [])),
        added=(GrantFile(path, _action_bytes(grant) if is_action else _grant_bytes(grant)),),
        existing=existing,
    )
    decision = decide(pr, config, schemas, now)
    expect = case["expect"]
    codes = {f.code for f in decision.findings}
    missing = tuple(code for code in expect.get("findings", []) if code not in codes)
    plan = decision.action.plan if decision.action else None
    shown = plan.shown() if plan else ""
    missing += tuple(f"runs {text!r}" for text in expect.get("runs", []) if text not in shown)
    return CaseResult(doc.path, doc.line("cases", index), case["name"], expect["decision"],
                      decision, missing)
