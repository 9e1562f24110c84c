"""The ledger: an append-only, hash-chained record of every grant state change.

Each record is one canonical JSON document (sorted keys, no insignificant whitespace, ASCII
escapes, one trailing newline), so the same record always has the same bytes and the same
hash. Record ``n`` holds the SHA-256 of record ``n - 1``'s bytes in ``prev``: rewriting any
record that has a successor breaks the chain even where git's own history was rewritten too.

This module is pure. The git adapter (engine/adapters/ledger.py) reads the ledger's commits
into ``LedgerCommit`` values and hands them here; the verdicts are findings.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from engine.core import values
from engine.core.changes import REGULAR_FILE, Change
from engine.core.findings import Finding
from engine.core.grants import grant_id
from engine.core.models import GrantId, ReviewState
from engine.errors import GitjitError

API_VERSION = "gitjit/v1"
KIND = "LedgerRecord"
RECORDS_DIR = "records/"
MAX_DETAIL = 4000
"""Characters of free text a record holds; an error message longer than this is cut."""


class Event(StrEnum):
    ACTIVATED = "activated"
    REFUSED = "refused"
    EXPIRED = "expired"
    RELINQUISHED = "relinquished"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    """A live grant ended early because a grant that ``extends`` it was activated."""
    RETARGETED = "retargeted"
    """A live grant was moved to its policy's new target (the old one was revoked)."""
    DEFERRED = "deferred"
    """Activation could not verify the grant this time (the forge or the head unreadable);
    after MAX_DEFERRALS of these the grant is refused."""
    ALERT = "alert"
    STARTED = "started"
    """An action is about to run: written (signed) before it runs, so it never runs twice."""
    COMPLETED = "completed"
    """An action ran and its work was committed (or its program exited 0)."""
    FAILED = "failed"
    """An action ran and failed, or its row guard rolled it back."""
    UNKNOWN = "unknown"
    """An action was started and its outcome was never recorded (the run died): it is not
    run again; a new request is needed."""
    NOTICE = "notice"
    """A message gitjit sent about a request or a grant on a timer (announced, reminded,
    escalated, closed, expiring, started): recorded before it is sent, so a rerun or a
    crash never sends it twice. Its ``code`` says which message, its ``subject`` makes the
    key unique (e.g. 'request.reminded:12:1', the first reminder of pull request 12)."""


class ExpiryEnforcer(StrEnum):
    TARGET = "target"
    """The target revokes on its own at expiry (PIM schedule, VALID UNTIL ...)."""
    GITJIT = "gitjit"
    """Only a gitjit job revokes: a missed run leaves access in place."""


# Events that settle whether a grant on the default branch was ever verified.
VERDICT_EVENTS = frozenset({Event.ACTIVATED, Event.REFUSED})
# Events that end a verified grant's access.
END_EVENTS = frozenset({Event.EXPIRED, Event.RELINQUISHED, Event.REVOKED, Event.SUPERSEDED})
# Action records: an action runs at most once (``started`` is its idempotency key) and ends
# with one outcome.
ACTION_EVENTS = frozenset({Event.STARTED, Event.COMPLETED, Event.FAILED, Event.UNKNOWN})
OUTCOME_EVENTS = frozenset({Event.COMPLETED, Event.FAILED, Event.UNKNOWN})
ACTION_PREFIX = "actions/"
# The notices the index follows requests by (engine/core/notices.py has them all): a request
# is open from its announcement until it is withdrawn, closed, or its grant is decided.
REQUEST_ANNOUNCED = "request.announced"
REQUEST_FINISHED = frozenset({"request.withdrawn", "request.closed"})
"""Action ids are their paths without .yaml; grant ids never start with it."""
MAX_EXCERPT = 2000
"""Characters of an action's output a record keeps (after redaction)."""
# Refusals, deferrals and alerts may concern a file that is not a valid grant (a direct push
# of anything under grants/), so its policy and requester can be unknown.
_UNKNOWN_ALLOWED = frozenset({Event.REFUSED, Event.DEFERRED, Event.ALERT})
_NEEDS_DETAIL = frozenset({Event.REFUSED, Event.DEFERRED, Event.ALERT, Event.FAILED,
                           Event.UNKNOWN})
MAX_DEFERRALS = 5
"""Activation attempts that could not verify a grant before it is refused: a grant whose
pull request cannot be read is never activated on a later, luckier day."""
_CODE = re.compile(r"[a-z]+(?:\.[a-z]+(?:-[a-z]+)*)?")
_SUBJECT = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:/+@-]{0,199}")

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HASH = re.compile(r"[0-9a-f]{64}")
_GRANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_GRANT_ID_MAX = 200
_POLICY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_VERSION = re.compile(r"[0-9A-Za-z.+!_-]{1,64}")
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{6}))?Z"
)
_TIME_EXAMPLE = "2026-01-05T09:00:00Z"
_FILE = re.compile(r"records/([0-9]{8})-[a-z]+(?:-[^/]+)?\.json")


_E = TypeVar("_E", bound=StrEnum)


class RecordError(GitjitError):
    """A ledger record that cannot be read or is not valid."""


@dataclass(frozen=True)
class CountedReview:
    """A review that counted towards the approval, as the forge reported it."""

    reviewer: str
    """The reviewer's login, lower-cased."""
    state: ReviewState
    commit: str
    """The commit SHA the review was given on."""
    submitted_at: datetime | None
    """When the forge says it was submitted (UTC); None where the forge gave no time."""


@dataclass(frozen=True)
class AppliedTarget:
    """Where a grant's access was put: revocation goes exactly there, whatever the policy
    says by then."""

    provider: str
    connection: str | None
    """The settings connection's name; None for a provider used without one."""
    params: tuple[tuple[str, str], ...]
    """The policy's target parameters at the time (role, team ...), sorted by key."""


@dataclass(frozen=True)
class ActionRun:
    """What an action record says about the operation (action events only)."""

    digest: str
    """SHA-256 of the plan: exactly what was approved and run (docs/actions.md)."""
    runs: str
    """The statements with their bound values, or the argv, as the verdict showed them."""
    rows: int | None = None
    """Rows changed (PostgreSQL), as the server counted them; None where not known."""
    exit_code: int | None = None
    """The program's exit status (command target)."""
    duration_ms: int | None = None
    output_digest: str = ""
    """SHA-256 of the whole output after redaction ("" when there was none)."""
    excerpt: str = ""
    """The start of the output, secrets redacted, at most MAX_EXCERPT characters."""


