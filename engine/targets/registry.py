"""Finds target plugins: the built-ins plus anything registered under ``gitjit.targets``.

A third-party package adds a target by declaring an entry point in its pyproject.toml::

    [project.entry-points."gitjit.targets"]
    vault = "gitjit_vault:VaultTarget"

The entry point names a factory: a callable (usually the class) taking the settings connection.
The factory's class attributes ``TARGET_SCHEMA``, ``CONNECTION_SCHEMA`` and ``EXPIRY`` (see
``engine.targets.base.TargetPlugin``) are read without making a plugin: ``catalog()`` hands
them to ``gitjit check``, the verdict and ``gitjit targets``. A factory may also declare
``REQUIRES``, the modules its plugin imports when it works: they are looked up without being
imported, and one that is missing counts as a failed import (the hint names the extra), so a
plugin can keep its client library out of the checks and still be reported as unusable where
that library is not installed.

Only what is installed in the running Python environment counts: nothing in an access
repository (or a pull request) can add a provider or change its schemas.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine import __version__
from engine.core.schema import DRAFT
from engine.core.targets import EXPIRY_KINDS, Catalog, Provider, assignment_problems
from engine.targets.base import (
    Assignment,
    ManagedAssignment,
    TargetError,
    TargetFactory,
    TargetPlugin,
    looks_like_plugin,
)

GROUP = "gitjit.targets"

# The built-ins are also registered as entry points by our own pyproject.toml; this table keeps
# them usable from a source checkout that was never pip-installed.
_BUILTINS: dict[str, str] = {
    "postgres": "engine.targets.postgres:PostgresTarget",
    "command": "engine.targets.command:CommandTarget",
    "recording": "engine.targets.recording:RecordingTarget",
    "entra": "engine.targets.entra:EntraTarget",
    "github-team": "engine.targets.github_team:GitHubTeamTarget",
    "aws": "engine.targets.aws:AwsTarget",
}

FIRST_PARTY: Mapping[str, str] = {
    "postgres": "pip install 'gitjit[postgres]'",
    "entra": "pip install 'gitjit[entra]'",
    "aws": "pip install 'gitjit[aws]'",
    "github-team": "pip install --upgrade gitjit",
}
"""gitjit's own providers and how to install each: the hint for one that is missing here (not
registered, or registered but without the optional extra its plugin REQUIRES or imports)."""

_PROTOCOL = ("native_expiry", "apply", "revoke", "list_managed")


def _registrations() -> dict[str, list[EntryPoint]]:
    """Every registration of every provider name, the built-ins first, duplicates kept."""
    found: dict[str, list[EntryPoint]] = {
        name: [EntryPoint(name=name, value=value, group=GROUP)]
        for name, value in _BUILTINS.items()
    }
    for ep in entry_points(group=GROUP):
        known = found.setdefault(ep.name, [])
        if all(k.value != ep.value for k in known):
            known.append(ep)
        elif ep.dist is not None and known[0].dist is None:
            known[0] = ep  # the same registration, now with the package it came from
    return found


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for name, eps in _registrations().items():
        # Two packages claiming one provider name would make the choice depend on install
        # order; a grant must never silently go to a different implementation.
        if len(eps) > 1:
            raise TargetError(_twice(name, eps))
        found[name] = eps[0]
    return found


def _twice(name: str, eps: list[EntryPoint]) -> str:
    return (f"target provider {name!r} is registered twice ({' and '.join(e.value for e in eps)})"
            "; uninstall one of the packages that provide it")


def known_providers() -> list[str]:
    """Every provider name that can be used in ``provider:``, sorted."""
    return sorted(_entry_points())


def load_factory(provider: str) -> TargetFactory:
    """The factory for ``provider``; a TargetError naming the known providers if unknown."""
    eps = _entry_points()
    ep = eps.get(provider)
    if ep is None:
        raise TargetError(
            f"unknown target provider {provider!r}; known providers: {', '.join(sorted(eps))}. "
            f"Fix the provider name or install the package that provides it "
            f"(it registers an entry point in the {GROUP!r} group)"
        )
    try:
        factory = _load(ep)
    except Exception as exc:  # a broken third-party plugin must not look like our bug
        raise TargetError(
            f"cannot load target provider {provider!r} from {ep.value}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not callable(factory):
        raise TargetError(f"target provider {provider!r} ({ep.value}) is not callable; "
                          f"the entry point must name a class or function taking the connection")
    return factory  # type: ignore[no-any-return]


# -- what plugins declare ------------------------------------------------------------------

def catalog() -> Catalog:
    """Every installed provider as its factory declares it, for the checks before merge.

    Never raises for one bad plugin: a plugin that cannot be loaded, is registered twice or
    declares something unusable is listed with its ``problem``, and only the policies and
    connections naming it fail."""
    providers: dict[str, Provider] = {}
    for name, eps in sorted(_registrations().items()):
        if len(eps) > 1:
            providers[name] = Provider(name, " and ".join(_source(e) for e in eps),
                                       problem=_twice(name, eps).split("; ")[0],
                                       fix="uninstall one of the packages that provide it")
        else:
            providers[name] = describe(name, eps[0])
    missing = {name: hint for name, hint in FIRST_PARTY.items() if name not in providers}
    return Catalog(providers, missing)


def describe(name: str, ep: EntryPoint) -> Provider:
    """What the entry point's factory declares, read from its attributes without calling it."""
    source = _source(ep)
    try:
        factory = _load(ep)
    except ImportError as exc:
        dist = _dist_name(ep)
        own = ep.value == _BUILTINS.get(name) or dist == "gitjit"
        fix = (f"install what it needs: {FIRST_PARTY[name]}" if own and name in FIRST_PARTY
               else f"install what it needs: pip install --force-reinstall '{dist}'" if dist
               else "reinstall the package that provides it, with its dependencies")
        return Provider(name, source, problem=f"cannot import {ep.value} ({exc})", fix=fix)
    except Exception as exc:
        return Provider(name, source, problem=f"cannot load {ep.value} ({type(exc).__name__}: "
                        f"{exc})", fix="reinstall the package, or report it to its authors")
    return declared(name, source, factory)


