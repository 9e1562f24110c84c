"""The lifecycle runs: activation and reconcile, orchestrated over the ports.

``context`` opens a run (the branch's tip, its configuration, the ledger as gitjit may trust
it); ``verification`` re-judges a merge from forge data; ``activation`` and
``reconciliation`` are the two runs; ``trust`` turns what the ledger holds that gitjit did not
write into alerts; ``removal`` takes ended grants' files off the default branch; ``targets``
binds a grant to its target plugin.
"""