@dataclass(frozen=True, kw_only=True)
class Record:
    """One state change of one grant. ``seq`` 0 marks a draft not yet in the ledger."""

    seq: int = 0
    """Position in the ledger, from 1; 0 for a draft that ``chain`` has not numbered yet."""
    event: Event
    grant_id: GrantId
    """The grant's path under grants/ without '.yaml' ('<policy>/<requester>-<stamp>')."""
    policy: str
    """The policy id; "" only for a refusal or alert about a file that names none."""
    requester: str
    """The requester's login, lower-cased; "" only for a refusal or alert without one."""
    at: datetime
    """When the state change happened (UTC), not when the record was written."""
    pull_request: int | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    merge_sha: str | None = None
    reviews: tuple[CountedReview, ...] = ()
    policy_blob: str | None = None
    """git blob SHA of the policy file that judged the grant."""
    groups_blob: str | None = None
    """git blob SHA of policies/groups.yaml that judged the grant."""
    engine_version: str
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    expiry_enforced_by: ExpiryEnforcer | None = None
    detail: str = ""
    """Free text: why a grant was refused, what an alert is about."""
    code: str = ""
    """What an alert (or deferral) is about, as a stable code (e.g. 'ledger.forged'); ""
    for other events."""
    subject: str = ""
    """What distinguishes this record from others of the same event and grant (a forged
    commit's SHA, an attempt number, a new target's digest); part of the idempotency key."""
    target: AppliedTarget | None = None
    """Where access was applied (activated, retargeted records)."""
    break_glass: bool = False
    """An emergency grant, approved without review: it must be reviewed by ``review_by``."""
    review_by: datetime | None = None
    ended_at: datetime | None = None
    """For an end record: when the access should have ended (the expiry, the merge that
    deleted the grant, the activation that superseded it); ``at`` is when the target confirmed
    it. The difference is the revocation latency."""
    prev: str = ""
    """SHA-256 (hex) of the previous record's canonical JSON; "" for record 1 and drafts."""
    action: ActionRun | None = None
    """Action records only: what ran and how it ended. Absent from the JSON of every other
    record, so records written before actions existed keep their bytes."""

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(f"invalid ledger record: {problem}")

    def label(self) -> str:
        """How messages name the record: 'record 3 (activated prod-db/bob-20260105T0900Z)'."""
        return f"record {self.seq} ({self.event} {self.grant_id})"


def _problem(record: Record) -> str:
    # Typed as object: callers outside mypy's reach pass plain strings for enums and the like.
    event: object = record.event
    enforcer: object = record.expiry_enforced_by
    reviews: tuple[object, ...] = record.reviews
    if type(record.seq) is not int or record.seq < 0:
        return f"seq must be a whole number from 1 (0 for a draft), got {record.seq!r}"
    if not isinstance(event, Event):
        return f"event must be one of {', '.join(Event)}, got {event!r}"
    if record.grant_id == "" and event is Event.ALERT:
        pass  # an alert about the ledger itself, e.g. a forged commit that names no grant
    elif (
        not isinstance(record.grant_id, str)
        or len(record.grant_id) > _GRANT_ID_MAX
        or not _GRANT_ID.fullmatch(record.grant_id)
    ):
        return (
            f"grant_id {record.grant_id!r} is not a grant id: path segments of letters, digits, "
            f"'.', '_' and '-' joined by '/', at most {_GRANT_ID_MAX} characters"
        )
    unknown_ok = record.event in _UNKNOWN_ALLOWED
    if not (record.policy == "" and unknown_ok) and not _POLICY.fullmatch(record.policy):
        return f"policy {record.policy!r} is not a policy id"
    if not (record.requester == "" and unknown_ok) and not _is_login(record.requester):
        return f"requester {record.requester!r} is not a lower-case login"
    for name in ("at", "activated_at", "expires_at", "review_by", "ended_at"):
        when = getattr(record, name)
        if when is None and name != "at":
            continue
        if not isinstance(when, datetime) or when.utcoffset() != timedelta(0):
            return f"{name} must be a timezone-aware UTC datetime, got {when!r}"
    if record.pull_request is not None and (
        type(record.pull_request) is not int or record.pull_request < 1
    ):
        return f"pull_request must be a pull request number from 1, got {record.pull_request!r}"
    for name in ("base_sha", "head_sha", "merge_sha", "policy_blob", "groups_blob"):
        value = getattr(record, name)
        if value is not None and not (isinstance(value, str) and _SHA.fullmatch(value)):
            return f"{name} must be a full lower-case hex object name, got {value!r}"
    for review in reviews:
        if not isinstance(review, CountedReview):
            return f"reviews must hold CountedReview values, got {review!r}"
        if not _is_login(review.reviewer):
            return f"review by {review.reviewer!r}: not a lower-case login"
        state: object = review.state
        if not isinstance(state, ReviewState):
            return f"review by {review.reviewer}: state {state!r} is not a review state"
        if not _SHA.fullmatch(review.commit):
            return f"review by {review.reviewer}: commit {review.commit!r} is not a full SHA"
        if review.submitted_at is not None and review.submitted_at.utcoffset() != timedelta(0):
            return f"review by {review.reviewer}: submitted_at must be UTC"
    if not isinstance(record.engine_version, str) or not _VERSION.fullmatch(
        record.engine_version
    ):
        return f"engine_version {record.engine_version!r} is not a version"
    if enforcer is not None and not isinstance(enforcer, ExpiryEnforcer):
        return f"expiry_enforced_by must be 'target' or 'gitjit', got {enforcer!r}"
    if not isinstance(record.detail, str) or len(record.detail) > MAX_DETAIL:
        return f"detail must be text of at most {MAX_DETAIL} characters"
    if record.event is Event.ACTIVATED:
        if record.activated_at is None or record.expires_at is None:
            return "an activated record needs activated_at and expires_at"
        if record.expiry_enforced_by is None:
            return "an activated record needs expiry_enforced_by ('target' or 'gitjit')"
    if (
        record.activated_at is not None
        and record.expires_at is not None
        and record.expires_at <= record.activated_at
    ):
        return "expires_at must be after activated_at"
    if record.event in _NEEDS_DETAIL and not record.detail.strip():
        return f"a {record.event} record needs a detail saying why"
    if not isinstance(record.code, str) or (record.code and not _CODE.fullmatch(record.code)):
        return f"code {record.code!r} is not a code such as 'ledger.forged'"
    if not isinstance(record.subject, str) or (
        record.subject and not _SUBJECT.fullmatch(record.subject)
    ):
        return f"subject {record.subject!r} is not a short name (letters, digits, ._:/+@-)"
    if record.event is Event.NOTICE and not (record.code and record.subject):
        return "a notice record needs a code and a subject (what was sent, and its key)"
    if record.event in (Event.ACTIVATED, Event.RETARGETED) and record.target is None:
        return f"an {record.event} record needs the target it applied"
    if record.target is not None:
        problem = _target_problem(record.target)
        if problem:
            return problem
    break_glass: object = record.break_glass
    if type(break_glass) is not bool:
        return f"break_glass must be true or false, got {break_glass!r}"
    if record.break_glass and record.event is Event.ACTIVATED and record.review_by is None:
        return "a break-glass activation needs review_by"
    if record.ended_at is not None and record.event not in END_EVENTS:
        return f"ended_at belongs to end records, not to {record.event}"
    problem = _action_problem(record)
    if problem:
        return problem
    if record.seq <= 1 and record.prev != "":
        return f"record {record.seq} has no predecessor, so prev must be empty"
    if record.seq > 1 and not (isinstance(record.prev, str) and _HASH.fullmatch(record.prev)):
        return f"prev must be the SHA-256 (64 hex digits) of record {record.seq - 1}"
    return ""


