"""Building blocks for a target plugin's ``TARGET_SCHEMA`` and ``CONNECTION_SCHEMA``.

Every value in a gitjit file is text (the strict loader never types values), so leaves are
strings with a pattern or an enum. ``errorMessage`` is the tail of the sentence a finding shows
when a value does not fit (``'5x' is not a number of seconds; write e.g. 60``).
"""

from __future__ import annotations

from typing import Any

from engine.core.schema import DRAFT

ENV_VAR: dict[str, Any] = {
    "type": "string",
    "pattern": "^[A-Z_][A-Z0-9_]{0,127}$",
    "description": "The name of an environment variable holding a secret (never the secret).",
    "errorMessage": "is not an environment variable name; use upper-case letters, digits and "
                    "'_', e.g. ORDERS_DB_PASSWORD",
}
ENV_KEY = "^[a-z][a-z0-9_]*_env$"
"""Keys naming an environment variable: ``password_env``, ``token_env``."""


def text(description: str, **extra: Any) -> dict[str, Any]:
    """Non-empty text."""
    return {"type": "string", "minLength": 1, "description": description,
            "errorMessage": "must be non-empty text", **extra}


def choice(description: str, *values: str) -> dict[str, Any]:
    """One of ``values``; the first is the default, as the plugin reads it."""
    return {"type": "string", "enum": list(values), "description": description,
            "errorMessage": f"is not allowed; write {' or '.join(values)}"}


def flag(description: str) -> dict[str, Any]:
    return choice(description, "false", "true")


def mapping(title: str, properties: dict[str, Any], *, required: tuple[str, ...] = (),
            others: Any = False, **extra: Any) -> dict[str, Any]:
    """A mapping with these ``properties``; ``others`` is the schema of any other key (False:
    none allowed, so a typo such as ``rle:`` for ``role:`` is an error)."""
    out: dict[str, Any] = {"$schema": DRAFT, "title": title, "type": "object",
                           "properties": properties, "additionalProperties": others, **extra}
    if required:
        out["required"] = list(required)
    return out
