"""Targets checked before merge: each policy's target and each settings connection against the
schemas of the installed target plugins.

Pure: the command layer finds the installed providers (``engine.targets.registry.catalog``)
and hands them over as a ``Catalog``; nothing here imports, loads or reads anything. The
schemas come from the installed plugins only, never from the repository, so a pull request
can change which provider a policy names but never what a provider accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.core import schema
from engine.core.findings import Finding, Severity
from engine.core.strictyaml import Document, KeyPath

EXPIRY_KINDS: Mapping[str, str] = {
    "target": "the target itself ends access at the grant's end",
    "gitjit": "gitjit's reconcile ends access; the target cannot",
    "depends": "the settings say whether the target ends access itself; each grant records "
               "which",
}
"""What a plugin's ``EXPIRY`` may say, and what each means."""

RESERVED = ("provider", "connection")
"""Keys of a policy's target that gitjit itself reads; the plugin's schema never sees them."""


@dataclass(frozen=True)
class Provider:
    """One installed target provider, as its plugin class declares it."""

    name: str
    source: str
    """Where it comes from: 'built-in (gitjit 0.9.0)' or the package, 'gitjit-vault 0.1.0'."""
    target_schema: Mapping[str, Any] | None = None
    """JSON Schema of a policy's target without provider and connection; None: not declared."""
    connection_schema: Mapping[str, Any] | None = None
    """JSON Schema of a settings connection without provider; None: not declared."""
    expiry: str | None = None
    """'target', 'gitjit' or 'depends' (see EXPIRY_KINDS); None: not declared."""
    holders: bool = False
    """Whether it lists everyone holding a privilege (drift detection)."""
    problem: str = ""
    """Why it cannot be used ('' when it can): it fails to load, or declares nonsense."""
    fix: str = ""
    """How to fix ``problem``."""

    @property
    def undeclared(self) -> tuple[str, ...]:
        """The class attributes of the convention this plugin does not declare."""
        return tuple(name for name, value in (("TARGET_SCHEMA", self.target_schema),
                                              ("CONNECTION_SCHEMA", self.connection_schema),
                                              ("EXPIRY", self.expiry)) if value is None)


@dataclass(frozen=True)
class Catalog:
    """The installed providers, and how to install the ones gitjit knows of but lacks."""

    providers: Mapping[str, Provider]
    missing: Mapping[str, str] = field(default_factory=dict)
    """gitjit's own providers that are not installed, each with the command that installs it
    (``pip install 'gitjit[entra]'``)."""

    def installed(self) -> str:
        return ", ".join(sorted(self.providers)) or "none"


def check(policies: Sequence[Document], settings: Document | None,
          catalog: Catalog) -> list[Finding]:
    """Findings for every policy target and every settings connection: unknown or unusable
    providers, a policy whose provider differs from its connection's, parameters that do
    not fit the provider's schemas (each at the offending key's line), and plugins that
    declare no schemas (a warning: what they accept is found out only at activation)."""
    connections = _connections(settings)
    findings: list[Finding] = []
    if settings is not None:
        for name, connection in connections.items():
            findings += _check_connection(settings, name, connection, catalog)
    for doc in policies:
        findings += _check_policy(doc, connections, settings, catalog)
    return findings


def assignment_problems(provider: Provider, params: Mapping[str, str],
                        connection: Mapping[str, str]) -> list[str]:
    """Why a grant's target params or connection do not fit the provider's schemas: the same
    rules as ``check``, for the moment a grant is applied (no file, no line)."""
    out: list[str] = []
    for schema_, value, prefix in (
            (provider.target_schema, _without(params, RESERVED), ("target",)),
            (provider.connection_schema, _without(connection, ("provider",)), ("connection",))):
        if schema_ is not None:
            try:
                out += [p.message for p in schema.problems(value, schema_, prefix)]
            except schema.UnusableSchemaError as exc:
                out.append(f"{provider.name}'s schema cannot be used: {exc}")
    return out


# -- connections -------------------------------------------------------------------------

def _connections(settings: Document | None) -> dict[str, dict[str, str]]:
    data = settings.data if settings is not None else None
    raw: Any = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {name: dict(value) for name, value in raw.items() if isinstance(value, dict)}


def _check_connection(settings: Document, name: str, connection: Mapping[str, str],
                      catalog: Catalog) -> list[Finding]:
    keys: KeyPath = ("connections", name)
    provider, findings = _resolve(settings, (*keys, "provider"), connection.get("provider", ""),
                                  catalog, f" (connection {name!r})")
    if provider is None:
        return findings
    return findings + _validate(
        settings, keys, _without(connection, ("provider",)), provider.connection_schema,
        provider, f"connection {name!r}",
        f"see the settings a {provider.name} connection takes with 'gitjit targets "
        f"{provider.name}'")