def _action_problem(record: Record) -> str:
    run: object = record.action
    if record.event in ACTION_EVENTS:
        if not record.grant_id.startswith(ACTION_PREFIX):
            return f"a {record.event} record is about an action, whose id starts with " \
                   f"{ACTION_PREFIX!r}"
        if not isinstance(run, ActionRun):
            return f"a {record.event} record needs the action it ran"
    elif run is not None:
        return f"only action records ({', '.join(sorted(ACTION_EVENTS))}) hold an action"
    if not isinstance(run, ActionRun):
        return ""
    if not _HASH.fullmatch(run.digest):
        return f"action digest {run.digest!r} is not a SHA-256"
    if run.output_digest and not _HASH.fullmatch(run.output_digest):
        return f"action output_digest {run.output_digest!r} is not a SHA-256"
    for name in ("rows", "exit_code", "duration_ms"):
        value = getattr(run, name)
        if value is not None and (type(value) is not int or (name != "exit_code" and value < 0)):
            return f"action {name} must be a whole number, got {value!r}"
    if not isinstance(run.runs, str) or len(run.runs) > MAX_DETAIL:
        return f"action runs must be text of at most {MAX_DETAIL} characters"
    if not isinstance(run.excerpt, str) or len(run.excerpt) > MAX_EXCERPT:
        return f"action excerpt must be text of at most {MAX_EXCERPT} characters"
    return ""


def _target_problem(target: object) -> str:
    if not isinstance(target, AppliedTarget):
        return f"target must be an AppliedTarget, got {target!r}"
    if not isinstance(target.provider, str) or not _POLICY.fullmatch(target.provider):
        return f"target provider {target.provider!r} is not a provider name"
    if target.connection is not None and not (
        isinstance(target.connection, str) and _SUBJECT.fullmatch(target.connection)
    ):
        return f"target connection {target.connection!r} is not a connection name"
    keys = [key for key, _ in target.params]
    if keys != sorted(set(keys)) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in target.params
    ):
        return "target params must be distinct text keys, sorted, with text values"
    return ""


def target_digest(target: AppliedTarget) -> str:
    """A short digest naming a target, for the subject of a retargeted record."""
    text = json.dumps(_target_document(target), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _target_document(target: AppliedTarget) -> dict[str, Any]:
    return {"provider": target.provider, "connection": target.connection,
            "params": dict(target.params)}


def _is_login(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return values.parse_login(text) == text
    except ValueError:
        return False


def draft_reviews(reviews: Iterable[Any]) -> tuple[CountedReview, ...]:
    """``CountedReview`` values from ``engine.core.models.Review`` (or alike), in order."""
    return tuple(
        CountedReview(
            reviewer=str(review.reviewer),
            state=ReviewState(review.state),
            commit=review.commit,
            submitted_at=review.submitted_at,
        )
        for review in reviews
    )


# -- canonical JSON ----------------------------------------------------------------------


def _time(when: datetime | None) -> str | None:
    if when is None:
        return None
    when = when.astimezone(UTC)
    # Whole seconds print without a fraction, so a record written from a forge's timestamp
    # reads the same as the forge's own text.
    if when.year >= 1000:
        # What the strftime below prints, a few times faster (every record read is printed
        # again to check its form): isoformat adds the fraction only where there is one.
        return when.isoformat()[:-6] + "Z"
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_document(record: Record) -> dict[str, Any]:
    """The record as a JSON object; every field is present, unset ones as null (``action``
    only on action records)."""
    document = _document(record)
    if record.action is not None:
        run = record.action
        document["action"] = {"digest": run.digest, "runs": run.runs, "rows": run.rows,
                              "exit_code": run.exit_code, "duration_ms": run.duration_ms,
                              "output_digest": run.output_digest, "excerpt": run.excerpt}
    return document


def _document(record: Record) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "seq": record.seq,
        "event": str(record.event),
        "grant_id": record.grant_id,
        "policy": record.policy,
        "requester": record.requester,
        "at": _time(record.at),
        "pull_request": record.pull_request,
        "base_sha": record.base_sha,
        "head_sha": record.head_sha,
        "merge_sha": record.merge_sha,
        "reviews": [
            {
                "reviewer": review.reviewer,
                "state": str(review.state),
                "commit": review.commit,
                "submitted_at": _time(review.submitted_at),
            }
            for review in record.reviews
        ],
        "policy_blob": record.policy_blob,
        "groups_blob": record.groups_blob,
        "engine_version": record.engine_version,
        "activated_at": _time(record.activated_at),
        "expires_at": _time(record.expires_at),
        "expiry_enforced_by": (
            None if record.expiry_enforced_by is None else str(record.expiry_enforced_by)
        ),
        "detail": record.detail,
        "code": record.code,
        "subject": record.subject,
        "target": None if record.target is None else _target_document(record.target),
        "break_glass": record.break_glass,
        "review_by": _time(record.review_by),
        "ended_at": _time(record.ended_at),
        "prev": record.prev,
    }


def to_json(record: Record) -> bytes:
    """The canonical bytes of the record: what the ledger stores and what ``prev`` hashes."""
    text = json.dumps(
        to_document(record), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
        allow_nan=False,
    )
    return text.encode("ascii") + b"\n"


def record_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


_FIELDS = frozenset({
    "apiVersion", "kind", "seq", "event", "grant_id", "policy", "requester", "at",
    "pull_request", "base_sha", "head_sha", "merge_sha", "reviews", "policy_blob",
    "groups_blob", "engine_version", "activated_at", "expires_at", "expiry_enforced_by",
    "detail", "code", "subject", "target", "break_glass", "review_by", "ended_at", "prev",
})
_OPTIONAL_FIELDS = frozenset({"action"})
_ALL_FIELDS = _FIELDS | _OPTIONAL_FIELDS
_ACTION_FIELDS = frozenset({"digest", "runs", "rows", "exit_code", "duration_ms",
                            "output_digest", "excerpt"})
_TARGET_FIELDS = frozenset({"provider", "connection", "params"})
_REVIEW_FIELDS = frozenset({"reviewer", "state", "commit", "submitted_at"})


def parse_record(raw: bytes, *, source: str = "ledger record") -> Record:
    """Read one record's bytes; RecordError naming ``source`` if they are not a valid record.

    Only the canonical form is accepted: a record whose bytes differ from what gitjit would
    write for the same content was not written by gitjit.
    """
    record = _canonical_record(raw)
    if record is not None:
        return record
    try:
        document = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=reject_duplicate_keys,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"{source}: not a JSON document ({exc})") from exc
    if not isinstance(document, dict):
        raise RecordError(f"{source}: expected a JSON object, got {type(document).__name__}")
    missing = sorted(_FIELDS - document.keys())
    unknown = sorted(document.keys() - _FIELDS - _OPTIONAL_FIELDS)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)}")
        raise RecordError(f"{source}: fields do not match a ledger record: {'; '.join(parts)}")
    if document["apiVersion"] != API_VERSION or document["kind"] != KIND:
        raise RecordError(
            f"{source}: apiVersion {document['apiVersion']!r} and kind {document['kind']!r} "
            f"must be {API_VERSION!r} and {KIND!r}"
        )
    try:
        record = _record(document)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{source}: {exc}") from exc
    if record.seq < 1:
        raise RecordError(f"{source}: seq must be a whole number from 1, got {record.seq}")
    if to_json(record) != raw:
        raise RecordError(
            f"{source}: not in canonical form (sorted keys, no spaces, ASCII escapes, one "
            "trailing newline); gitjit never writes a record like this"
        )
    return record


