"""Reading gitjit's files from a tree (a working tree or a commit) for the core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.adapters.schemas import load_schemas
from engine.core.config import (
    CONFIG_LIMITS,
    POLICIES_DIR,
    ConfigFile,
    ConfigResult,
    build_config,
)
from engine.core.models import Config, Policy, PolicyId
from engine.core.schema import SchemaSet
from engine.core.signers import SIGNERS_PATH, AllowedSigners, parse_allowed_signers
from engine.core.suggest import did_you_mean
from engine.core.targets import Catalog
from engine.errors import ConfigurationError, UsageError
from engine.ports import Tree


@dataclass(frozen=True)
class LoadedConfig:
    schemas: SchemaSet
    result: ConfigResult
    files: int
    blobs: Mapping[str, str]
    """The git blob SHA of each configuration file (empty for a working tree), for the record."""


def require_config(loaded: LoadedConfig, where: str = "") -> Config:
    """The configuration, or an error naming its first problem: nothing may be judged or
    changed by a broken configuration."""
    config = loaded.result.config
    if config is None:
        first = next(f for f in loaded.result.findings if f.severity.value == "error")
        place = f" on {where}" if where else ""
        raise ConfigurationError(f"the configuration{place} has errors, e.g. {first.render()}; "
                                 "run 'gitjit check'")
    return config


def require_policy(config: Config, policy_id: str, hint: str = "") -> Policy:
    policy = config.policies.get(PolicyId(policy_id))
    if policy is None:
        raise UsageError(f"unknown policy {policy_id!r}; "
                         f"{did_you_mean(policy_id, config.policies)}known policies: "
                         f"{', '.join(sorted(config.policies))}{hint}")
    return policy


def read_config(tree: Tree, targets: Catalog | None = None) -> LoadedConfig:
    """Schemas and configuration of ``tree``: what judges requests when tree is the base.

    With ``targets`` (``engine.targets.registry.catalog()``: the providers installed with this
    engine, never anything from the tree), policy targets and connections are checked too."""
    schemas = load_schemas(tree)
    entries = tree.entries(POLICIES_DIR)
    regular = [e.path for e in entries if e.mode == "100644"]
    # Capped while reading: an oversized file is refused without ever being held whole.
    contents = tree.read_many(regular, limit=CONFIG_LIMITS.max_bytes)
    files = [ConfigFile(e.path, e.mode, contents.get(e.path, b"")) for e in entries]
    blobs = {e.path: e.blob for e in entries if e.blob}
    return LoadedConfig(schemas, build_config(files, schemas, targets), len(files), blobs)


def read_signers(tree: Tree) -> AllowedSigners | None:
    """The allowed signers of ``tree`` (policies/allowed_signers), even where the rest of the
    configuration is broken; None when the file is missing or unusable."""
    if not tree.exists(SIGNERS_PATH):
        return None
    signers, _problems = parse_allowed_signers(tree.read(SIGNERS_PATH))
    return signers
