"""SQL judged by PostgreSQL's own parser (pglast, libpg_query): never by regular expressions.

Two uses. A runbook's template is split into statements and its ':name' placeholders become
``$1 .. $n`` parameters (found by PostgreSQL's scanner, so a ':' inside a string literal or a
'::' cast is never one), checked when the policy is loaded. A request's free-form SQL is
parsed and judged against the policy's ``sql`` rules: which statement classes, how many
statements, DDL, UPDATE and DELETE only with a WHERE that names a column, only listed
functions, and never a statement that controls the transaction, changes privileges or runs
code of its own (DO, CALL, COPY, SET ...). Every statement found anywhere in the tree counts,
so a DELETE hidden in a WITH of a SELECT is a DELETE.

The parser's judgement narrows what may be asked and catches mistakes; it is not a sandbox.
What protects the database is that exactly the shown statement runs, under the policy's
connection, after the policy's approvers saw it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.actions.model import StatementClass

INSTALL_HINT = "pip install 'gitjit[postgres]'"
_NAME = re.compile(r"[a-z_][a-z0-9_]*")

# What each statement node is, as people read it.
_DML = {"SelectStmt": ("SELECT", StatementClass.SELECT),
        "InsertStmt": ("INSERT", StatementClass.INSERT),
        "UpdateStmt": ("UPDATE", StatementClass.UPDATE),
        "DeleteStmt": ("DELETE", StatementClass.DELETE),
        "MergeStmt": ("MERGE", StatementClass.MERGE),
        "TruncateStmt": ("TRUNCATE", StatementClass.TRUNCATE)}
_DDL = {"CreateStmt": "CREATE TABLE", "CreateTableAsStmt": "CREATE TABLE AS",
        "IndexStmt": "CREATE INDEX", "ViewStmt": "CREATE VIEW", "AlterTableStmt": "ALTER TABLE",
        "DropStmt": "DROP", "RenameStmt": "RENAME", "CommentStmt": "COMMENT",
        "CreateSeqStmt": "CREATE SEQUENCE", "AlterSeqStmt": "ALTER SEQUENCE",
        "CreateSchemaStmt": "CREATE SCHEMA", "AlterObjectSchemaStmt": "ALTER ... SET SCHEMA",
        "CreateEnumStmt": "CREATE TYPE", "AlterEnumStmt": "ALTER TYPE",
        "CompositeTypeStmt": "CREATE TYPE", "CreateDomainStmt": "CREATE DOMAIN",
        "AlterDomainStmt": "ALTER DOMAIN", "CreateFunctionStmt": "CREATE FUNCTION",
        "CreateTrigStmt": "CREATE TRIGGER", "RuleStmt": "CREATE RULE",
        "ReindexStmt": "REINDEX", "ClusterStmt": "CLUSTER",
        "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
        "CreateStatsStmt": "CREATE STATISTICS"}
# Never in an action: they change who may do what, which is what grants are for.
_PRIVILEGE = {"GrantStmt": "GRANT/REVOKE", "GrantRoleStmt": "GRANT/REVOKE role",
              "CreateRoleStmt": "CREATE ROLE", "AlterRoleStmt": "ALTER ROLE",
              "AlterRoleSetStmt": "ALTER ROLE SET", "DropRoleStmt": "DROP ROLE",
              "AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES",
              "AlterOwnerStmt": "ALTER ... OWNER TO", "ReassignOwnedStmt": "REASSIGN OWNED",
              "DropOwnedStmt": "DROP OWNED", "CreatePolicyStmt": "CREATE POLICY",
              "AlterPolicyStmt": "ALTER POLICY", "SecLabelStmt": "SECURITY LABEL"}
# Never in an action either: they end or change the one transaction an action runs in.
_TRANSACTION = {"TransactionStmt": "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT)",
                "VariableSetStmt": "SET/RESET", "DiscardStmt": "DISCARD"}
_ALWAYS_DENIED = {**_PRIVILEGE, **_TRANSACTION}
TRANSACTION_LABELS = frozenset(_TRANSACTION.values())


class SqlParserMissing(Exception):
    """pglast is not installed: no SQL can be judged, so every SQL action is denied."""


def _pglast() -> Any:
    try:
        import pglast  # the optional extra gitjit[postgres]
        import pglast.visitors
    except ImportError as exc:
        raise SqlParserMissing(f"SQL is judged with PostgreSQL's own parser, pglast, which is "
                               f"not installed: {INSTALL_HINT}") from exc
    return pglast


class SqlSyntaxError(Exception):
    """PostgreSQL's parser rejects the text; the message is the parser's."""


@dataclass(frozen=True)
class Analysed:
    """One statement as the parser reads it."""

    text: str
    kind: str
    """The top-level statement, e.g. 'UPDATE' or 'CREATE INDEX'."""
    classes: frozenset[str]
    """Every statement class found anywhere in it: StatementClass values, 'ddl', or the
    label of a statement that is never allowed."""
    objects: tuple[str, ...]
    functions: tuple[str, ...]
    parameters: int = 0
    """How many $n parameters it holds."""
    problems: tuple[str, ...] = field(default=())
    """Rules every action statement must follow, broken: UPDATE without WHERE ..."""
    denied: tuple[str, ...] = field(default=())
    """Labels of statements that are never allowed in an action."""
    ddl: tuple[str, ...] = field(default=())
    """Labels of the DDL statements it holds."""


def split(text: str) -> list[str]:
    """The statements of ``text``, split at the ';' tokens of PostgreSQL's scanner (a ';'
    inside a string, a quoted name or a dollar-quoted body is no token of its own); every
    token belongs to a statement, so nothing written is ever dropped. SqlSyntaxError when the
    text cannot be scanned (an unterminated string ...)."""
    pglast = _pglast()
    try:
        tokens = list(pglast.parser.scan(text))
    except pglast.parser.ParseError as exc:
        raise SqlSyntaxError(str(exc)) from None
    statements: list[str] = []
    current: list[Any] = []
    for token in [*tokens, None]:
        if token is None or token.name == "ASCII_59":
            if current:
                statements.append(text[current[0].start:current[-1].end + 1].strip())
            current = []
        else:
            current.append(token)
    return statements


def placeholders(statement: str) -> tuple[str, list[str]]:
    """The statement with every ':name' placeholder replaced by ``$1 .. $n`` (one number per
    distinct name, in order of first use), and the names in that order."""
    pglast = _pglast()
    try:
        tokens = list(pglast.parser.scan(statement))
    except pglast.parser.ParseError as exc:
        raise SqlSyntaxError(str(exc)) from None
    names: list[str] = []
    out: list[str] = []
    cursor = 0
    for colon, word in zip(tokens, tokens[1:], strict=False):
        if colon.name != "ASCII_58" or word.start != colon.end + 1:
            continue
        name = statement[word.start:word.end + 1]
        if not _NAME.fullmatch(name):
            continue
        if name not in names:
            names.append(name)
        out.append(statement[cursor:colon.start])
        out.append(f"${names.index(name) + 1}")
        cursor = word.end + 1
    out.append(statement[cursor:])
    return "".join(out), names


def analyse(statement: str) -> Analysed:
    """Parse one statement and say what it is; SqlSyntaxError with the parser's reason."""
    pglast = _pglast()
    try:
        parsed = pglast.parse_sql(statement)
    except pglast.parser.ParseError as exc:
        raise SqlSyntaxError(str(exc)) from None
    if len(parsed) != 1:
        raise SqlSyntaxError(f"expected one statement, the parser found {len(parsed)}")
    walker = _Walker(pglast)
    walker(parsed)
    top = type(parsed[0].stmt).__name__
    ctes = walker.ctes
    objects = sorted({o for o in walker.objects if "." in o or o not in ctes})
    return Analysed(text=statement, kind=_label(top), classes=frozenset(walker.classes),
                    objects=tuple(objects), functions=tuple(sorted(walker.functions)),
                    parameters=walker.parameters, problems=tuple(walker.problems),
                    denied=tuple(dict.fromkeys(walker.denied)),
                    ddl=tuple(dict.fromkeys(walker.ddl)))