def _canonical_record(raw: bytes) -> Record | None:
    """The record in ``raw`` when it is valid and in canonical form, read without the strict
    reading's hooks; None for anything else, which ``parse_record`` then reads strictly for
    its exact error. The hooks can be left out here: they refuse duplicate keys and NaN, and
    bytes equal to ``to_json``'s have neither. A ledger holds thousands of records, and the
    hooks make json build every object in Python."""
    try:
        document = json.loads(raw.decode("utf-8"))
        if (type(document) is not dict or not _FIELDS <= document.keys()
                or not document.keys() <= _ALL_FIELDS or document["apiVersion"] != API_VERSION
                or document["kind"] != KIND):
            return None
        record = _record(document)
        if record.seq < 1 or to_json(record) != raw:
            return None
    except (TypeError, ValueError):
        return None
    return record


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A ``json.loads`` object hook: json keeps the last of two equal keys, which would let a
    file say one thing to a reader and another to gitjit."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _record(doc: Mapping[str, Any]) -> Record:
    reviews = doc["reviews"]
    if not isinstance(reviews, list):
        raise ValueError("field 'reviews' must be a list")
    counted = []
    for review in reviews:
        if not isinstance(review, dict) or review.keys() != _REVIEW_FIELDS:
            raise ValueError(
                f"each review must be an object with exactly {', '.join(sorted(_REVIEW_FIELDS))}"
            )
        counted.append(
            CountedReview(
                reviewer=_text(review, "reviewer"),
                state=_enum(ReviewState, review, "state"),
                commit=_text(review, "commit"),
                submitted_at=_optional_time(review, "submitted_at"),
            )
        )
    enforcer = doc["expiry_enforced_by"]
    return Record(
        seq=_int(doc, "seq"),
        event=_enum(Event, doc, "event"),
        grant_id=GrantId(_text(doc, "grant_id")),
        policy=_text(doc, "policy"),
        requester=_text(doc, "requester"),
        at=_required_time(doc, "at"),
        pull_request=None if doc["pull_request"] is None else _int(doc, "pull_request"),
        base_sha=_optional_text(doc, "base_sha"),
        head_sha=_optional_text(doc, "head_sha"),
        merge_sha=_optional_text(doc, "merge_sha"),
        reviews=tuple(counted),
        policy_blob=_optional_text(doc, "policy_blob"),
        groups_blob=_optional_text(doc, "groups_blob"),
        engine_version=_text(doc, "engine_version"),
        activated_at=_optional_time(doc, "activated_at"),
        expires_at=_optional_time(doc, "expires_at"),
        expiry_enforced_by=(
            None if enforcer is None else _enum(ExpiryEnforcer, doc, "expiry_enforced_by")
        ),
        detail=_text(doc, "detail"),
        code=_text(doc, "code"),
        subject=_text(doc, "subject"),
        target=None if doc["target"] is None else _target(doc["target"]),
        break_glass=_bool(doc, "break_glass"),
        review_by=_optional_time(doc, "review_by"),
        ended_at=_optional_time(doc, "ended_at"),
        prev=_text(doc, "prev"),
        action=_action(doc["action"]) if "action" in doc else None,
    )


def _action(value: Any) -> ActionRun:
    if not isinstance(value, dict) or value.keys() != _ACTION_FIELDS:
        raise ValueError(
            f"field 'action' must be an object with exactly {', '.join(sorted(_ACTION_FIELDS))}"
        )
    return ActionRun(
        digest=_text(value, "digest"), runs=_text(value, "runs"),
        rows=None if value["rows"] is None else _int(value, "rows"),
        exit_code=None if value["exit_code"] is None else _int(value, "exit_code"),
        duration_ms=None if value["duration_ms"] is None else _int(value, "duration_ms"),
        output_digest=_text(value, "output_digest"), excerpt=_text(value, "excerpt"),
    )


def _target(value: Any) -> AppliedTarget:
    if not isinstance(value, dict) or value.keys() != _TARGET_FIELDS:
        raise ValueError(
            f"field 'target' must be an object with exactly {', '.join(sorted(_TARGET_FIELDS))}"
        )
    params = value["params"]
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise ValueError("field 'target.params' must be an object of text values")
    return AppliedTarget(
        provider=_text(value, "provider"),
        connection=_optional_text(value, "connection"),
        params=tuple(sorted(params.items())),
    )