# -- policies ----------------------------------------------------------------------------

def _check_policy(doc: Document, connections: Mapping[str, Mapping[str, str]],
                  settings: Document | None, catalog: Catalog) -> list[Finding]:
    data = doc.data if isinstance(doc.data, dict) else {}
    target: Any = data.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("provider"), str):
        return []  # the policy schema reports it
    name: str = target["provider"]
    provider, findings = _resolve(doc, ("target", "provider"), name, catalog, "")
    settings_path = settings.path if settings is not None else "policies/settings.yaml"
    connection = target.get("connection")
    # An unknown provider differs from every other: its own finding says enough.
    if connection is not None and connection in connections:
        theirs = connections[connection].get("provider", "")
        if theirs != name and {name, theirs} <= set(catalog.providers):
            line = settings.line("connections", connection, "provider") if settings else 0
            findings.append(Finding(doc.path, doc.line("target", "provider"),
                "target.provider-mismatch",
                f"the target's provider {name!r} differs from the provider {theirs!r} of its "
                f"connection {connection!r} ({settings_path}:{line}); gitjit would hand the "
                f"grant to the {theirs!r} plugin: name a {name} connection, or fix the "
                "provider on one side"))
            return findings
    if provider is None:
        return findings
    findings += _validate(doc, ("target",), _without(target, RESERVED), provider.target_schema,
                          provider, "target",
                          f"see the parameters a {provider.name} target takes with 'gitjit "
                          f"targets {provider.name}'")
    if connection is None and provider.connection_schema is not None:
        try:
            bare = schema.problems({}, provider.connection_schema)
        except schema.UnusableSchemaError:
            bare = []  # reported with the target's own schema or the provider's connection
        if bare:
            findings.append(Finding(doc.path, doc.line("target"), "target.invalid",
                f"the target names no connection, and a {provider.name} connection needs "
                f"settings ({bare[0].message.removeprefix('$: ')}); add 'connection: NAME' "
                f"naming one under connections in {settings_path}"))
    return findings


# -- shared ------------------------------------------------------------------------------

def _resolve(doc: Document, keys: KeyPath, name: str, catalog: Catalog,
             what: str) -> tuple[Provider | None, list[Finding]]:
    """The installed provider called ``name``, or a finding saying why there is none."""
    provider = catalog.providers.get(name)
    line = doc.line(*keys)
    # ``what`` is empty for a policy's target (its file says whose), else " (connection 'x')".
    if provider is None:
        installed = f"installed here: {catalog.installed()} ('gitjit targets' lists them)"
        if name in catalog.missing:
            message = (f"target provider {name!r}{what} is not installed; it is one of "
                       f"gitjit's own targets: install it with {catalog.missing[name]}; "
                       f"{installed}")
        else:
            close = difflib.get_close_matches(name, sorted(catalog.providers), n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            message = (f"unknown target provider {name!r}{what}; {guess}{installed}. Fix the "
                       "name, or install the package that provides it")
        return None, [Finding(doc.path, line, "target.unknown-provider", message)]
    if provider.problem:
        return None, [Finding(doc.path, line, "target.unavailable",
            f"target provider {name!r} ({provider.source}) is installed but cannot be used: "
            f"{provider.problem}; {provider.fix}")]
    return provider, []


def _validate(doc: Document, keys: KeyPath, value: Mapping[str, str],
              schema_: Mapping[str, Any] | None, provider: Provider, what: str,
              fix: str) -> list[Finding]:
    if schema_ is None:
        kind = "TARGET_SCHEMA" if keys == ("target",) else "CONNECTION_SCHEMA"
        return [Finding(doc.path, doc.line(*keys), "target.unchecked",
            f"target provider {provider.name!r} ({provider.source}) declares no {kind}, so "
            "these settings are checked only when a grant is applied; ask the plugin's "
            "authors to declare one (docs/targets.md)", Severity.WARNING)]
    try:
        found = schema.problems(value, schema_, keys, suggest=True)
    except schema.UnusableSchemaError as exc:
        return [Finding(doc.path, doc.line(*keys), "target.unavailable",
            f"target provider {provider.name!r} ({provider.source}) cannot check {what}: "
            f"{exc}; report it to the plugin's authors")]
    return [Finding(doc.path, doc.line(*p.path), "target.invalid",
                    f"{provider.name} {what}: {p.message}; {fix}") for p in found]


def _without(mapping: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    return {k: v for k, v in mapping.items() if k not in keys}
