"""An access repository with an actions policy on a real PostgreSQL table, driven by the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.adapters.localforge import LocalForge
from engine.cli import run
from engine.commands.repository import read_signers
from engine.core.ledger import Record
from tests.actions.fixtures import Orders
from tests.gitrepo import GitRepoBuilder

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: orders-fix
description: Data fixes on the orders database
target: {{provider: postgres, connection: orders, role: {role}}}
requesters: [group:sre]
approvals:
  - {{from: [group:dba], count: 1}}
justification: {{min_length: 20}}
actions:
  timeout: 10s
  lock_timeout: 2s
  runbooks:
    cancel-order:
      description: Cancel one order, with a note
      params:
        order_id: {{type: integer, min: "1"}}
        reason: {{type: text, max_length: "100"}}
      sql: >-
        UPDATE {table} SET status = 'cancelled', note = :reason, attempts = attempts + 1
        WHERE id = :order_id
      max_rows: "1"
    close-day:
      description: Close every open order of a day
      params:
        day: {{type: choice, values: [mon, tue]}}
      sql: UPDATE {table} SET status = 'closed', attempts = attempts + 1 WHERE day = :day
      max_rows: "2"
  sql:
    allow: [update, select]
    functions: [now]
    max_rows: "10"
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [bob]
  dba: [dave]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  orders: {provider: postgres, dsn_env: GITJIT_ORDERS_DSN}
"""
JUSTIFICATION = "Customer was charged twice for the order (INC-1234)"


class ActionWorld:
    def __init__(self, builder: GitRepoBuilder, orders: Orders) -> None:
        self.builder, self.orders = builder, orders
        self.path = str(builder.path)
        shutil.copytree(ROOT / "schemas", builder.path / "schemas")
        builder.write("policies/orders-fix.yaml",
                      POLICY.format(role=orders.role, table=orders.table))
        builder.write("policies/groups.yaml", GROUPS)
        builder.write("policies/settings.yaml", SETTINGS)
        assert run(["local", "keygen", "--repo", self.path]) == 0
        builder.commit("access configuration")
        self.repo = GitRepository(builder.path)
        self.forge = LocalForge(self.repo)

    def cli(self, *args: str, at: datetime) -> int:
        return run([*args, "--repo", self.path, "--now", at.isoformat()])

    def request(self, *args: str, at: datetime = T0) -> int:
        return self.cli("request", "orders-fix", "--as", "bob", "--justification",
                        JUSTIFICATION, "--forge", "local", *args, at=at)

    def approve_and_merge(self, number: int, at: datetime = T0) -> int:
        assert self.cli("local", "review", str(number), "--as", "dave", "--approve",
                        at=at + timedelta(minutes=1)) == 0
        return self.cli("local", "merge", str(number), "--as", "dave",
                        at=at + timedelta(minutes=2))

    def activate(self, at: datetime) -> int:
        return self.cli("activate", at=at)

    def records(self) -> list[Record]:
        return Ledger(self.repo, signers=read_signers(self.repo.tree("main"))).records()

    def story(self) -> list[tuple[str, str]]:
        return [(str(r.event), r.grant_id) for r in self.records()]

    def comments(self, number: int) -> dict[str, str]:
        return self.forge.comments(number)

    def status(self) -> dict[str, Any]:
        assert run(["status", "--repo", self.path, "--format", "json"]) == 0
        return {}

    def json(self, raw: str) -> Any:
        return json.loads(raw)