def _bool(doc: Mapping[str, Any], key: str) -> bool:
    value = doc[key]
    if type(value) is not bool:
        raise ValueError(f"field {key!r} must be true or false, got {value!r}")
    return value


def _int(doc: Mapping[str, Any], key: str) -> int:
    value = doc[key]
    # bool is an int in Python; true must not read as 1.
    if type(value) is not int:
        raise ValueError(f"field {key!r} must be a whole number, got {value!r}")
    return value


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be text, got {value!r}")
    return value


def _optional_text(doc: Mapping[str, Any], key: str) -> str | None:
    return None if doc[key] is None else _text(doc, key)


def _enum(kind: type[_E], doc: Mapping[str, Any], key: str) -> _E:
    value = _text(doc, key)
    try:
        return kind(value)
    except ValueError:
        raise ValueError(
            f"field {key!r} must be one of {', '.join(kind)}, got {value!r}"
        ) from None


def _required_time(doc: Mapping[str, Any], key: str) -> datetime:
    text = _text(doc, key)
    try:
        when = _time_of(text)
    except ValueError as exc:
        raise ValueError(f"field {key!r}: {text!r} is not a real time ({exc})") from None
    if when is None:
        raise ValueError(
            f"field {key!r} must be a UTC timestamp such as {_TIME_EXAMPLE}, got {text!r}"
        )
    return when


@functools.lru_cache(maxsize=4096)
def _time_of(text: str) -> datetime | None:
    """The time ``text`` writes; None when it is not written as a record's time, ValueError
    when it is but names no real time. Kept for the last few thousand texts: a record says
    the same time in several fields (at and activated_at, the reviews of one push), and the
    next record often says it again (an expiry, then its end)."""
    match = _TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second),
        int(fraction or 0), tzinfo=UTC,
    )


def _optional_time(doc: Mapping[str, Any], key: str) -> datetime | None:
    return None if doc[key] is None else _required_time(doc, key)


# -- appending ---------------------------------------------------------------------------


def record_key(record: Record) -> str:
    """The idempotency key: one state change of one grant is recorded once.

    A rerun after a crash, or a second reconcile racing the first, finds the key already
    recorded and writes nothing.
    """
    if record.event in OUTCOME_EVENTS:
        # One outcome per action, whichever event it is: two runs can never seal it twice.
        return f"outcome {record.grant_id}"
    return event_key(record.event, record.grant_id, record.subject)


def event_key(event: Event, grant_id: str, subject: str = "") -> str:
    """The idempotency key of a record of ``event`` (not an action's outcome) about
    ``grant_id``, with its ``subject``: what to ``find`` before writing one."""
    key = f"{event} {grant_id}"
    return f"{key} {subject}" if subject else key


def request_number(record: Record) -> int | None:
    """The pull request a request notice is about ('request.reminded:12:1' -> 12)."""
    if record.event is not Event.NOTICE or not record.code.startswith("request."):
        return None
    parts = record.subject.split(":")
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def chain(draft: Record, previous: Record | None) -> Record:
    """The draft numbered after ``previous`` and holding its hash (record 1 without one)."""
    if previous is None:
        return replace(draft, seq=1, prev="")
    return replace(draft, seq=previous.seq + 1, prev=record_hash(to_json(previous)))


def record_path(record: Record) -> str:
    """Where the record lives on the ledger branch; seq first, so names sort in order."""
    if not record.grant_id:
        return f"{RECORDS_DIR}{record.seq:08d}-{record.event}.json"
    flat = record.grant_id.replace("/", "_")
    return f"{RECORDS_DIR}{record.seq:08d}-{record.event}-{flat}.json"


def commit_message(record: Record) -> str:
    """The ledger commit's message: a subject for people, trailers for tools."""
    about = record.grant_id or "(the ledger)"
    grant = f"Gitjit-Grant: {record.grant_id}\n" if record.grant_id else ""
    return (
        f"gitjit: {record.event} {about}\n\n"
        f"Gitjit-Event: {record.event}\n"
        f"{grant}"
        f"Gitjit-Seq: {record.seq}\n"
    )


def is_ledger_message(message: str) -> bool:
    """Whether a commit message is one ``commit_message`` writes: a gitjit-signed commit
    with another message (a removal on the default branch) is never read as a ledger commit."""
    found = _trailers(message)
    return message.startswith("gitjit: ") and "Gitjit-Event" in found and "Gitjit-Seq" in found


# -- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCommit:
    """One commit of the ledger branch, as the adapter read it."""

    sha: str
    parents: tuple[str, ...]
    message: str
    changes: tuple[Change, ...]
    """What the commit changed against the ledger commit before it (against nothing for the
    first)."""
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    """The content of the files the commit added, by blob SHA."""
    untrusted: str = ""
    """Why the commit cannot be gitjit's ("" when it is: a valid signature of a key in
    policies/allowed_signers on a ledger commit). Untrusted commits add nothing to the story;
    their ``changes`` are against their first parent, to say what they claim."""


@dataclass(frozen=True)
class StoredRecord:
    """A record as found in the ledger: its content, file and the commit that added it."""

    record: Record
    path: str
    commit: str
    raw: bytes


def added_records(commit: LedgerCommit) -> list[Change]:
    return [c for c in commit.changes if c.status == "A" and c.path.startswith(RECORDS_DIR)]


def chain_records(commits: Sequence[LedgerCommit]) -> list[Record]:
    """The records the commits added, in commit order; RecordError on one that is unreadable.

    For reading, not judging: the shape of the history is ``verify_chain``'s business.
    """
    records = []
    for commit in commits:
        for change in added_records(commit):
            raw = commit.blobs.get(change.new_blob)
            source = f"{change.path} (ledger commit {commit.sha[:12]})"
            if raw is None:
                raise RecordError(f"{source}: the record's blob {change.new_blob} was not read")
            try:
                records.append(parse_record(raw, source=source))
            except RecordError as exc:
                raise RecordError(f"{exc}; run 'gitjit audit verify' to check the ledger") from exc
    return records