def _load(ep: EntryPoint) -> Any:
    """The entry point's factory, and a ModuleNotFoundError, as its import would raise, when
    a module it ``REQUIRES`` is not installed."""
    factory = ep.load()
    for module in _requires(factory) or ():
        if not _installed(module):
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    return factory


def _requires(factory: object) -> tuple[str, ...] | None:
    """The factory's ``REQUIRES`` (``()`` if it declares none), or None if it is unusable."""
    value = getattr(factory, "REQUIRES", ())
    if not isinstance(value, tuple | list) or not all(
            isinstance(m, str) and all(part.isidentifier() for part in m.split("."))
            for m in value):
        return None
    return tuple(value)


def _installed(module: str) -> bool:
    """Whether ``import module`` would find it, asked without importing it (for a dotted name
    importlib imports the parent packages, so plugins name top-level modules)."""
    if module in sys.modules:
        # Imported already; or None, an import blocked on purpose, which fails as missing.
        # (find_spec would raise ValueError for a module there without a __spec__.)
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package that is missing, or is not a package
        return False


def declared(name: str, source: str, factory: object) -> Provider:
    """The Provider a factory's class attributes declare, or one saying what is wrong."""
    def broken(problem: str) -> Provider:
        return Provider(name, source, problem=problem,
                        fix="report it to the plugin's authors (docs/targets.md says what a "
                            "plugin declares)")

    if not callable(factory):
        return broken("its entry point names something that cannot be called with a "
                      "connection")
    if isinstance(factory, type):
        lacking = [m for m in _PROTOCOL if not callable(getattr(factory, m, None))]
        if lacking:
            return broken(f"the class lacks {', '.join(lacking)} of the target protocol")
    schemas: dict[str, Mapping[str, Any] | None] = {}
    for attribute in ("TARGET_SCHEMA", "CONNECTION_SCHEMA"):
        value = getattr(factory, attribute, None)
        problem = _schema_problem(value)
        if problem:
            return broken(f"its {attribute} {problem}")
        schemas[attribute] = value
    if _requires(factory) is None:
        return broken(f"its REQUIRES is {getattr(factory, 'REQUIRES', None)!r}; it must be a "
                      "tuple of module names, e.g. ('psycopg',)")
    expiry = getattr(factory, "EXPIRY", None)
    if expiry is not None and expiry not in EXPIRY_KINDS:
        return broken(f"its EXPIRY is {expiry!r}; it must be one of "
                      f"{', '.join(map(repr, EXPIRY_KINDS))}")
    return Provider(name, source, target_schema=schemas["TARGET_SCHEMA"],
                    connection_schema=schemas["CONNECTION_SCHEMA"], expiry=expiry,
                    holders=callable(getattr(factory, "holders", None)))


