"""Targets: the systems gitjit grants access in, behind one small protocol.

``base`` holds the protocol and its data, ``registry`` finds plugins (built-in and third-party,
through the ``gitjit.targets`` entry point group) and reads what they declare, ``schemas`` has
building blocks for their JSON Schemas, and each other module is one target.
"""

from engine.targets.base import Assignment, ManagedAssignment, TargetError, TargetPlugin
from engine.targets.registry import create_target, known_providers, load_factory

__all__ = [
    "Assignment",
    "ManagedAssignment",
    "TargetError",
    "TargetPlugin",
    "create_target",
    "known_providers",
    "load_factory",
]
