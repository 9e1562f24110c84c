"""gitjit targets: the target providers installed with this gitjit, and what each accepts."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.targets import EXPIRY_KINDS, Catalog, Provider
from engine.errors import UsageError
from engine.targets.registry import catalog

FORMATS = ("text", "json")
JSON_VERSION = 1
EXIT_OK = 0
EXIT_UNUSABLE = 1


@dataclass(frozen=True)
class TargetsOptions:
    provider: str | None
    """Show only this provider, with its full schemas."""
    format: str


def run(options: TargetsOptions) -> int:
    found = catalog()
    shown = list(found.providers.values())
    if options.provider is not None:
        shown = [_one(found, options.provider)]
    if options.format == "json":
        print(render_json(found, shown), end="")
    else:
        print(render_text(found, shown, full=options.provider is not None), end="")
    return EXIT_UNUSABLE if any(p.problem for p in shown) else EXIT_OK


def _one(found: Catalog, name: str) -> Provider:
    provider = found.providers.get(name)
    if provider is not None:
        return provider
    if name in found.missing:
        raise UsageError(f"target provider {name!r} is not installed; it is one of gitjit's own "
                         f"targets: install it with {found.missing[name]}")
    close = difflib.get_close_matches(name, sorted(found.providers), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    raise UsageError(f"unknown target provider {name!r}; {guess}installed here: "
                     f"{found.installed()}")


# -- json ----------------------------------------------------------------------------------

def render_json(found: Catalog, shown: list[Provider]) -> str:
    return json.dumps({
        "version": JSON_VERSION,
        "providers": [_provider_json(p) for p in shown],
        "not_installed": [{"name": name, "install": command}
                          for name, command in sorted(found.missing.items())],
    }, indent=2) + "\n"


def _provider_json(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name,
        "source": provider.source,
        "usable": not provider.problem,
        "problem": provider.problem or None,
        "fix": provider.fix or None,
        "expiry": provider.expiry,
        "holders": provider.holders,
        "target_schema": provider.target_schema,
        "connection_schema": provider.connection_schema,
    }


# -- text ----------------------------------------------------------------------------------

def render_text(found: Catalog, shown: list[Provider], full: bool) -> str:
    lines: list[str] = []
    for provider in shown:
        lines.append(f"{provider.name}  {provider.source}")
        if provider.problem:
            lines.append(f"  UNUSABLE:    {provider.problem}; {provider.fix}")
            continue
        expiry = (f"{provider.expiry} ({EXPIRY_KINDS[provider.expiry]})" if provider.expiry
                  else "not declared (each grant still records what the plugin says)")
        lines.append(f"  expiry:      {expiry}")
        lines.append("  drift:       " + ("holders() (reconcile can find access given outside "
                                         "gitjit)" if provider.holders else
                                         "no holders() (no drift detection)"))
        for label, schema in (("target", provider.target_schema),
                              ("connection", provider.connection_schema)):
            lines.append(f"  {label + ':':<12} {_keys(schema)}")
        if full:
            for label, schema in (("target schema", provider.target_schema),
                                  ("connection schema", provider.connection_schema)):
                if schema is not None:
                    lines.append(f"  {label}:")
                    lines += [f"    {line}" for line in
                              json.dumps(schema, indent=2, sort_keys=True).splitlines()]
    if not full:
        if found.missing:
            lines.append("not installed: " + ", ".join(
                f"{name} ({command})" for name, command in sorted(found.missing.items())))
        lines.append(f"{len(shown)} providers installed; 'gitjit targets PROVIDER' prints one "
                     "with its JSON Schemas")
    return "\n".join(lines) + "\n"


def _keys(schema: Mapping[str, Any] | None) -> str:
    """The keys a schema allows, in one line: 'role (required), mode, terminate_sessions'."""
    if schema is None:
        return "no schema declared (checked only when a grant is applied)"
    required = set(schema.get("required", []))
    parts = [f"{key} (required)" if key in required else key
             for key in sorted(schema.get("properties", {}), key=lambda k: (k not in required, k))]
    for alternative in schema.get("anyOf", []):
        if set(alternative) == {"required"}:
            parts.append("needs " + " or ".join(
                " and ".join(a["required"]) for a in schema["anyOf"]))
            break
    parts += [f"keys matching {pattern}" for pattern in sorted(schema.get("patternProperties",
                                                                         {}))]
    if schema.get("additionalProperties", True) is not False:
        parts.append("any other key")
    return ", ".join(parts) or "nothing"