def _schema_problem(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        return f"is a {type(value).__name__}, not a JSON Schema (a mapping)"
    if value.get("$schema", DRAFT) != DRAFT:
        return f"declares $schema {value.get('$schema')!r}; gitjit checks with {DRAFT!r}"
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        return f"is not a valid JSON Schema: {exc.message}"
    return ""


def _dist_name(ep: EntryPoint) -> str:
    return ep.dist.metadata["Name"] if ep.dist is not None else ""


def _source(ep: EntryPoint) -> str:
    if ep.value == _BUILTINS.get(ep.name):
        return f"built-in (gitjit {__version__})"
    if ep.dist is not None:
        return f"{_dist_name(ep)} {ep.dist.version}"
    return f"{ep.value} (package unknown)"


# -- making plugins ------------------------------------------------------------------------

class CheckedTarget:
    """A plugin whose ``apply`` first checks the grant's settings against the provider's
    schemas: what ``gitjit check`` and the verdict check before merge, checked again where it
    counts, so a configuration that bypassed them still grants nothing it does not mean.
    Revocation, listing and holders pass straight through: a schema never stops a revocation.
    """

    def __init__(self, plugin: TargetPlugin, provider: Provider) -> None:
        self.plugin = plugin
        self.provider = provider
        self.name = plugin.name

    def native_expiry(self, assignment: Assignment) -> bool:
        return self.plugin.native_expiry(assignment)

    def apply(self, assignment: Assignment) -> None:
        self.validate(assignment)
        self.plugin.apply(assignment)

    def validate(self, assignment: Assignment) -> None:
        """TargetError when the grant's target or connection does not fit the provider's
        schemas (what ``apply`` checks first; ``activate --dry-run`` asks it alone)."""
        where = f"{self.name} target: will not apply grant {assignment.grant_id}"
        if self.provider.problem:
            raise TargetError(f"{where}: the provider cannot be checked "
                              f"({self.provider.problem}); {self.provider.fix}")
        problems = assignment_problems(self.provider, dict(assignment.target.params),
                                       assignment.connection)
        if problems:
            raise TargetError(f"{where}: policy {assignment.policy}'s target or its connection "
                              f"does not fit the provider's schemas ({'; '.join(problems)}); "
                              "fix them ('gitjit check' says where)")

    def revoke(self, assignment: Assignment) -> None:
        self.plugin.revoke(assignment)

    def list_managed(self) -> list[ManagedAssignment]:
        return self.plugin.list_managed()

    def __getattr__(self, attribute: str) -> Any:
        # holders() and plugin-specific extras: present exactly when the plugin has them.
        return getattr(self.plugin, attribute)


def create_target(connection: Mapping[str, str]) -> TargetPlugin:
    """The plugin for a settings connection (its ``provider`` entry picks the plugin)."""
    provider = connection.get("provider")
    if not provider:
        raise TargetError("the connection has no 'provider'; add e.g. 'provider: postgres' to it "
                          "in policies/settings.yaml")
    factory = load_factory(provider)
    plugin = factory(connection)
    if not looks_like_plugin(plugin):
        raise TargetError(
            f"target provider {provider!r} returned {type(plugin).__name__}, which lacks the "
            f"target protocol (name, native_expiry, apply, revoke, list_managed)"
        )
    info = declared(provider, _source(_entry_points()[provider]), factory)
    return CheckedTarget(plugin, info)