def read_chain(commits: Sequence[LedgerCommit]) -> tuple[list[StoredRecord], list[Finding]]:
    """The records the trusted commits hold and every finding about the chain's integrity.

    A trusted commit's ``changes`` are against the trusted commit before it (commits of
    others in between are not part of the story); an untrusted one is a ``ledger.forged``
    finding that says what it claims.
    """
    stored: list[StoredRecord] = []
    findings: list[Finding] = []
    unreadable_seqs: set[int] = set()
    first = True
    for commit in commits:
        if commit.untrusted:
            findings.append(forged_finding(commit))
            continue
        findings += _shape(commit, first)
        first = False
        added = added_records(commit)
        for change in added:
            raw = commit.blobs.get(change.new_blob, b"")
            where = f"{change.path} (ledger commit {commit.sha[:12]})"
            try:
                record = parse_record(raw, source=where)
            except RecordError as exc:
                findings.append(_finding(
                    change.path, "ledger.unreadable",
                    f"{exc}: the record was damaged or not written by gitjit",
                ))
                match = _FILE.fullmatch(change.path)
                if match:
                    unreadable_seqs.add(int(match[1]))
                continue
            entry = StoredRecord(record, change.path, commit.sha, raw)
            findings += _naming(entry, commit, single=len(added) == 1)
            stored.append(entry)
    findings += _sequence(stored, unreadable_seqs)
    findings += _hashes(stored)
    findings += _duplicates(stored)
    return stored, findings


def verify_chain(commits: Sequence[LedgerCommit]) -> list[Finding]:
    """Findings on the ledger's history: shape, numbering, hash chain, duplicates."""
    return sorted(read_chain(commits)[1])


def _finding(path: str, code: str, message: str) -> Finding:
    return Finding(path=path, line=0, code=code, message=message)


def forged_finding(commit: LedgerCommit) -> Finding:
    """A commit on the ledger branch that gitjit did not sign: what it claims, and why it is
    not believed."""
    return _finding(
        next((c.path for c in commit.changes), ""), "ledger.forged",
        f"ledger commit {commit.sha[:12]} {describe_claims(commit)}, but {commit.untrusted}: "
        "gitjit ignores it (it grants, ends and hides nothing)",
    )


def describe_claims(commit: LedgerCommit) -> str:
    """What a commit on the ledger branch changes, in words: 'adds records/... (activated x)'."""
    verbs = {"A": "adds", "D": "deletes", "M": "modifies", "T": "changes the type of"}
    parts = []
    for change in commit.changes[:5]:
        text = f"{verbs.get(change.status, 'changes')} {change.path}"
        raw = commit.blobs.get(change.new_blob) if change.status in "AM" else None
        if raw is not None:
            try:
                record = parse_record(raw, source=change.path)
            except RecordError:
                text += " (not a readable record)"
            else:
                text += f" ({record.event} {record.grant_id or 'the ledger'})"
        parts.append(text)
    if len(commit.changes) > 5:
        parts.append(f"and {len(commit.changes) - 5} more")
    return ", ".join(parts) if parts else "changes nothing"


def _shape(commit: LedgerCommit, first: bool) -> list[Finding]:
    short = commit.sha[:12]
    findings = []
    if len(commit.parents) > 1 or (not first and not commit.parents):
        got = ", ".join(p[:12] for p in commit.parents) or "none"
        findings.append(_finding(
            "", "ledger.not-linear",
            f"ledger commit {short} has parents {got} where it should have one: the "
            "ledger is one straight line of commits, never merged or started again",
        ))
    added = added_records(commit)
    verbs = {"A": "adds", "D": "deletes", "M": "modifies", "T": "changes the type of"}
    for change in commit.changes:
        if change.path == INDEX_PATH and change.status in ("A", "M"):
            continue  # the index is rewritten with every record (audit verify checks it)
        if change.path.startswith(KEYS_DIR) and change.status == "A":
            continue  # one key per record (audit verify checks them against the records)
        if change in added:
            if change.new_mode != REGULAR_FILE:
                findings.append(_finding(
                    change.path, "ledger.commit-shape",
                    f"ledger commit {short} adds {change.path} with mode {change.new_mode}; "
                    f"records are regular files (mode {REGULAR_FILE})",
                ))
            continue
        verb = verbs.get(change.status, "changes")
        findings.append(_finding(
            change.path, "ledger.commit-shape",
            f"ledger commit {short} {verb} {change.path}: a ledger commit only adds one new "
            "record under records/, and records are never changed or removed",
        ))
    if not added:
        findings.append(_finding(
            "", "ledger.commit-shape", f"ledger commit {short} adds no record under records/",
        ))
    elif len(added) > 1:
        names = ", ".join(c.path for c in added)
        findings.append(_finding(
            added[0].path, "ledger.commit-shape",
            f"ledger commit {short} adds {len(added)} records ({names}); each commit adds "
            "exactly one",
        ))
    return findings


