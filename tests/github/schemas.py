"""GitHub's published response schemas, as githubkit ships them, and a strict check against them.

GitHub describes every REST operation in its OpenAPI description (github/rest-api-description);
githubkit generates pydantic models and typed clients from it. The emulator names, for each
route it serves, the model of the success body and of the error bodies (see ``ROUTES`` in
emulator.py); this module evaluates those names and checks a body against them:

- pydantic validation: required fields, types, enums, nullability;
- no undocumented keys: pydantic ignores unknown keys, so the body is also compared with the
  model's own dump of it, key by key, and any key the schema does not describe is an error.
  That is what keeps the emulator from sending a shape GitHub never sends (a typo in a field
  name would otherwise pass silently, and the forge would then read a field GitHub lacks).

The models are those of API version 2022-11-28: PyGithub sends no ``X-GitHub-Api-Version``
header, so GitHub answers it with that version (the 2026-03-10 version drops fields PyGithub
reads, such as a pull request's ``merge_commit_sha``).
"""

from __future__ import annotations

import ast
import functools
import importlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

API_VERSION = "2022-11-28"
MODELS_MODULE = "githubkit_schemas.v2022_11_28.models"
REST_PACKAGE = "githubkit_schemas.v2022_11_28.rest"


class SchemaViolation(AssertionError):
    """A body the emulator was about to send does not match GitHub's schema."""


def _models() -> Any:
    with warnings.catch_warnings():
        # githubkit's lazy module machinery may warn about deprecated aliases on import.
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(MODELS_MODULE)


class _Namespace(dict[str, Any]):
    """Names in a model expression resolve to githubkit's models ('list[Commit]')."""

    def __missing__(self, key: str) -> Any:
        value = getattr(_models(), key, None)
        if value is None:
            raise KeyError(f"githubkit has no model named {key!r} (in {MODELS_MODULE})")
        return value


@functools.cache
def adapter(expression: str) -> TypeAdapter[Any]:
    """The validator for a model expression such as ``list[PullRequestReview]``."""
    namespace = _Namespace(list=list, Union=Union)
    # eval of our own constant table, never of request data.
    return TypeAdapter(eval(expression, {"__builtins__": {}}, namespace))


def _unknown_keys(sent: Any, kept: Any, where: str) -> list[str]:
    """Keys present in ``sent`` that the validated-and-dumped ``kept`` lost: undocumented."""
    found: list[str] = []
    if isinstance(sent, dict) and isinstance(kept, dict):
        for key, value in sent.items():
            if key not in kept:
                found.append(f"{where}.{key}")
            else:
                found.extend(_unknown_keys(value, kept[key], f"{where}.{key}"))
    elif isinstance(sent, list) and isinstance(kept, list):
        for index, (one, other) in enumerate(zip(sent, kept, strict=False)):
            found.extend(_unknown_keys(one, other, f"{where}[{index}]"))
    return found


def check(expression: str, body: Any, *, what: str = "body") -> None:
    """Raise SchemaViolation unless ``body`` is exactly a ``expression`` as GitHub documents it."""
    model = adapter(expression)
    try:
        value = model.validate_python(body)
    except PydanticValidationError as exc:
        raise SchemaViolation(f"{what} is not a valid {expression}:\n{exc}") from exc
    dumped = model.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
    unknown = _unknown_keys(body, dumped, "$")
    if unknown:
        raise SchemaViolation(
            f"{what} has keys GitHub's {expression} schema does not describe: {', '.join(unknown)}"
        )


@dataclass(frozen=True)
class Operation:
    """One REST operation as githubkit's generated client describes it."""

    operation_id: str
    """GitHub's operation id, e.g. ``pulls/get``."""
    response_model: str | None
    """The success body's model expression, None for operations without a body."""
    error_models: Mapping[int, str]
    """Status code -> model expression of the error body, as documented."""


@functools.cache
def operations(*modules: str) -> Mapping[str, Operation]:
    """'METHOD /path/{template}' -> Operation, read from githubkit's generated REST clients.

    The generated methods carry the operation in their docstring ("pulls/get", then
    "GET /repos/{owner}/{repo}/pulls/{pull_number}") and pass ``response_model=`` and
    ``error_models=`` to the request; reading the source keeps this independent of how
    githubkit calls them at run time.
    """
    package = importlib.import_module(REST_PACKAGE)
    root = Path(package.__file__ or "").parent
    found: dict[str, Operation] = {}
    for module in modules:
        tree = ast.parse((root / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("async_"):
                continue
            doc = ast.get_docstring(node) or ""
            lines = doc.splitlines()
            if len(lines) < 3:
                continue
            response: str | None = None
            errors: dict[int, str] = {}
            for call in ast.walk(node):
                if not isinstance(call, ast.Call):
                    continue
                for keyword in call.keywords:
                    if keyword.arg == "response_model":
                        response = ast.unparse(keyword.value)
                    elif keyword.arg == "error_models" and isinstance(keyword.value, ast.Dict):
                        for key, value in zip(
                            keyword.value.keys, keyword.value.values, strict=True
                        ):
                            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                                errors[int(key.value)] = ast.unparse(value)
            found[lines[2].strip()] = Operation(lines[0].strip(), response, errors)
    return found
