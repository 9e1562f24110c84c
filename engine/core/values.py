"""Typed values parsed from strings: durations, timestamps, logins, principals.

STUB: the signatures below are the contract; the implementation is being written.
Every parser raises ``ValueError`` with a message fit to show a user (it becomes a finding).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.core.models import Login, Principal


def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '1h30m', '1d', '1d2h', '90s'? and ISO 8601 'PT2H', 'P1D', 'P1DT2H'.

    Zero, negative, months and years are rejected."""
    raise NotImplementedError


def format_duration(value: timedelta) -> str:
    """The shortest form in our grammar: 1h30m, 2d, 45m. Inverse of parse_duration."""
    raise NotImplementedError


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 with an offset ('Z' or '+01:00'); returns an aware datetime in UTC."""
    raise NotImplementedError


def parse_login(text: str) -> Login:
    """Validate a GitHub login (ASCII letters, digits, single hyphens, no leading or trailing
    hyphen, at most 39 characters) and return it lower-cased."""
    raise NotImplementedError


def parse_principal(text: str) -> Principal:
    """'user:LOGIN' or 'group:NAME' (group names: lower-case letters, digits, '-', '_')."""
    raise NotImplementedError
