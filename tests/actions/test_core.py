"""The pure parts of actions: PostgreSQL's parser's judgement, rendering with bound values,
the verdict, the pull request's classification, the records and the redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.actions import sql
from engine.actions.model import ActionId, ActionRequest
from engine.actions.outcome import redact, sealed_run
from engine.adapters.schemas import packaged_schemas
from engine.core.changes import NO_FILE, REGULAR_FILE, SYMLINK, Change
from engine.core.config import ConfigFile, ConfigResult, build_config
from engine.core.decide import classify, decide
from engine.core.decision import GrantFile, Kind, Outcome, PullRequest
from engine.core.ledger import (
    ActionRun,
    Event,
    Record,
    RecordError,
    chain,
    parse_record,
    record_key,
    to_json,
)
from engine.core.models import GrantId, Login, PolicyId, Review, ReviewState
from engine.targets.base import ActionResult

SCHEMAS = packaged_schemas()
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HEAD = "1" * 40
PATH = "actions/fix/bob-20261130T0900Z.yaml"
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: fix
description: Data fixes
target: {provider: postgres, connection: db, role: fixer}
requesters: [user:bob]
approvals:
  - {from: [user:dave], count: 1}
actions:
  runbooks:
    cancel:
      params:
        order_id: {type: integer, min: "1", max: "999999"}
        why: {type: text, pattern: "[a-z ]+", max_length: "40"}
      sql: UPDATE orders SET status = 'cancelled', note = :why WHERE id = :order_id
      max_rows: "1"
  sql:
    allow: [update]
    functions: [now]
"""
SETTINGS = ("apiVersion: gitjit/v1\nkind: Settings\nconnections:\n"
            "  db: {provider: postgres, dsn_env: DB_DSN}\n")


def config(policy: str = POLICY) -> ConfigResult:
    files = [ConfigFile("policies/fix.yaml", REGULAR_FILE, policy.encode()),
             ConfigFile("policies/settings.yaml", REGULAR_FILE, SETTINGS.encode())]
    return build_config(files, SCHEMAS)


def request(body: str, *, reviews: tuple[Review, ...] = (), author: str = "bob",
            path: str = PATH) -> PullRequest:
    raw = (f"apiVersion: gitjit/v1\nkind: Action\npolicy: fix\nrequester: bob\n"
           f"justification: Order charged twice\n{body}").encode()
    return PullRequest(Login(author), HEAD, (Change("A", path, NO_FILE, REGULAR_FILE,
                                                    "0" * 40, "2" * 40),),
                       reviews=reviews, added=(GrantFile(path, raw),))


def approved_by_dave() -> tuple[Review, ...]:
    return (Review(Login("dave"), ReviewState.APPROVED, HEAD, NOW - timedelta(minutes=1)),)


def messages(body: str) -> list[str]:
    return [f"{f.code}: {f.message}" for f in decide(request(body), config(), SCHEMAS,
                                                     NOW).errors]


# -- the parser -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "classes"), [
    ("UPDATE t SET a = 1 WHERE id = 2", "UPDATE", {"update"}),
    ("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING id) SELECT * FROM d", "SELECT",
     {"select", "delete"}),
    ("SELECT 1 INTO t2", "SELECT", {"select", "ddl"}),
    ("CREATE INDEX i ON t (a)", "CREATE INDEX", {"ddl"}),
    ("GRANT admin TO bob", "GRANT/REVOKE role", {"GRANT/REVOKE role"}),
    ("COPY t TO PROGRAM 'sh'", "COPY", {"COPY"}),
])
def test_the_parser_names_every_statement_in_the_tree(text: str, kind: str,
                                                      classes: set[str]) -> None:
    analysed = sql.analyse(text)
    assert (analysed.kind, set(analysed.classes)) == (kind, classes)


def test_placeholders_come_from_the_scanner_not_from_text() -> None:
    text, names = sql.placeholders("UPDATE t SET s = 'a:b', n = n::int WHERE id = :id OR "
                                   "x = :why OR y = :id")
    assert text == "UPDATE t SET s = 'a:b', n = n::int WHERE id = $1 OR x = $2 OR y = $1"
    assert names == ["id", "why"]
    assert sql.split("SELECT ';'; SELECT $$a;b$$") == ["SELECT ';'", "SELECT $$a;b$$"]
    # Nothing written is dropped, not even what the parser will reject.
    assert sql.split("SELECT 1; UPDAT x -- note\n;")[0] == "SELECT 1"
    assert sql.split("SELECT 1; UPDAT x -- note\n;")[1].startswith("UPDAT x")


