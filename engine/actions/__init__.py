"""Actions: approve one operation, not a role (DESIGN.md section 4, docs/actions.md).

A pull request adds one action request under actions/<policy>/; the verdict renders exactly
what will run (a policy's runbook with its parameters bound, or free-form SQL judged by
PostgreSQL's own parser); after the merge, ``gitjit activate`` re-verifies it, records a
signed ``started`` record, runs it once in the policy's target and seals the outcome.

Pure modules: ``model`` (the data), ``policy`` (the policy's ``actions`` section), ``request``
(loading a request file), ``sql`` (the parser's judgement), ``plan`` (rendering) and
``decide`` (the verdict). Edges: ``execute`` (running in a target), ``lifecycle`` (the
activate job's part) and ``outcome`` (redaction, comment and record).
"""
