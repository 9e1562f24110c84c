"""Typed values parsed from strings: durations, timestamps, logins, principals.

Every parser raises ``ValueError`` with a message fit to show a user (it becomes a finding).
The grammars are strict on purpose: anything else is rejected, never normalised, so two
readers of a file can never disagree about what it says.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone

from engine.core.models import Login, Principal

MAX_DURATION = timedelta(days=366)
"""No grant lasts longer; the cap also keeps huge numbers from overflowing timedelta."""

# [0-9], not \d: \d also matches other scripts' digits, which int() would then accept.
_SHORT = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_ISO = re.compile(r"P(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?")
_UNIT_SECONDS = (86_400, 3_600, 60, 1)
# A number with this many digits (leading zeros aside) exceeds MAX_DURATION in any unit;
# checked before int() so no number is ever converted from an unbounded string.
_MAX_DIGITS = 9
_DURATION_FORMS = (
    "write whole numbers of days, hours, minutes and seconds in that order, such as 30m, 2h, "
    "1h30m, 1d or 1d12h, or ISO 8601 such as PT2H or P1DT2H30M (no months or years)"
)

_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_TIMESTAMP_EXAMPLE = "e.g. 2026-11-27T09:00:00Z or 2026-11-27T10:00:00+01:00"
# Every spelling RFC 3339 section 5.6 allows: 't' and 'z' in lower case too, and a space
# between date and time (its note on readability). Only the command line takes these: files
# keep one spelling, so that every reader of a file (the schema, the parser, a person) agrees.
_ANY_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ANY_TIMESTAMP_EXAMPLE = ("e.g. 2026-11-27T09:00:00Z, 2026-11-27t09:00:00.5z or "
                          "2026-11-27 10:00:00+01:00")

_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
_LOGIN_MAX = 39
_LOGIN_RULE = (
    "a GitHub login has only ASCII letters, digits and single hyphens, does not start or end "
    "with a hyphen, and has at most 39 characters"
)
_GROUP = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_GROUP_RULE = (
    "a group name starts with a lower-case letter or digit, continues with lower-case "
    "letters, digits, '-' or '_', and has at most 63 characters"
)
# A slug starts with a letter or digit so that it can never be '.' or '..' in an API path.
_TEAM_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_TEAM_RULE = (
    "write team:ORG/SLUG, where ORG is the organization's GitHub login and SLUG the team's "
    "slug as in its URL (lower-case letters, digits, '-', '_' and '.', starting with a letter "
    "or digit, at most 100 characters)"
)
_SHOWN_CHARS = 60


@functools.lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '1h30m', '1d', '1d2h', '90s' and ISO 8601 'PT2H', 'P1D', 'P1DT2H'.

    Zero, negative, months and years are rejected, and so is anything above MAX_DURATION."""
    if text == "":
        raise ValueError(f"duration is empty; {_DURATION_FORMS}")
    match = _SHORT.fullmatch(text) or _ISO.fullmatch(text)
    # Both patterns also match the bare unit-less forms '' and 'P' (all groups optional).
    if match is None or text == "P" or text.endswith("T"):
        raise ValueError(
            f"invalid duration '{_show(text)}': {_duration_problem(text)}{_DURATION_FORMS}"
        )
    parts = match.groups()
    numbers = [(part or "0").lstrip("0") or "0" for part in parts]
    if any(len(number) >= _MAX_DIGITS for number in numbers):
        raise ValueError(_too_long(text))
    seconds = sum(int(n) * unit for n, unit in zip(numbers, _UNIT_SECONDS, strict=True))
    if seconds == 0:
        raise ValueError(f"duration '{_show(text)}' is zero; {_DURATION_FORMS}")
    value = timedelta(seconds=seconds)
    if value > MAX_DURATION:
        raise ValueError(_too_long(text))
    return value


def _duration_problem(text: str) -> str:
    """Why ``text`` is not a duration, when a specific reason helps; ends in '; '."""
    if text.startswith("-"):
        return "a duration must be positive; "
    if any(c.isspace() for c in text):
        return "remove the whitespace; "
    if "." in text or "," in text:
        return "fractions are not allowed; "
    date_part = text.partition("T")[0] if text.startswith("P") else ""
    if "Y" in date_part or "M" in date_part or "mo" in text or "y" in text:
        return "months and years have no fixed length; "
    return ""


def _too_long(text: str) -> str:
    return f"duration '{_show(text)}' is longer than 366 days; ask for at most 366d"


def format_duration(value: timedelta) -> str:
    """The shortest form in our grammar: 1h30m, 2d, 45m. Inverse of parse_duration."""
    if value <= timedelta(0) or value.microseconds:
        raise ValueError(
            f"cannot write {value} as a duration: it must be a positive whole number of seconds"
        )
    rest = value.days * 86_400 + value.seconds
    out = []
    for unit, seconds in zip("dhms", _UNIT_SECONDS, strict=True):
        count, rest = divmod(rest, seconds)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 with an offset ('Z' or '+01:00'); returns an aware datetime in UTC."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid timestamp '{_show(text)}': write RFC 3339 with an upper-case T and a UTC "
            f"offset, {_TIMESTAMP_EXAMPLE}"
        )
    return _timestamp(text, match, _TIMESTAMP_EXAMPLE)