# -- the verdict ----------------------------------------------------------------------------

def test_a_runbook_renders_its_values_as_bound_parameters() -> None:
    decision = decide(request('runbook: cancel\nparams: {order_id: "42", why: "double charge"}\n',
                              reviews=approved_by_dave()), config(), SCHEMAS, NOW)
    assert (decision.outcome, decision.kind) == (Outcome.APPROVED, Kind.ACTION)
    assert decision.action is not None and decision.action.plan is not None
    plan = decision.action.plan
    (statement,) = plan.statements
    assert statement.text == ("UPDATE orders SET status = 'cancelled', note = $1 WHERE id = $2")
    assert statement.values == ("double charge", "42")
    assert (statement.kind, statement.objects, plan.max_rows) == ("UPDATE", ("orders",), 1)
    assert dict(plan.target) == {"role": "fixer"}
    assert dict(plan.connection_settings) == {"provider": "postgres", "dsn_env": "DB_DSN"}


@pytest.mark.parametrize(("body", "expected"), [
    ('runbook: cancel\nparams: {order_id: "1 OR 1=1", why: "x"}\n',
     "action.param-value: parameter 'order_id' is '1 OR 1=1', not a whole number"),
    ('runbook: cancel\nparams: {order_id: "0", why: "x"}\n',
     "action.param-value: parameter 'order_id' is 0, below the minimum 1"),
    ('runbook: cancel\nparams: {order_id: "1", why: "x\'; DROP TABLE t; --"}\n',
     "action.param-value: parameter 'why' is \"x'; DROP TABLE t; --\", which does not match "
     "[a-z ]+"),
    ('runbook: cancel\nparams: {order_id: "1"}\n',
     "action.param-missing: runbook 'cancel' needs parameter 'why' (text of at most 40 "
     "characters matching [a-z ]+)"),
    ('runbook: cancel\nparams: {order_id: "1", why: "x", table: "t"}\n',
     "action.param-unknown: runbook 'cancel' has no parameter 'table'; its parameters: "
     "order_id, why"),
    ("runbook: drop\n", "action.unknown-runbook: policy 'fix' has no runbook 'drop'; its "
     "runbooks: cancel (see 'gitjit explain fix')"),
    ("sql: UPDATE t SET a = now() WHERE id = 1; UPDATE t SET a = 2 WHERE id = 2\n",
     "action.sql-multiple: the sql holds 2 statements; policy 'fix' allows one per action "
     "(multiple_statements: false): file one action per statement"),
    ("sql: UPDATE t SET a = pg_catalog.set_config('role', 'postgres', true) WHERE id = 1\n",
     "action.sql-function: the statement calls pg_catalog.set_config, which policy 'fix' does "
     "not list under sql.functions (listed: now)"),
    ("sql: SET ROLE postgres\n", "action.sql-denied: the parser reads the statement as "
     "SET/RESET, which is never allowed in an action (it changes privileges, ends the "
     "transaction or runs code of its own); ask for a grant instead"),
    ("sql: DELETE FROM t WHERE 1 = 1\n", "action.sql-class: the parser reads the statement as "
     "DELETE; policy 'fix' allows only: update"),
    ("sql: UPDATE t SET a = 1 WHERE true\n", "action.sql-no-where: the statement: UPDATE with "
     "a WHERE that names no column changes every row (or none); add a WHERE that selects the "
     "rows to change"),
    ("sql: UPDATE t SET a = $1 WHERE id = 2\n", "action.sql-parameter: the statement holds "
     "$1-style parameters, which free-form SQL has no values for; write the values in"),
    ("sql: ALTER TABLE t ADD COLUMN b int\n", "action.sql-ddl: the parser reads the statement "
     "as DDL (ALTER TABLE); policy 'fix' allows no DDL (sql.ddl: false)"),
])
def test_every_reason_an_action_cannot_run_is_a_finding(body: str, expected: str) -> None:
    assert expected in messages(body)


def test_a_request_names_exactly_one_operation() -> None:
    assert messages("runbook: cancel\nsql: SELECT 1\n")[0].startswith("action.request-shape")
    assert messages("")[0].startswith("action.request-shape")


