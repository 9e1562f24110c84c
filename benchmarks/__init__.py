"""Benchmarks of gitjit on generated access repositories (see docs/benchmarks.md)."""
