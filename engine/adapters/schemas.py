"""Loading the JSON Schemas: the access repository's own schemas/, else the packaged ones."""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import engine
from engine.core.ledger import reject_duplicate_keys
from engine.core.schema import KINDS, SchemaSet, check_schemas
from engine.errors import ConfigurationError, GitjitError
from engine.ports import Tree

SCHEMAS_DIR = "schemas/"


def _file_name(kind: str) -> str:
    return f"{kind.lower()}.schema.json"


def _parse(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=reject_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot read the schema {where}: {exc}; fix the JSON, or delete the schemas/ "
            "folder to use the schemas packaged with gitjit"
        ) from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"the schema {where} is not a JSON object; fix the file")
    return value


def packaged_folder(inside: str, checkout: str) -> Traversable:
    """A folder that ships inside the installed package at ``engine/<inside>``.

    A source checkout or an editable install has no such folder: hatch's force-include copies
    the top-level folder (``checkout``, e.g. schemas/) into the package only when it builds a
    wheel, so read the folder beside the package instead."""
    packaged = resources.files(engine).joinpath(inside)
    if packaged.is_dir():
        return packaged
    return Path(engine.__file__).resolve().parent.parent / checkout


def _packaged_dir() -> Traversable:
    return packaged_folder("schemas", "schemas")


def _checked(schemas: dict[str, dict[str, Any]], origin: str) -> SchemaSet:
    problems = check_schemas(schemas)
    if problems:
        first = problems[0]
        raise ConfigurationError(
            f"{origin}{first.path.removeprefix('schemas/')}: {first.message}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else "")
        )
    return schemas


def packaged_schemas() -> SchemaSet:
    """The schemas that ship with the engine."""
    folder = _packaged_dir()
    schemas: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        entry = folder.joinpath(_file_name(kind))
        where = f"{folder}/{_file_name(kind)}"
        try:
            raw = entry.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"the packaged schema {where} is missing; reinstall gitjit"
            ) from exc
        schemas[kind] = _parse(raw, where)
    return _checked(schemas, f"packaged schema {folder}/")


def packaged_schema(kind: str) -> SchemaSet:
    """The packaged schema of one kind that repositories do not carry (e.g. Scenario)."""
    folder = _packaged_dir()
    where = f"{folder}/{_file_name(kind)}"
    try:
        raw = folder.joinpath(_file_name(kind)).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"the packaged schema {where} is missing; reinstall gitjit") \
            from exc
    schemas = {kind: _parse(raw, where)}
    problems = check_schemas(schemas, (kind,))
    if problems:
        raise ConfigurationError(f"the packaged schema {where}: {problems[0].message}")
    return schemas


def load_schemas(tree: Tree) -> SchemaSet:
    """The schema of each kind: from the tree's schemas/ folder when it has one, else the
    schemas packaged with the engine. Raises ConfigurationError naming the file when a schema
    is missing, is not JSON, or is not a valid draft 2020-12 schema."""
    if not tree.entries(SCHEMAS_DIR):
        return packaged_schemas()
    schemas: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        path = SCHEMAS_DIR + _file_name(kind)
        if not tree.exists(path):
            raise ConfigurationError(
                f"{path} is missing; restore it, or delete the schemas/ folder to use the "
                "schemas packaged with gitjit"
            )
        try:
            raw = tree.read(path)
        except GitjitError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc}") from exc
        schemas[kind] = _parse(raw, path)
    return _checked(schemas, SCHEMAS_DIR)
