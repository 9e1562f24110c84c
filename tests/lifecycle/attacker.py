"""What someone with write access to the access repository can do with plain git.

No gitjit code writes here except to build well-formed records (an attacker can run gitjit's
own code too); every commit is made with git and lands by moving the branch forward, as a
push would. Signing is the attacker's own: none, or their own SSH key.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from engine.adapters.ledger import LEDGER_REF
from engine.core.ledger import Record, chain, commit_message, record_path, to_json
from tests.gitrepo import GitRepoBuilder


class Attacker:
    def __init__(self, builder: GitRepoBuilder, name: str = "mallory") -> None:
        self.builder = builder
        self.index = builder.path.parent / f"{builder.path.name}-{name}-index"

    def _hash(self, content: bytes) -> str:
        return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=self.builder.path,
                              input=content, capture_output=True, check=True
                              ).stdout.decode().strip()

    def commit(self, ref: str, files: Mapping[str, bytes | None], message: str, *,
               key: Path | None = None, when: datetime | None = None) -> str:
        """A commit on ``ref`` that writes (or, with None, deletes) ``files``, then ``ref``
        moved to it: a fast-forward push."""
        env = {"GIT_INDEX_FILE": str(self.index)}
        if when is not None:
            stamp = f"@{int(when.timestamp())} +0000"
            env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        tip = subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref],
                             cwd=self.builder.path, capture_output=True, text=True,
                             check=False).stdout.strip()
        if tip:
            self.builder.git("read-tree", tip, env=env)
        else:
            self.builder.git("read-tree", "--empty", env=env)
        for path, content in files.items():
            if content is None:
                self.builder.git("update-index", "--force-remove", path, env=env)
            else:
                blob = self._hash(content)
                self.builder.git("update-index", "--add", "--cacheinfo",
                                 f"100644,{blob},{path}", env=env)
        tree = self.builder.git("write-tree", env=env).strip()
        args = ["commit-tree", tree, "-m", message]
        if tip:
            args += ["-p", tip]
        if key is not None:
            args = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", *args, "-S"]
        sha = self.builder.git(*args, env=env).strip()
        self.builder.git("update-ref", ref, sha, *([tip] if tip else []))
        return sha

    def append_record(self, draft: Record, previous: Record | None, *,
                      key: Path | None = None) -> tuple[str, Record]:
        """A record built with gitjit's own code, appended to the ledger as gitjit would,
        except for the signature."""
        record = chain(replace(draft, seq=0, prev=""), previous)
        sha = self.commit(LEDGER_REF, {record_path(record): to_json(record)},
                          commit_message(record).rstrip("\n"), key=key)
        return sha, record

    def rewrite_record(self, record: Record, forged: Record, *,
                       key: Path | None = None) -> str:
        """A plain commit that changes a record in place."""
        return self.commit(LEDGER_REF, {record_path(record): to_json(forged)},
                           "fix record", key=key)

    def delete_records(self, *records: Record) -> str:
        return self.commit(LEDGER_REF, dict.fromkeys((record_path(r) for r in records), None),
                           "tidy the ledger")

    def drop_file(self, path: str, content: bytes, message: str = "add a record") -> str:
        return self.commit(LEDGER_REF, {path: content}, message)
