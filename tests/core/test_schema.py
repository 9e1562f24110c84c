"""engine.core.schema: findings with codes, lines and whole messages for every kind."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.core.findings import Finding
from engine.core.schema import KINDS, SchemaSet, check_schemas, validate
from engine.core.strictyaml import Document, KeyPath, Value

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
SCHEMAS: SchemaSet = {
    kind: json.loads((SCHEMAS_DIR / f"{kind.lower()}.schema.json").read_text("utf-8"))
    for kind in KINDS
}
ALL = frozenset(KINDS)


def numbered(path: str, data: Value) -> Document:
    """A Document as if every node stood on its own line, in order (the root on line 1)."""
    lines: dict[KeyPath, int] = {(): 1}
    counter = 0

    def walk(node: Value, at: KeyPath) -> None:
        nonlocal counter
        children = (
            list(node.items()) if isinstance(node, dict)
            else list(enumerate(node)) if isinstance(node, list) else []
        )
        for key, child in children:
            counter += 1
            lines[(*at, key)] = counter
            walk(child, (*at, key))

    walk(data, ())
    return Document(path, data, lines)


def rendered(findings: list[Finding]) -> list[str]:
    return [f.render() for f in findings]


GRANT_PATH = "grants/prod-db-admin/bob-20261127T0912Z.yaml"


def grant(**changes: Value) -> dict[str, Value]:
    data: dict[str, Value] = {
        "apiVersion": "gitjit/v1",
        "kind": "Grant",
        "policy": "prod-db-admin",
        "requester": "bob",
        "duration": "2h",
        "justification": "Replication lag on the orders primary (INC-1234)",
        "ticket": "INC-1234",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "<drop>"}


def policy(**changes: Value) -> dict[str, Value]:
    data: dict[str, Value] = {
        "apiVersion": "gitjit/v1",
        "kind": "Policy",
        "id": "prod-db-admin",
        "description": "Superuser on the orders database",
        "target": {"provider": "postgres", "role": "orders_admin"},
        "requesters": ["group:sre"],
        "approvals": [{"from": ["group:dba"], "count": "1"}],
        "duration": {"default": "1h", "max": "4h"},
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "<drop>"}


DURATION_HINT = (
    "is not a duration; write a duration such as 30m, 2h, 1h30m, 1d or PT2H (no months or years)"
)
GRANT_KEYS = (
    "apiVersion, break_glass, duration, extends, justification, kind, policy, requester, "
    "start, ticket"
)

# (name, document, expected rendered findings); lines count nodes in order (see numbered()).
CASES: list[tuple[str, Document, list[str]]] = [
    (
        "grant: duration outside the grammar",
        numbered(GRANT_PATH, grant(duration="48x")),
        [f"{GRANT_PATH}:5: schema.invalid: $.duration: '48x' {DURATION_HINT}"],
    ),
    (
        "grant: months are not a duration",
        numbered(GRANT_PATH, grant(duration="P1M")),
        [f"{GRANT_PATH}:5: schema.invalid: $.duration: 'P1M' {DURATION_HINT}"],
    ),
    (
        "grant: empty duration",
        numbered(GRANT_PATH, grant(duration="")),
        [f"{GRANT_PATH}:5: schema.invalid: $.duration: '' {DURATION_HINT}"],
    ),
    (
        "grant: a misspelt key is named, at its own line, with the allowed keys",
        numbered(GRANT_PATH, grant(durration="2h")),
        [
            f"{GRANT_PATH}:8: schema.invalid: $: unexpected key 'durration'; "
            f"did you mean 'duration'? allowed keys: {GRANT_KEYS}"
        ],
    ),
    (
        "grant: a missing required key is reported at the root",
        numbered(GRANT_PATH, grant(justification="<drop>")),
        [f"{GRANT_PATH}:1: schema.invalid: $: missing required key 'justification'"],
    ),
    (
        "grant: a timestamp without an offset",
        numbered(GRANT_PATH, grant(start="2026-11-27T09:00:00")),
        [
            f"{GRANT_PATH}:8: schema.invalid: $.start: '2026-11-27T09:00:00' is not an RFC 3339 "
            "timestamp with an offset; write one such as 2026-11-27T09:00:00Z"
        ],
    ),
    (
        "grant: a date that does not exist",
        numbered(GRANT_PATH, grant(start="2026-02-30T09:00:00Z")),
        [
            f"{GRANT_PATH}:8: schema.invalid: $.start: '2026-02-30T09:00:00Z' is not an RFC "
            "3339 timestamp with an offset; write one such as 2026-11-27T09:00:00Z"
        ],
    ),
    (
        "grant: YAML 1.1 booleans stay strings and are not booleans",
        numbered(GRANT_PATH, grant(break_glass="yes")),
        [
            f"{GRANT_PATH}:8: schema.invalid: $.break_glass: 'yes' is not a boolean; "
            "write true or false"
        ],
    ),
    (
        "grant: a list where text belongs is reported once",
        numbered(GRANT_PATH, grant(break_glass=["true"])),
        [
            f"{GRANT_PATH}:8: schema.invalid: $.break_glass: found a list where text is "
            "expected; write true or false"
        ],
    ),
    (
        "grant: a long value is shortened in the message",
        numbered(GRANT_PATH, grant(ticket="", policy="x" * 100)),
        [
            f"{GRANT_PATH}:3: schema.invalid: $.policy: '{'x' * 57}...' is not a policy id; "
            "use lower-case letters, digits and hyphens, starting with a letter or digit, at "
            "most 63 characters",
            f"{GRANT_PATH}:7: schema.invalid: $.ticket: '' must be non-empty text",
        ],
    ),
    (
        "grant: a login with a leading hyphen",
        numbered(GRANT_PATH, grant(requester="-bob")),
        [
            f"{GRANT_PATH}:4: schema.invalid: $.requester: '-bob' is not a GitHub login; use "
            "ASCII letters, digits and single hyphens, at most 39 characters"
        ],
    ),
    (
        "grant: extends is not a grant id",
        numbered(GRANT_PATH, grant(extends="bob-yesterday")),
        [
            f"{GRANT_PATH}:8: schema.invalid: $.extends: 'bob-yesterday' is not a grant id; "
            "write <policy>/<requester>-<YYYYMMDDTHHMMZ>, e.g. prod-db-admin/bob-20261127T0912Z"
        ],
    ),
    (
        "grant: every error is reported, sorted by line",
        numbered(GRANT_PATH, grant(policy="Prod DB", duration="forever")),
        [
            f"{GRANT_PATH}:3: schema.invalid: $.policy: 'Prod DB' is not a policy id; use "
            "lower-case letters, digits and hyphens, starting with a letter or digit, at most "
            "63 characters",
            f"{GRANT_PATH}:5: schema.invalid: $.duration: 'forever' {DURATION_HINT}",
        ],
    ),
    (
        "policy: a count of zero",
        numbered("policies/prod-db-admin.yaml", policy(
            approvals=[{"from": ["group:dba"], "count": "0"}])),
        [
            "policies/prod-db-admin.yaml:14: schema.invalid: $.approvals[0].count: '0' is not a "
            "whole number from 1 to 9999; write a number such as 1"
        ],
    ),
    (
        "policy: target without provider and with a key that is not snake_case",
        numbered("policies/prod-db-admin.yaml", policy(target={"Role": "x"})),
        [
            "policies/prod-db-admin.yaml:5: schema.invalid: $.target: missing required key "
            "'provider'",
            "policies/prod-db-admin.yaml:6: schema.invalid: $.target: unexpected key 'Role'; "
            "allowed keys: provider, or keys matching ^[a-z][a-z0-9_]*$",
        ],
    ),
    (
        "policy: provider-specific target keys are allowed",
        numbered("policies/entra-user-admin.yaml", policy(target={
            "provider": "entra", "role_id": "fe930be7", "directory_scope": "/"})),
        [],
    ),
    (
        "policy: no requesters",
        numbered("policies/prod-db-admin.yaml", policy(requesters=[])),
        [
            "policies/prod-db-admin.yaml:8: schema.invalid: $.requesters: the list must not be "
            "empty"
        ],
    ),
    (
        "policy: a principal of an unknown kind",
        numbered("policies/prod-db-admin.yaml", policy(requesters=["team:sre"])),
        [
            "policies/prod-db-admin.yaml:9: schema.invalid: $.requesters[0]: 'team:sre' is not "
            "a principal; write user:LOGIN, group:NAME (group names: lower-case letters, "
            "digits, '-' and '_') or team:ORG/SLUG (team slugs: lower-case letters, digits, "
            "'-', '_' and '.')"
        ],
    ),
    (
        "policy: team principals",
        numbered("policies/prod-db-admin.yaml", policy(requesters=[
            "team:acme/sre", "team:Acme-Corp/db.admins_2-x", "user:bob", "group:sre"])),
        [],
    ),
    (
        "policy: a team principal without a slug, and with an upper-case or dotted slug",
        numbered("policies/prod-db-admin.yaml", policy(requesters=[
            "team:acme", "team:acme/DBA", "team:acme/..", "team:acme/a/b"])),
        [
            f"policies/prod-db-admin.yaml:{line}: schema.invalid: $.requesters[{index}]: "
            f"'{text}' is not a principal; write user:LOGIN, group:NAME (group names: "
            "lower-case letters, digits, '-' and '_') or team:ORG/SLUG (team slugs: lower-case "
            "letters, digits, '-', '_' and '.')"
            for index, (line, text) in enumerate([
                (9, "team:acme"), (10, "team:acme/DBA"), (11, "team:acme/.."),
                (12, "team:acme/a/b")])
        ],
    ),
    (
        "policy: duration without max",
        numbered("policies/prod-db-admin.yaml", policy(duration={"default": "1h"})),
        [
            "policies/prod-db-admin.yaml:15: schema.invalid: $.duration: missing required key "
            "'max'"
        ],
    ),
    (
        "policy: a weekday written out and a bad time range",
        numbered("policies/prod-db-admin.yaml", policy(active_hours={
            "days": ["monday"], "between": "7-19", "timezone": "Europe/Berlin"})),
        [
            "policies/prod-db-admin.yaml:20: schema.invalid: $.active_hours.days[0]: 'monday' "
            "is not a weekday; write mon, tue, wed, thu, fri, sat or sun",
            "policies/prod-db-admin.yaml:21: schema.invalid: $.active_hours.between: '7-19' is "
            "not a time range; write HH:MM-HH:MM such as 07:00-19:00",
        ],
    ),
    (
        "policy: one of several windows of active hours is wrong",
        numbered("policies/prod-db-admin.yaml", policy(active_hours=[
            {"days": ["mon"], "between": "07:00-19:00", "timezone": "UTC"},
            {"days": ["sat"], "between": "22-06", "timezone": "UTC", "tz": "UTC"}])),
        [
            "policies/prod-db-admin.yaml:27: schema.invalid: $.active_hours[1].between: "
            "'22-06' is not a time range; write HH:MM-HH:MM such as 07:00-19:00",
            "policies/prod-db-admin.yaml:29: schema.invalid: $.active_hours[1]: unexpected key "
            "'tz'; allowed keys: between, days, timezone",
        ],
    ),
    (
        "policy: a ticket pattern that is not a regular expression",
        numbered("policies/prod-db-admin.yaml", policy(ticket={
            "required": "true", "pattern": "^(INC"})),
        [
            "policies/prod-db-admin.yaml:20: schema.invalid: $.ticket.pattern: '^(INC' is not "
            "a valid regular expression"
        ],
    ),
    (
        "groups: a bad group name and a login with an underscore",
        numbered("policies/groups.yaml", {
            "apiVersion": "gitjit/v1", "kind": "Groups",
            "groups": {"SRE Team": ["alice"], "dba": ["dave_x"]},
        }),
        [
            "policies/groups.yaml:4: schema.invalid: $.groups: key 'SRE Team' is not a group "
            "name; use lower-case letters, digits, '-' and '_', at most 63 characters",
            "policies/groups.yaml:7: schema.invalid: $.groups.dba[0]: 'dave_x' is not a GitHub "
            "login; use ASCII letters, digits and single hyphens, at most 39 characters",
        ],
    ),
    (
        "groups: groups must be a mapping",
        numbered("policies/groups.yaml", {
            "apiVersion": "gitjit/v1", "kind": "Groups", "groups": ["alice"]}),
        [
            "policies/groups.yaml:3: schema.invalid: $.groups: found a list where a mapping is "
            "expected"
        ],
    ),
    (
        "settings: a secret written in the file instead of an environment variable name",
        numbered("policies/settings.yaml", {
            "apiVersion": "gitjit/v1", "kind": "Settings",
            "connections": {"orders-prod": {"provider": "postgres", "password_env": "hunter2"}},
            "removal": "delete",
        }),
        [
            "policies/settings.yaml:6: schema.invalid: $.connections['orders-prod']"
            ".password_env: 'hunter2' is not an environment variable name; use upper-case "
            "letters, digits and '_', e.g. TEAMS_WEBHOOK_URL",
            "policies/settings.yaml:7: schema.invalid: $.removal: 'delete' is not a removal "
            "mode; write push or pull-request",
        ],
    ),
    (
        "settings: a channel must name its URL's environment variable",
        numbered("policies/settings.yaml", {
            "apiVersion": "gitjit/v1", "kind": "Settings",
            "notify": {"sre-teams": {"url": "https://example.invalid/hook"}},
        }),
        [
            "policies/settings.yaml:4: schema.invalid: $.notify['sre-teams']: missing "
            "required key 'url_env'",
            "policies/settings.yaml:5: schema.invalid: $.notify['sre-teams']: unexpected key "
            "'url'; did you mean 'url_env'? allowed keys: description, url_env",
        ],
    ),
    (
        "settings: an empty file (only the header) is valid",
        numbered("policies/settings.yaml", {"apiVersion": "gitjit/v1", "kind": "Settings"}),
        [],
    ),
    (
        "policytest: no cases",
        numbered("policies/tests/t.yaml", {
            "apiVersion": "gitjit/v1", "kind": "PolicyTest", "cases": []}),
        ["policies/tests/t.yaml:3: schema.invalid: $.cases: the list must not be empty"],
    ),
    (
        "policytest: bad review state, decision, finding code and a header inside the grant",
        numbered("policies/tests/t.yaml", {
            "apiVersion": "gitjit/v1", "kind": "PolicyTest",
            "cases": [{
                "name": "x",
                "now": "2026-11-30T09:00:00Z",
                "grant": {
                    "kind": "Grant", "policy": "p", "requester": "bob", "duration": "1h",
                    "justification": "because",
                },
                "reviews": [{"reviewer": "dependabot[bot]", "state": "approve", "bot": "true"}],
                "expect": {"decision": "ok", "findings": ["missing"]},
            }],
        }),
        [
            "policies/tests/t.yaml:8: schema.invalid: $.cases[0].grant: unexpected key 'kind'; "
            "allowed keys: break_glass, duration, extends, justification, policy, requester, "
            "start, ticket",
            "policies/tests/t.yaml:16: schema.invalid: $.cases[0].reviews[0].state: 'approve' "
            "is not a review state; write APPROVED, CHANGES_REQUESTED, DISMISSED or COMMENTED",
            "policies/tests/t.yaml:19: schema.invalid: $.cases[0].expect.decision: 'ok' is not "
            "a decision; write approved, pending or denied",
            "policies/tests/t.yaml:21: schema.invalid: $.cases[0].expect.findings[0]: "
            "'missing' is not a finding code; write one such as approval.missing",
        ],
    ),
    (
        "policytest: now is required and must carry an offset",
        numbered("policies/tests/t.yaml", {
            "apiVersion": "gitjit/v1", "kind": "PolicyTest",
            "cases": [{"name": "x", "grant": {
                "policy": "p", "requester": "bob", "duration": "1h", "justification": "j"},
                "existing": [{"path": "grants/p/bob-20261130T0800Z.yaml",
                              "activated_at": "2026-11-30 08:00", "grant": {
                                  "policy": "p", "requester": "bob", "duration": "1h",
                                  "justification": "j"}}],
                "expect": {"decision": "pending"}}],
        }),
        [
            "policies/tests/t.yaml:4: schema.invalid: $.cases[0]: missing required key 'now'",
            "policies/tests/t.yaml:14: schema.invalid: $.cases[0].existing[0].activated_at: "
            "'2026-11-30 08:00' is not an RFC 3339 timestamp with an offset; write one such as "
            "2026-11-27T09:00:00Z",
        ],
    ),
    (
        "wrong apiVersion stops validation",
        numbered(GRANT_PATH, grant(apiVersion="gitjit/v2", duration="48x")),
        [
            f"{GRANT_PATH}:1: schema.api-version: found apiVersion 'gitjit/v2'; write "
            "'apiVersion: gitjit/v1' as the first line"
        ],
    ),
    (
        "missing apiVersion",
        numbered(GRANT_PATH, grant(apiVersion="<drop>")),
        [
            f"{GRANT_PATH}:1: schema.api-version: found no apiVersion; write "
            "'apiVersion: gitjit/v1' as the first line"
        ],
    ),
    (
        "a root that is not a mapping",
        Document(GRANT_PATH, ["apiVersion", "gitjit/v1"], {(): 1}),
        [
            f"{GRANT_PATH}:1: schema.invalid: $: found a list; the file must be a mapping with "
            "apiVersion and kind"
        ],
    ),
    (
        "a root that is a plain string",
        Document(GRANT_PATH, "hello", {(): 1}),
        [
            f"{GRANT_PATH}:1: schema.invalid: $: found 'hello'; the file must be a mapping "
            "with apiVersion and kind"
        ],
    ),
]


@pytest.mark.parametrize(("name", "doc", "expected"), CASES, ids=[c[0] for c in CASES])
def test_findings(name: str, doc: Document, expected: list[str]) -> None:
    assert rendered(validate(doc, ALL, SCHEMAS)) == expected


def test_kind_must_belong_at_the_path() -> None:
    doc = numbered("policies/prod-db-admin.yaml", grant())
    assert rendered(validate(doc, frozenset({"Policy"}), SCHEMAS)) == [
        "policies/prod-db-admin.yaml:2: schema.kind: kind 'Grant' is not allowed at this path; "
        "a file here must be of kind Policy"
    ]


def test_unknown_kind_lists_the_expected_ones() -> None:
    doc = numbered("policies/x.yaml", {"apiVersion": "gitjit/v1", "kind": "Polcy"})
    expected = frozenset({"Policy", "Groups", "Settings", "PolicyTest"})
    assert rendered(validate(doc, expected, SCHEMAS)) == [
        "policies/x.yaml:2: schema.kind: kind 'Polcy' is an unknown kind; a file here must be "
        "of kind Policy or Groups or Settings or PolicyTest"
    ]


def test_missing_kind() -> None:
    doc = numbered(GRANT_PATH, grant(kind="<drop>"))
    assert rendered(validate(doc, frozenset({"Grant"}), SCHEMAS)) == [
        f"{GRANT_PATH}:1: schema.kind: no kind; write 'kind: Grant'"
    ]


def test_a_valid_grant_has_no_findings() -> None:
    doc = numbered(GRANT_PATH, grant(
        start="2026-11-27T10:00:00+01:00", break_glass="false",
        extends="prod-db-admin/bob-20261127T0712Z"))
    assert validate(doc, frozenset({"Grant"}), SCHEMAS) == []


@pytest.mark.parametrize(
    "duration", ["30m", "2h", "1h30m", "1d", "1d2h", "90s", "PT2H", "P1D", "P1DT2H", "PT1H30M"])
def test_durations_in_the_grammar_pass(duration: str) -> None:
    assert validate(numbered(GRANT_PATH, grant(duration=duration)), ALL, SCHEMAS) == []


@pytest.mark.parametrize(
    "stamp",
    ["2026-11-27T09:00:00", "2026-11-27", "2026-11-27 09:00:00Z", "27.11.2026 09:00",
     "2026-11-27T25:00:00Z", "2026-11-27T09:00:00+1:00", "2026-11-27t09:00:00z",
     "2026-11-27T09:00Z", "2026-11-27T09:00:00Z\n"])
def test_date_time_format_is_asserted(stamp: str) -> None:
    findings = validate(numbered(GRANT_PATH, grant(start=stamp)), ALL, SCHEMAS)
    assert [(f.line, f.code) for f in findings] == [(8, "schema.invalid")]


def test_missing_schema_for_the_kind() -> None:
    schemas = {k: v for k, v in SCHEMAS.items() if k != "Grant"}
    assert rendered(validate(numbered(GRANT_PATH, grant()), ALL, schemas)) == [
        "schemas/grant.schema.json: schema.unavailable: no schema for kind Grant; restore "
        "schemas/grant.schema.json"
    ]


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every path requested from it."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            requested.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_remote_ref_is_never_fetched(http_server: tuple[str, list[str]]) -> None:
    base, requested = http_server
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"duration": {"$ref": f"{base}/duration.json"}},
    }
    findings = validate(numbered(GRANT_PATH, grant()), ALL, {"Grant": schema})
    assert rendered(findings) == [
        f"schemas/grant.schema.json: schema.unavailable: the schema refers to "
        f"'{base}/duration.json', which is not inside it; gitjit never fetches remote schemas: "
        "inline the definition under $defs"
    ]
    assert requested == []


def test_the_shipped_schemas_pass_the_metaschema() -> None:
    assert check_schemas(SCHEMAS) == []


def test_every_schema_is_strict() -> None:
    """Every object closes its keys, and every property says what it is for."""

    def walk(node: object, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "object" and "additionalProperties" not in node:
                yield f"{where}: object without additionalProperties"
            for name, prop in node.get("properties", {}).items():
                if "description" not in prop:
                    yield f"{where}.{name}: no description"
            for key, child in node.items():
                yield from walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from walk(child, f"{where}[{index}]")

    problems = [p for kind, s in SCHEMAS.items() for p in walk(s, kind)]
    assert problems == []
    for kind, s in SCHEMAS.items():
        assert s["$id"] == f"https://gitjit.dev/schemas/v1/{kind.lower()}.schema.json"
        assert s["properties"]["apiVersion"]["const"] == "gitjit/v1"
        assert s["properties"]["kind"]["const"] == kind


def test_policytest_grants_have_the_grant_fields() -> None:
    """The PolicyTest's grant definition must not drift from the Grant schema."""
    in_test = SCHEMAS["PolicyTest"]["$defs"]["grant"]
    in_grant = {k: v for k, v in SCHEMAS["Grant"]["properties"].items()
                if k not in ("apiVersion", "kind")}
    assert in_test["properties"] == in_grant
    assert in_test["required"] == [
        k for k in SCHEMAS["Grant"]["required"] if k not in ("apiVersion", "kind")]
    for name in {v["$ref"].rsplit("/", 1)[-1] for v in in_grant.values()}:
        assert SCHEMAS["PolicyTest"]["$defs"][name] == SCHEMAS["Grant"]["$defs"][name]


def test_check_schemas_reports_broken_schemas() -> None:
    broken = dict(SCHEMAS)
    broken["Grant"] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                       "type": "strnig"}
    broken["Groups"] = {"$schema": "http://json-schema.org/draft-07/schema#"}
    del broken["Settings"]
    assert rendered(check_schemas(broken)) == [
        "schemas/groups.schema.json: schema.unavailable: $schema is "
        "'http://json-schema.org/draft-07/schema#'; gitjit schemas must declare "
        "'https://json-schema.org/draft/2020-12/schema'",
        "schemas/settings.schema.json: schema.unavailable: no schema for kind Settings; "
        "restore schemas/settings.schema.json",
        "schemas/grant.schema.json: schema.unavailable: not a valid JSON Schema at $.type: "
        "'strnig' is not valid under any of the given schemas",
    ]