def parse_any_timestamp(text: str) -> datetime:
    """Every form RFC 3339 allows, for the command line: 'T' or 't' or a space between date
    and time, 'Z' or 'z' or an offset, fractional seconds; returns an aware datetime in UTC.
    As in files, an offset is required: a time without one means a different moment in
    every time zone."""
    match = _ANY_TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"invalid time '{_show(text)}': write RFC 3339 with a UTC offset, "
            f"{_ANY_TIMESTAMP_EXAMPLE}"
        )
    return _timestamp(text, match, _ANY_TIMESTAMP_EXAMPLE)


def parse_day_or_timestamp(text: str) -> datetime:
    """A day ('2026-11-01', its start: midnight UTC) or any RFC 3339 time with an offset."""
    day = _DAY.fullmatch(text.strip())
    if day is None:
        try:
            return parse_any_timestamp(text)
        except ValueError as exc:
            raise ValueError(f"{exc} (or give a day, 2026-11-01)") from None
    try:
        return datetime(int(day[1]), int(day[2]), int(day[3]), tzinfo=UTC)
    except ValueError:
        raise ValueError(f"'{_show(text)}' is not a real day (check the month and the "
                         "day)") from None


def _timestamp(text: str, match: re.Match[str], example: str) -> datetime:
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset is None:
        raise ValueError(f"timestamp '{_show(text)}' has no UTC offset; add Z or +HH:MM")
    # Sub-microsecond digits are dropped, not rounded: rounding could carry into the second.
    micro = int((fraction or "")[:6].ljust(6, "0"))
    try:
        if offset in ("Z", "z"):
            zone = UTC
        else:
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError("offset out of range")
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"timestamp '{_show(text)}' is not a real date and time (check the day, the hour "
            f"and the offset; leap seconds are not supported), {example}"
        ) from None


def parse_login(text: str) -> Login:
    """Validate a GitHub login (ASCII letters, digits, single hyphens, no leading or trailing
    hyphen, at most 39 characters) and return it lower-cased."""
    if text == "":
        raise ValueError(f"login is empty; {_LOGIN_RULE}")
    if len(text) > _LOGIN_MAX:
        raise ValueError(f"login '{_show(text)}' has {len(text)} characters; {_LOGIN_RULE}")
    if _LOGIN.fullmatch(text) is None:
        raise ValueError(f"invalid login '{_show(text)}': {_LOGIN_RULE}")
    return Login(text.lower())


def parse_principal(text: str) -> Principal:
    """'user:LOGIN', 'group:NAME' (group names: lower-case letters, digits, '-', '_') or
    'team:ORG/SLUG' for a GitHub team (ORG a GitHub login, lower-cased like any login; SLUG
    lower-case letters, digits, '-', '_', '.')."""
    kind, colon, name = text.partition(":")
    if kind == "user" and colon:
        try:
            login = parse_login(name)
        except ValueError as exc:
            raise ValueError(f"invalid principal '{_show(text)}': {exc}") from None
        return Principal(kind="user", name=login)
    if kind == "group" and colon:
        if _GROUP.fullmatch(name) is None:
            raise ValueError(f"invalid principal '{_show(text)}': {_GROUP_RULE}")
        return Principal(kind="group", name=name)
    if kind == "team" and colon:
        org, slash, slug = name.partition("/")
        try:
            owner = parse_login(org)
        except ValueError as exc:
            raise ValueError(
                f"invalid principal '{_show(text)}': the organization in team:ORG/SLUG: {exc}"
            ) from None
        if not slash or _TEAM_SLUG.fullmatch(slug) is None:
            raise ValueError(f"invalid principal '{_show(text)}': {_TEAM_RULE}")
        return Principal(kind="team", name=f"{owner}/{slug}")
    raise ValueError(
        f"invalid principal '{_show(text)}': write 'user:LOGIN', 'group:NAME' or "
        "'team:ORG/SLUG', in lower case, without spaces"
    )


def _show(text: str) -> str:
    """``text`` for a message: long input is cut so a finding stays one readable line."""
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 policy``, ``3 policies``, ``0 errors``: a count and its noun in correct English
    (``many`` for a plural that is not the noun with -s, -es or -ies)."""
    if count == 1:
        return f"{count} {noun}"
    if many is None:
        if noun.endswith("y") and noun[-2:-1] not in "aeiou":
            many = noun[:-1] + "ies"
        elif noun.endswith(("s", "sh", "ch", "x")):
            many = noun + "es"
        else:
            many = noun + "s"
    return f"{count} {many}"
