"""The small access configuration the end-to-end tests share: bob (sre) asks for admin on the
orders database; one DBA (dave) and one security engineer (sam) must approve."""

from __future__ import annotations

POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: orders-admin
description: Admin on the orders database
target: {{provider: {provider}, connection: {connection}, role: orders_admin}}
requesters: [group:sre]
approvals:
  - {{from: [group:dba], count: 1}}
  - {{from: [group:security], count: 1}}
duration: {{default: 1h, max: 4h}}
justification: {{min_length: 20}}
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [bob]
  dba: [dave]
  security: [sam]
"""


def policy(provider: str, connection: str) -> str:
    return POLICY.format(provider=provider, connection=connection)