def test_the_head_must_be_written_against_the_same_plan() -> None:
    """A runbook changed on the default branch after the branch was made changes what runs:
    the approvals on the head would not cover it."""
    body = 'runbook: cancel\nparams: {order_id: "42", why: "double charge"}\n'
    older = config(POLICY.replace("max_rows: \"1\"", "max_rows: \"5\""))
    assert older.config is not None
    pr = request(body, reviews=approved_by_dave())
    moved = PullRequest(pr.author, pr.head, pr.changes, pr.reviews, added=pr.added,
                        origin=older.config)
    decision = decide(moved, config(), SCHEMAS, NOW)
    assert decision.outcome is Outcome.DENIED
    assert [f.code for f in decision.errors] == ["action.plan-changed"]


def test_a_grant_of_an_actions_only_policy_is_denied() -> None:
    policy = POLICY.replace("approvals:", "approvals:")  # no duration: actions only
    grant = (b"apiVersion: gitjit/v1\nkind: Grant\npolicy: fix\nrequester: bob\nduration: 1h\n"
             b"justification: Order charged twice\n")
    path = "grants/fix/bob-20261130T0900Z.yaml"
    pr = PullRequest(Login("bob"), HEAD, (Change("A", path, NO_FILE, REGULAR_FILE, "0" * 40,
                                                 "2" * 40),), added=(GrantFile(path, grant),))
    decision = decide(pr, config(policy), SCHEMAS, NOW)
    assert [f.code for f in decision.errors] == ["grant.actions-only"]


@pytest.mark.parametrize(("changes", "kind", "code"), [
    ([Change("A", PATH, NO_FILE, REGULAR_FILE, "0" * 40, "2" * 40),
      Change("A", "grants/fix/bob-20261130T0900Z.yaml", NO_FILE, REGULAR_FILE, "0" * 40,
             "3" * 40)], Kind.MIXED, "pr.mixed"),
    ([Change("A", PATH, NO_FILE, REGULAR_FILE, "0" * 40, "2" * 40),
      Change("M", "policies/fix.yaml", REGULAR_FILE, REGULAR_FILE, "4" * 40, "5" * 40)],
     Kind.MIXED, "pr.mixed"),
    ([Change("D", PATH, REGULAR_FILE, NO_FILE, "2" * 40, "0" * 40)], Kind.MODIFY,
     "action.immutable"),
    ([Change("A", PATH, NO_FILE, SYMLINK, "0" * 40, "2" * 40)], Kind.INVALID,
     "action.not-regular-file"),
    ([Change("A", "actions/fix/x.yaml", NO_FILE, REGULAR_FILE, "0" * 40, "2" * 40)],
     Kind.INVALID, "action.path"),
    ([Change("A", PATH, NO_FILE, REGULAR_FILE, "0" * 40, "2" * 40),
      Change("A", PATH.replace("0900Z", "0901Z"), NO_FILE, REGULAR_FILE, "0" * 40, "3" * 40)],
     Kind.ACTION, "action.multiple"),
])
def test_an_action_goes_alone_in_its_pull_request(changes: list[Change], kind: Kind,
                                                  code: str) -> None:
    shape = classify(changes)
    assert shape.kind is kind and [f.code for f in shape.findings] == [code]


@pytest.mark.parametrize(("extra", "expected"), [
    ("    broken: {sql: UPDAT x}\n", "action.runbook-sql: runbook 'broken': PostgreSQL's "
     "parser rejects the sql: syntax error at or near \"UPDAT\", at index 0; placeholders "
     "are written :name"),
    ("    loose: {params: {a: {type: text}}, sql: 'UPDATE t SET x = :b WHERE id = 1'}\n",
     "action.runbook-sql: runbook 'loose': placeholder :b names no parameter; declare it "
     "under params"),
    ("    commit: {sql: 'UPDATE t SET x = 1 WHERE id = 1; COMMIT'}\n",
     "action.runbook-sql: runbook 'commit': transaction control (BEGIN, COMMIT, ROLLBACK, "
     "SAVEPOINT) is not allowed: an action runs in one transaction that gitjit commits or "
     "rolls back (the row guard needs it)"),
    ("    prog: {params: {p: {type: text}}, argv: ['{p}', x]}\n", "action.runbook-argv: "
     "runbook 'prog': the program '{p}' holds a placeholder; the program is always written "
     "out, only arguments take values"),
    ("    both: {sql: SELECT 1, argv: [ls]}\n", "action.runbook: runbook 'both' needs exactly "
     "one of 'sql' (PostgreSQL) and 'argv' (the command target)"),
])
def test_a_runbook_the_policy_cannot_use_is_a_configuration_error(extra: str,
                                                                  expected: str) -> None:
    policy = POLICY.replace("  sql:\n    allow", extra + "  sql:\n    allow")
    result = config(policy)
    assert result.config is None
    assert expected in [f"{f.code}: {f.message}" for f in result.findings]


