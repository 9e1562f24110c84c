"""engine.adapters.schemas: the repository's schemas/ first, else the packaged ones."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from engine.adapters.schemas import load_schemas, packaged_schemas
from engine.core.changes import REGULAR_FILE, TreeEntry
from engine.core.schema import KINDS
from engine.errors import ConfigurationError, GitjitError
from tests.packaging import build_wheel, copy_sources

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = {
    kind: json.loads((PROJECT / "schemas" / f"{kind.lower()}.schema.json").read_text("utf-8"))
    for kind in KINDS
}


class FakeTree:
    """A Tree backed by a dict of path -> bytes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def entries(self, prefix: str) -> list[TreeEntry]:
        return [TreeEntry(p, REGULAR_FILE) for p in sorted(self.files) if p.startswith(prefix)]

    def read(self, path: str) -> bytes:
        if path not in self.files:
            raise GitjitError(f"{path} does not exist")
        return self.files[path]

    def exists(self, path: str) -> bool:
        return path in self.files

    def read_many(self, paths: Iterable[str], limit: int | None = None) -> dict[str, bytes]:
        return {path: self.read(path) for path in paths}


def repo_schemas(**overrides: bytes) -> dict[str, bytes]:
    files = {f"schemas/{k.lower()}.schema.json": json.dumps(v).encode() for k, v in SHIPPED.items()}
    files.update({f"schemas/{name}.schema.json": raw for name, raw in overrides.items()})
    return files


def test_without_a_schemas_folder_the_packaged_schemas_apply() -> None:
    tree = FakeTree({"policies/groups.yaml": b"", "README.md": b""})
    assert dict(load_schemas(tree)) == SHIPPED
    assert dict(packaged_schemas()) == SHIPPED


def test_the_repositorys_own_schemas_win() -> None:
    own = dict(SHIPPED["Grant"], title="our own grant schema")
    tree = FakeTree(repo_schemas(grant=json.dumps(own).encode()))
    schemas = load_schemas(tree)
    assert schemas["Grant"]["title"] == "our own grant schema"
    assert schemas["Policy"] == SHIPPED["Policy"]


def test_a_missing_schema_in_the_repository_is_an_error() -> None:
    files = repo_schemas()
    del files["schemas/settings.schema.json"]
    with pytest.raises(ConfigurationError) as info:
        load_schemas(FakeTree(files))
    assert str(info.value) == (
        "schemas/settings.schema.json is missing; restore it, or delete the schemas/ folder to "
        "use the schemas packaged with gitjit"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "cannot read the schema schemas/grant.schema.json: Expecting property "
         "name enclosed in double quotes: line 1 column 2 (char 1); fix the JSON, or delete "
         "the schemas/ folder to use the schemas packaged with gitjit"),
        (b'{"type": "object", "type": "string"}', "cannot read the schema "
         "schemas/grant.schema.json: duplicate key 'type'; fix the JSON, or delete the "
         "schemas/ folder to use the schemas packaged with gitjit"),
        (b"\xff\xfe", "cannot read the schema schemas/grant.schema.json: 'utf-8' codec can't "
         "decode byte 0xff in position 0: invalid start byte; fix the JSON, or delete the "
         "schemas/ folder to use the schemas packaged with gitjit"),
        (b"[1, 2]", "the schema schemas/grant.schema.json is not a JSON object; fix the file"),
        (b'{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 7}',
         "schemas/grant.schema.json: not a valid JSON Schema at $.type: 7 is not valid under "
         "any of the given schemas"),
    ],
)
def test_a_broken_schema_names_the_file(raw: bytes, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_schemas(FakeTree(repo_schemas(grant=raw)))
    assert str(info.value) == message


def test_the_wheel_ships_the_schemas(tmp_path: Path) -> None:
    # Build from a copy so the test never writes into the working tree.
    source = copy_sources(tmp_path / "src")
    out = tmp_path / "wheel"
    wheel = build_wheel(source, out)
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name: json.loads(archive.read(name))
            for name in archive.namelist() if name.startswith("engine/schemas/")
        }
    assert shipped == {
        f"engine/schemas/{kind.lower()}.schema.json": SHIPPED[kind] for kind in KINDS
    } | {"engine/schemas/scenario.schema.json":
         json.loads((PROJECT / "schemas" / "scenario.schema.json").read_text("utf-8"))}

    # Installed from the wheel, the engine reads its packaged copy through importlib.resources.
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    probe = (
        "import json, engine.adapters.schemas as s; "
        "print(json.dumps([str(s._packaged_dir()), sorted(s.packaged_schemas())]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True,
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(result.stdout) == [str(site / "engine" / "schemas"), sorted(KINDS)]