def _trailers(message: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in message.splitlines():
        key, colon, value = line.partition(": ")
        if colon and key.startswith("Gitjit-"):
            found.setdefault(key, value)
    return found


def _naming(entry: StoredRecord, commit: LedgerCommit, *, single: bool) -> list[Finding]:
    record = entry.record
    findings = []
    expected_path = record_path(record)
    if entry.path != expected_path:
        findings.append(_finding(
            entry.path, "ledger.commit-shape",
            f"ledger {record.label()} is stored as {entry.path} but its content names "
            f"{expected_path}: the file was renamed or its content replaced",
        ))
    if single:
        expected = _trailers(commit_message(record))
        got = _trailers(commit.message)
        if got != expected:
            findings.append(_finding(
                entry.path, "ledger.commit-shape",
                f"ledger commit {commit.sha[:12]} of {record.label()} has trailers "
                f"{_show_trailers(got)} where the record says {_show_trailers(expected)}",
            ))
    return findings


def _show_trailers(trailers: Mapping[str, str]) -> str:
    if not trailers:
        return "(none)"
    return ", ".join(f"{key}: {value}" for key, value in sorted(trailers.items()))


def _sequence(stored: Sequence[StoredRecord], unreadable: Collection[int]) -> list[Finding]:
    findings = []
    present = {entry.record.seq for entry in stored} | set(unreadable)
    # A gap is a record removed from history: name the record that now follows it.
    highest = 0
    for entry in stored:
        seq = entry.record.seq
        if seq > highest + 1:
            missing = [n for n in range(highest + 1, seq) if n not in present]
            if missing:
                findings.append(_finding(
                    entry.path, "ledger.seq-gap",
                    f"ledger {_missing(missing)} missing before {entry.record.label()}: "
                    "records were removed from the ledger's history",
                ))
        elif seq <= highest:
            findings.append(_finding(
                entry.path, "ledger.seq-order",
                f"ledger {entry.record.label()} comes after record {highest} in the ledger's "
                "history: records were reordered or a number was used twice",
            ))
        highest = max(highest, seq)
    return findings


def _missing(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"record {numbers[0]} is"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"records {numbers[0]} to {numbers[-1]} are"
    return f"records {', '.join(map(str, numbers))} are"


def _hashes(stored: Sequence[StoredRecord]) -> list[Finding]:
    by_seq: dict[int, list[StoredRecord]] = {}
    for entry in stored:
        by_seq.setdefault(entry.record.seq, []).append(entry)
    findings = []
    for entry in stored:
        before = by_seq.get(entry.record.seq - 1, [])
        # With no predecessor a gap is already reported; with two, the order finding is.
        if len(before) != 1:
            continue
        (previous,) = before
        if record_hash(previous.raw) != entry.record.prev:
            findings.append(_finding(
                previous.path, "ledger.rewritten",
                f"ledger {previous.record.label()} is not the record that "
                f"{entry.record.label()} was chained to (its hash differs from the prev that "
                f"record {entry.record.seq} holds): record {previous.record.seq} was rewritten",
            ))
    return findings


def _duplicates(stored: Sequence[StoredRecord]) -> list[Finding]:
    first: dict[str, StoredRecord] = {}
    findings = []
    for entry in stored:
        key = record_key(entry.record)
        if key in first:
            earlier = first[key].record
            findings.append(_finding(
                entry.path, "ledger.duplicate",
                f"ledger {entry.record.label()} repeats record {earlier.seq}: the "
                f"{entry.record.event} of grant {entry.record.grant_id} is recorded twice",
            ))
        else:
            first[key] = entry
    return findings


def referenced_commits(stored: Iterable[StoredRecord]) -> set[str]:
    """Every commit SHA the records name (base, head, merge), to check they exist."""
    shas: set[str] = set()
    for entry in stored:
        record = entry.record
        shas.update(s for s in (record.base_sha, record.head_sha, record.merge_sha) if s)
    return shas


def verify_references(
    stored: Iterable[StoredRecord], object_types: Mapping[str, str | None]
) -> list[Finding]:
    """A record naming a commit the repository does not hold points at made-up history.

    ``object_types`` maps each SHA to its git object type, None when the object is missing.
    """
    findings = []
    for entry in stored:
        record = entry.record
        for name in ("base_sha", "head_sha", "merge_sha"):
            sha = getattr(record, name)
            if not sha:
                continue
            kind = object_types.get(sha)
            if kind == "commit":
                continue
            what = "no object" if kind is None else f"a {kind}, not a commit"
            findings.append(_finding(
                entry.path, "ledger.missing-commit",
                f"ledger {record.label()} names {name} {sha}, which is {what} in this "
                "repository: fetch the full history (fetch-depth: 0), or the record points at "
                "history that was rewritten or never existed",
            ))
    return findings


def verify_coverage(
    stored: Iterable[StoredRecord], grant_paths: Iterable[str], branch: str
) -> list[Finding]:
    """Every grant on the default branch must have been verified: activated or refused."""
    settled = {
        entry.record.grant_id for entry in stored if entry.record.event in VERDICT_EVENTS
    }
    findings = []
    for path in sorted(grant_paths):
        gid = grant_id(path)
        if gid in settled:
            continue
        findings.append(_finding(
            path, "ledger.unrecorded-grant",
            f"grant {gid} is on {branch} but the ledger has no activated or refused record "
            "of it: it was never verified; run 'gitjit reconcile', and find out how it "
            "landed if reconcile has run since",
        ))
    return findings


@dataclass(frozen=True)
class LedgerState:
    """The ledger as a run may trust it."""

    tip: str | None
    """The ledger branch's newest commit, whoever made it."""
    trusted: str | None
    """The newest commit on its first-parent line that gitjit signed; None when there is none."""
    forged: tuple[LedgerCommit, ...]
    """Commits after the trusted one, oldest first, with what each claims and why it is not
    believed."""
    unreadable: tuple[str, ...]
    """Files of the trusted tree that are not records (skipped, never fatal)."""
    problem: str = ""
    """Why nothing could be trusted at all, when that is so."""
    index: LedgerIndex = field(default_factory=lambda: LedgerIndex())
    """The trusted commit's index: the newest record, the open grants, latency figures."""
    open: tuple[tuple[Record, AppliedTarget], ...] = ()
    """Each open grant's activated record and where its access is now, by grant id."""


def revocation_latency(end: Record) -> timedelta | None:
    """How long access outlived its end: from ``ended_at`` to when the target confirmed the
    removal (``at``). Zero where the target itself ended it at the expiry (a native schedule);
    None for a record that does not say (written before ended_at existed, or not an end)."""
    if end.event not in END_EVENTS or end.ended_at is None:
        return None
    if end.event is Event.EXPIRED and end.expiry_enforced_by is ExpiryEnforcer.TARGET:
        return timedelta(0)
    return max(end.at - end.ended_at, timedelta(0))


@dataclass(frozen=True)
class Latency:
    """Revocation latency over a set of end records."""

    count: int
    median: timedelta
    worst: timedelta
    worst_grant: GrantId


def latency_summary(records: Iterable[Record]) -> Latency | None:
    """Median and worst revocation latency of the end records that say; None without any."""
    measured = sorted(((lat, r.grant_id) for r in records
                       if (lat := revocation_latency(r)) is not None), key=lambda x: x[0])
    if not measured:
        return None
    middle = len(measured) // 2
    median = (measured[middle][0] if len(measured) % 2
              else (measured[middle - 1][0] + measured[middle][0]) / 2)
    worst, grant = measured[-1]
    return Latency(len(measured), median, worst, grant)


# -- the index: what a run reads instead of every record ---------------------------------

INDEX_PATH = "index.json"
KEYS_DIR = "keys/"
INDEX_VERSION = 2


@dataclass(frozen=True)
class OpenGrant:
    """A grant gitjit activated whose end is not recorded yet: where its records are."""

    activated: str
    """The path of its activated record."""
    target: str
    """The path of the record naming where its access is now (activated or retargeted)."""


@dataclass(frozen=True)
class OpenRequest:
    """A request gitjit announced that is not finished: its pull request may have closed
    since, which only the forge can say (the timers then tell that it was withdrawn)."""

    grant: GrantId
    announced: str
    """The path of its announcement notice."""


@dataclass(frozen=True)
class LedgerIndex:
    """Kept beside the records in every ledger commit gitjit signs, so a run reads what it
    needs (the newest record's number and hash, the open grants, a record by its idempotency
    key) without reading every record: its cost does not grow with the ledger. Being in the
    signed tree, it is as trusted as the records; ``audit verify`` rebuilds it from the records
    and reports any difference."""

    seq: int = 0
    """The newest record's number; 0 while there is none."""
    hash: str = ""
    """SHA-256 of the newest record's bytes: the next record's ``prev``."""
    main: str | None = None
    """The default branch's tip when the newest record was written: where a later run may
    start walking the branch's history."""
    open: Mapping[GrantId, OpenGrant] = field(default_factory=dict)
    requests: Mapping[int, OpenRequest] = field(default_factory=dict)
    """Announced requests by pull request number, until they are withdrawn, closed, or their
    grant is activated or refused."""
    ends: int = 0
    """How many end records say their revocation latency."""
    worst: int = 0
    """The worst revocation latency in whole seconds, and whose it was."""
    worst_grant: str = ""
    recent: tuple[int, ...] = ()
    """The latencies of the newest RECENT_ENDS ends, oldest first: the median is theirs (the
    index stays small however long the ledger grows)."""

    def latency(self) -> Latency | None:
        if not self.ends:
            return None
        ordered = sorted(self.recent)
        middle = len(ordered) // 2
        median = (ordered[middle] if len(ordered) % 2
                  else (ordered[middle - 1] + ordered[middle]) / 2)
        return Latency(self.ends, timedelta(seconds=median), timedelta(seconds=self.worst),
                       GrantId(self.worst_grant))


RECENT_ENDS = 200


def key_path(key: str) -> str:
    """Where a record's idempotency key is kept: keys/<2 hex>/<sha256 of the key>; the blob
    there holds the record's path."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{KEYS_DIR}{digest[:2]}/{digest}"


def index_after(index: LedgerIndex, record: Record, path: str, main: str | None) -> LedgerIndex:
    """The index once ``record`` (stored at ``path``) is appended."""
    opened = dict(index.open)
    if record.event is Event.ACTIVATED:
        opened[record.grant_id] = OpenGrant(path, path)
    elif record.event is Event.RETARGETED and record.grant_id in opened:
        opened[record.grant_id] = replace(opened[record.grant_id], target=path)
    elif record.event in END_EVENTS:
        opened.pop(record.grant_id, None)
    requests = dict(index.requests)
    number = request_number(record)
    if number is not None and record.code == REQUEST_ANNOUNCED:
        requests[number] = OpenRequest(record.grant_id, path)
    elif number is not None and record.code in REQUEST_FINISHED:
        requests.pop(number, None)
    elif record.event in (Event.ACTIVATED, Event.REFUSED):
        requests = {n: r for n, r in requests.items() if r.grant != record.grant_id}
    latency = revocation_latency(record)
    after = replace(index, seq=record.seq, hash=record_hash(to_json(record)),
                    main=main or index.main, open=opened, requests=requests)
    if latency is None:
        return after
    seconds = int(latency.total_seconds())
    worse = seconds > index.worst or not index.ends
    return replace(after, ends=index.ends + 1, worst=seconds if worse else index.worst,
                   worst_grant=record.grant_id if worse else index.worst_grant,
                   recent=(index.recent + (seconds,))[-RECENT_ENDS:])


def build_index(records: Sequence[Record], main: str | None = None) -> LedgerIndex:
    """The index the records imply (for ``audit verify``, and for a ledger written before the
    index existed)."""
    index = LedgerIndex(main=main)
    for record in records:
        index = index_after(index, record, record_path(record), None)
    return replace(index, main=main)


def index_json(index: LedgerIndex) -> bytes:
    document = {
        "version": INDEX_VERSION, "seq": index.seq, "hash": index.hash, "main": index.main,
        "open": {gid: {"activated": item.activated, "target": item.target}
                 for gid, item in sorted(index.open.items())},
        "requests": {str(number): {"grant": item.grant, "announced": item.announced}
                     for number, item in sorted(index.requests.items())},
        "ends": index.ends, "worst": index.worst, "worst_grant": index.worst_grant,
        "recent": list(index.recent),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"


def parse_index(raw: bytes, source: str = INDEX_PATH) -> LedgerIndex:
    try:
        document = json.loads(raw.decode("ascii"), object_pairs_hook=reject_duplicate_keys)
        if document["version"] != INDEX_VERSION:
            raise ValueError(f"version {document['version']!r}")
        index = LedgerIndex(
            seq=_int(document, "seq"), hash=_text(document, "hash"),
            main=_optional_text(document, "main"),
            open={GrantId(gid): OpenGrant(_text(item, "activated"), _text(item, "target"))
                  for gid, item in document["open"].items()},
            requests={int(number): OpenRequest(GrantId(_text(item, "grant")),
                                               _text(item, "announced"))
                      for number, item in document["requests"].items()},
            ends=_int(document, "ends"), worst=_int(document, "worst"),
            worst_grant=_text(document, "worst_grant"),
            recent=tuple(int(n) for n in document["recent"]),
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"{source}: not a ledger index ({exc})") from exc
    if index_json(index) != raw:
        raise RecordError(f"{source}: not in canonical form; gitjit never writes it like this")
    return index


def verify_index(stored: Sequence[StoredRecord], index: LedgerIndex | None,
                 keys: Mapping[str, bytes], where: str) -> list[Finding]:
    """The index and the keys of the newest trusted commit must be what its records imply:
    a run that relies on them must never see another story than an audit of every record."""
    records = [entry.record for entry in stored]
    findings = []
    expected = build_index(records)
    if index is None:
        if records:
            findings.append(_finding(INDEX_PATH, "ledger.index",
                                     f"the ledger at {where} has no readable {INDEX_PATH}"))
    elif replace(index, main=None) != expected:
        findings.append(_finding(INDEX_PATH, "ledger.index",
                                 f"{INDEX_PATH} at {where} is not what the records imply "
                                 f"(it says {index.seq} records, {len(index.open)} open "
                                 f"grants and {len(index.requests)} open requests; the "
                                 f"records say {expected.seq}, {len(expected.open)} and "
                                 f"{len(expected.requests)})"))
    wanted = {key_path(record_key(r)): record_path(r).encode() for r in records}
    wrong = sorted(path for path in set(wanted) | set(keys)
                   if wanted.get(path) != keys.get(path))
    if wrong:
        findings.append(_finding(wrong[0], "ledger.index",
                                 f"{len(wrong)} entries under {KEYS_DIR} at {where} do not "
                                 "match the records (e.g. " + wrong[0] + ")"))
    return findings