# -- records and output -------------------------------------------------------------------

def _record(event: Event, seq: int = 0) -> Record:
    return Record(event=event, grant_id=GrantId("actions/fix/bob-20261130T0900Z"),
                  policy="fix", requester="bob", at=NOW, engine_version="1.0",
                  action=ActionRun("a" * 64, "UPDATE t SET a = $1  -- $1=\"x\"", rows=1),
                  detail="" if event in (Event.STARTED, Event.COMPLETED) else "why")


def test_action_records_round_trip_and_older_records_keep_their_bytes() -> None:
    started = chain(_record(Event.STARTED), None)
    assert parse_record(to_json(started)) == started
    grant = Record(event=Event.ALERT, grant_id=GrantId("fix/bob-20261130T0900Z"), policy="fix",
                   requester="bob", at=NOW, engine_version="1.0", detail="x")
    assert b'"action"' not in to_json(chain(grant, None))
    with pytest.raises(ValueError, match="a started record needs the action it ran"):
        Record(event=Event.STARTED, grant_id=GrantId("actions/fix/bob-20261130T0900Z"),
               policy="fix", requester="bob", at=NOW, engine_version="1.0")
    with pytest.raises(ValueError, match="only action records"):
        Record(event=Event.ALERT, grant_id=GrantId("fix/bob-20261130T0900Z"), policy="fix",
               requester="bob", at=NOW, engine_version="1.0", detail="x",
               action=ActionRun("a" * 64, "x"))
    broken = to_json(started).replace(b'"rows":1', b'"rows":"1"')
    assert broken != to_json(started)
    with pytest.raises(RecordError, match="field 'rows' must be a whole number"):
        parse_record(broken)


def test_an_action_has_one_outcome_whichever_event_it_is() -> None:
    assert record_key(_record(Event.COMPLETED)) == record_key(_record(Event.UNKNOWN))
    assert record_key(_record(Event.STARTED)) != record_key(_record(Event.COMPLETED))


def test_output_is_redacted_before_it_is_digested_kept_or_shown() -> None:
    output = ("token=abc123456 PASSWORD: 'hunter2 and more' ok\n"
              "postgresql://app:s3cret@db/x Bearer eyJhbGciOiJIUzI1NiJ9.payload\n"
              "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
              "the dsn secret-from-env is here\n")
    clean = redact(output, ["secret-from-env"])
    for secret in ("abc123456", "hunter2", "s3cret", "eyJhbGci", "AAAA", "secret-from-env"):
        assert secret not in clean
    assert "token=[redacted]" in clean and "postgresql://app:[redacted]@db/x" in clean
    run = sealed_run("a" * 64, "x", ActionResult("completed", timedelta(seconds=1),
                                                  output=output * 100), ["secret-from-env"])
    assert len(run.excerpt) <= 2000 and "more characters not kept" in run.excerpt
    assert "hunter2" not in run.excerpt


def test_the_request_model_keeps_the_values_as_written() -> None:
    request_ = ActionRequest(ActionId("actions/fix/bob-20261130T0900Z"), PATH, PolicyId("fix"),
                             Login("bob"), "why", params=(("order_id", "0042"),))
    assert dict(request_.params) == {"order_id": "0042"}
    assert Path(PATH).suffix == ".yaml"


def test_notifications_name_the_action_and_its_outcome() -> None:
    from engine.core.messages import from_record
    from engine.reporters.messages import markdown

    def render(record: Record) -> tuple[str, str]:
        message = from_record(record)
        return message.title, markdown(message)

    title, body = render(chain(_record(Event.COMPLETED), None))
    assert title == "gitjit: completed actions/fix/bob-20261130T0900Z"
    assert "**Action actions/fix/bob-20261130T0900Z ran and completed.**" in body
    assert "- plan digest: " + "a" * 64 in body and "- rows changed: 1" in body
    alert = Record(event=Event.ALERT, grant_id=GrantId("actions/fix/bob-20261130T0900Z"),
                   policy="fix", requester="bob", at=NOW, engine_version="1.0",
                   code="action.outcome-unknown", subject="action.outcome-unknown",
                   detail="no outcome was recorded")
    title, body = render(chain(alert, None))
    assert title == ("gitjit: alert (alert action.outcome-unknown) "
                     "actions/fix/bob-20261130T0900Z")
    assert "the outcome of action actions/fix/bob-20261130T0900Z is unknown" in body