def _label(node: str) -> str:
    if node in _DML:
        return _DML[node][0]
    return _DDL.get(node) or _ALWAYS_DENIED.get(node) or _other(node)


def _other(node: str) -> str:
    # 'CopyStmt' -> 'COPY', 'VacuumStmt' -> 'VACUUM'; the parser's own name otherwise.
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", node.removesuffix("Stmt")).upper()


class _Walker:
    """Collects what every node of the tree says about the statement."""

    def __init__(self, pglast: Any) -> None:
        self.ast = pglast.ast
        self.classes: set[str] = set()
        self.objects: set[str] = set()
        self.functions: set[str] = set()
        self.ctes: set[str] = set()
        self.problems: list[str] = []
        self.denied: list[str] = []
        self.ddl: list[str] = []
        self.parameters = 0
        outer = self

        class Visitor(pglast.visitors.Visitor):  # type: ignore[misc]
            def visit(self, ancestors: Any, node: Any) -> None:
                outer.visit(node)

        self._visitor = Visitor()

    def __call__(self, tree: Any) -> None:
        self._visitor(tree)

    def visit(self, node: Any) -> None:
        name = type(node).__name__
        ast = self.ast
        if name in _DML:
            label, klass = _DML[name]
            self.classes.add(klass.value)
            if name in ("UpdateStmt", "DeleteStmt"):
                self._where(label, node.whereClause)
            if name == "SelectStmt" and node.intoClause is not None:
                self.classes.add("ddl")
                self.ddl.append("SELECT INTO (creates a table)")
        elif name.endswith("Stmt") and name in _DDL:
            self.classes.add("ddl")
            self.ddl.append(_DDL[name])
        elif name.endswith("Stmt") and name != "RawStmt":
            label = _ALWAYS_DENIED.get(name) or _other(name)
            self.classes.add(label)
            self.denied.append(label)
        if isinstance(node, ast.RangeVar):
            parts = [p for p in (node.catalogname, node.schemaname, node.relname) if p]
            self.objects.add(".".join(parts))
        elif isinstance(node, ast.FuncCall):
            self.functions.add(".".join(s.sval for s in node.funcname))
        elif isinstance(node, ast.CommonTableExpr):
            self.ctes.add(node.ctename)
        elif isinstance(node, ast.ParamRef):
            self.parameters = max(self.parameters, node.number)

    def _where(self, label: str, where: Any) -> None:
        if where is None:
            self.problems.append(f"{label} without WHERE changes every row")
            return
        columns: list[Any] = []
        _collect(self.ast, where, columns)
        if not columns:
            self.problems.append(f"{label} with a WHERE that names no column changes every "
                                 "row (or none)")


def _collect(ast: Any, node: Any, found: list[Any]) -> None:
    """Every ColumnRef below ``node`` (or a sub-select, which may name columns of its own)."""
    if isinstance(node, ast.ColumnRef | ast.SubLink):
        found.append(node)
        return
    if isinstance(node, list | tuple):
        for item in node:
            _collect(ast, item, found)
        return
    if isinstance(node, ast.Node):
        for slot in node.__slots__:
            _collect(ast, getattr(node, slot, None), found)
