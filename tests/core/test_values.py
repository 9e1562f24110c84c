"""Typed value parsers: one grammar each, messages asserted whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.models import Principal
from engine.core.values import (
    MAX_DURATION,
    format_duration,
    parse_any_timestamp,
    parse_day_or_timestamp,
    parse_duration,
    parse_login,
    parse_principal,
    parse_timestamp,
)

FORMS = (
    "write whole numbers of days, hours, minutes and seconds in that order, such as 30m, 2h, "
    "1h30m, 1d or 1d12h, or ISO 8601 such as PT2H or P1DT2H30M (no months or years)"
)
LOGIN_RULE = (
    "a GitHub login has only ASCII letters, digits and single hyphens, does not start or end "
    "with a hyphen, and has at most 39 characters"
)
GROUP_RULE = (
    "a group name starts with a lower-case letter or digit, continues with lower-case "
    "letters, digits, '-' or '_', and has at most 63 characters"
)
NOT_WHOLE = "as a duration: it must be a positive whole number of seconds"
EXAMPLE = "e.g. 2026-11-27T09:00:00Z or 2026-11-27T10:00:00+01:00"


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90m", timedelta(minutes=90)),
        ("1h0m", timedelta(hours=1)),
        ("366d", timedelta(days=366)),
        ("000000000001h", timedelta(hours=1)),
    ],
)
def test_short_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", timedelta(hours=2)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT90M", timedelta(minutes=90)),
        ("PT45S", timedelta(seconds=45)),
        ("P2DT1S", timedelta(days=2, seconds=1)),
    ],
)
def test_iso_8601_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"duration is empty; {FORMS}"),
        ("0m", f"duration '0m' is zero; {FORMS}"),
        ("PT0S", f"duration 'PT0S' is zero; {FORMS}"),
        ("0d0h", f"duration '0d0h' is zero; {FORMS}"),
        ("-1h", f"invalid duration '-1h': a duration must be positive; {FORMS}"),
        ("-PT1H", f"invalid duration '-PT1H': a duration must be positive; {FORMS}"),
        ("1.5h", f"invalid duration '1.5h': fractions are not allowed; {FORMS}"),
        ("PT0,5H", f"invalid duration 'PT0,5H': fractions are not allowed; {FORMS}"),
        ("1h 30m", f"invalid duration '1h 30m': remove the whitespace; {FORMS}"),
        (" 1h", f"invalid duration ' 1h': remove the whitespace; {FORMS}"),
        ("1h\n", f"invalid duration '1h\n': remove the whitespace; {FORMS}"),
        ("P1M", f"invalid duration 'P1M': months and years have no fixed length; {FORMS}"),
        ("P1Y", f"invalid duration 'P1Y': months and years have no fixed length; {FORMS}"),
        ("P1Y2M", f"invalid duration 'P1Y2M': months and years have no fixed length; {FORMS}"),
        ("1mo", f"invalid duration '1mo': months and years have no fixed length; {FORMS}"),
        ("1y", f"invalid duration '1y': months and years have no fixed length; {FORMS}"),
        ("1m1h", f"invalid duration '1m1h': {FORMS}"),
        ("1h1h", f"invalid duration '1h1h': {FORMS}"),
        ("2H", f"invalid duration '2H': {FORMS}"),
        ("pt2h", f"invalid duration 'pt2h': {FORMS}"),
        ("P", f"invalid duration 'P': {FORMS}"),
        ("PT", f"invalid duration 'PT': {FORMS}"),
        ("P1DT", f"invalid duration 'P1DT': {FORMS}"),
        ("P1W", f"invalid duration 'P1W': {FORMS}"),
        ("h", f"invalid duration 'h': {FORMS}"),
        ("30", f"invalid duration '30': {FORMS}"),
        ("٣h", f"invalid duration '٣h': {FORMS}"),
        ("x" * 100, f"invalid duration '{'x' * 57}...': {FORMS}"),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_invalid_durations_are_rejected_naming_the_accepted_forms(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "text", ["367d", "99999999999d", "P367D", "PT9000H", "1" * 5000 + "s", "366d1s"]
)
def test_durations_above_366_days_are_rejected(text: str) -> None:
    shown = text if len(text) <= 60 else text[:57] + "..."
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"duration '{shown}' is longer than 366 days; ask for at most 366d"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=45), "45m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2), "2d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(hours=25), "1d1h"),
        (timedelta(seconds=90), "1m30s"),
    ],
)
def test_format_duration_writes_the_shortest_short_form(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (timedelta(0), f"cannot write 0:00:00 {NOT_WHOLE}"),
        (timedelta(hours=-1), f"cannot write -1 day, 23:00:00 {NOT_WHOLE}"),
        (timedelta(seconds=1.5), f"cannot write 0:00:01.500000 {NOT_WHOLE}"),
    ],
)
def test_format_duration_rejects_what_the_grammar_cannot_write(
    value: timedelta, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        format_duration(value)
    assert str(info.value) == message


@given(st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds())))
def test_durations_round_trip_through_their_short_form(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.text())
def test_parse_duration_raises_only_value_error_on_any_text(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError:
        return
    assert timedelta(0) < value <= MAX_DURATION


@given(st.text(alphabet="0123456789dhmsPTDHMSYW.-+ ", max_size=30))
def test_parse_duration_raises_only_value_error_on_duration_like_text(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError:
        return
    assert timedelta(0) < value <= MAX_DURATION


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T09:00:00Z", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        ("2026-11-27T10:00:00+01:00", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        ("2026-11-27T01:30:00-08:30", datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
        ("2026-11-27T09:00:00.5Z", datetime(2026, 11, 27, 9, 0, 0, 500_000, tzinfo=UTC)),
        ("2026-11-27T09:00:00.123456789Z", datetime(2026, 11, 27, 9, 0, 0, 123_456, tzinfo=UTC)),
        ("2026-12-31T23:30:00-01:00", datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
        ("2026-11-27T09:00:00-00:00", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_with_an_offset_parse_to_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["2026-11-27T09:00:00", "2026-11-27T09:00:00.25"])
def test_timestamps_without_an_offset_are_rejected(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_timestamp(text)
    assert str(info.value) == f"timestamp '{text}' has no UTC offset; add Z or +HH:MM"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27t09:00:00Z",
        "2026-11-27T09:00:00z",
        "2026-11-27 09:00:00Z",
        "2026-11-27",
        "2026-11-27T09:00Z",
        "2026-11-27T09:00:00+0100",
        "2026-11-27T09:00:00+01",
        "2026-11-27T09:00:00 Z",
        "2026-11-27T09:00:00Z\n",
        "26-11-27T09:00:00Z",
        "",
    ],
)
def test_timestamps_outside_rfc_3339_are_rejected(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_timestamp(text)
    assert str(info.value) == (
        f"invalid timestamp '{text}': write RFC 3339 with an upper-case T and a UTC offset, "
        f"{EXAMPLE}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T09:00:00Z",
        "2026-13-01T09:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T09:00:60Z",
        "2026-11-27T09:00:00+24:00",
        "2026-11-27T09:00:00+01:60",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_impossible_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_timestamp(text)
    assert str(info.value) == (
        f"timestamp '{text}' is not a real date and time (check the day, the hour and the "
        f"offset; leap seconds are not supported), {EXAMPLE}"
    )


@given(st.text(alphabet="0123456789-:T.Z+ tz", max_size=40))
def test_parse_timestamp_raises_only_value_error(text: str) -> None:
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        return
    assert parsed.tzinfo is UTC


# --- logins and principals -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-27T09:00:00Z", datetime(2026, 11, 27, 9, tzinfo=UTC)),
    ("2026-11-27t09:00:00z", datetime(2026, 11, 27, 9, tzinfo=UTC)),
    ("2026-11-27 10:00:00+01:00", datetime(2026, 11, 27, 9, tzinfo=UTC)),
    ("2026-11-27T04:30:00.250-04:30", datetime(2026, 11, 27, 9, 0, 0, 250000, tzinfo=UTC)),
    ("2026-11-27T09:00:00.1234567Z", datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)),
    ("2026-11-27T09:00:00-00:00", datetime(2026, 11, 27, 9, tzinfo=UTC)),
])
def test_the_command_line_takes_every_rfc_3339_spelling(text: str, expected: datetime) -> None:
    parsed = parse_any_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(("text", "message"), [
    ("2026-11-27 09:00:00", "timestamp '2026-11-27 09:00:00' has no UTC offset; add Z or "
                            "+HH:MM"),
    ("tomorrow", "invalid time 'tomorrow': write RFC 3339 with a UTC offset, e.g. "
                 "2026-11-27T09:00:00Z, 2026-11-27t09:00:00.5z or 2026-11-27 10:00:00+01:00"),
    ("2026-11-27T09:00Z", "invalid time '2026-11-27T09:00Z': write RFC 3339 with a UTC "
                          "offset, e.g. 2026-11-27T09:00:00Z, 2026-11-27t09:00:00.5z or "
                          "2026-11-27 10:00:00+01:00"),
    ("2026-02-30 09:00:00Z", "timestamp '2026-02-30 09:00:00Z' is not a real date and time "
                             "(check the day, the hour and the offset; leap seconds are not "
                             "supported), e.g. 2026-11-27T09:00:00Z, 2026-11-27t09:00:00.5z or "
                             "2026-11-27 10:00:00+01:00"),
])
def test_the_command_line_rejects_what_rfc_3339_does_not_allow(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_any_timestamp(text)
    assert str(error.value) == message


def test_files_keep_their_one_spelling() -> None:
    """A grant's or a test's time has one spelling, so that the schema, the parser and a
    person reading the file agree; the looser forms are for the command line only."""
    for text in ("2026-11-27t09:00:00z", "2026-11-27 09:00:00Z"):
        with pytest.raises(ValueError):
            parse_timestamp(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T12:00:00+02:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ("2026-11-01 12:00:00z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
])
def test_a_day_or_a_time(text: str, expected: datetime) -> None:
    assert parse_day_or_timestamp(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("2026-02-30", "'2026-02-30' is not a real day (check the month and the day)"),
    ("yesterday", "invalid time 'yesterday': write RFC 3339 with a UTC offset, e.g. "
                  "2026-11-27T09:00:00Z, 2026-11-27t09:00:00.5z or 2026-11-27 10:00:00+01:00 "
                  "(or give a day, 2026-11-01)"),
])
def test_not_a_day_nor_a_time(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_day_or_timestamp(text)
    assert str(error.value) == message


@given(st.text(max_size=40))
def test_the_command_line_parsers_raise_only_value_error(text: str) -> None:
    for parse in (parse_any_timestamp, parse_day_or_timestamp):
        try:
            parse(text)
        except ValueError:
            pass


@pytest.mark.parametrize(
    ("text", "expected"),
    [("alice", "alice"), ("Alice", "alice"), ("a-b-c", "a-b-c"), ("0", "0"), ("A" * 39, "a" * 39)],
)
def test_valid_logins_are_lower_cased(text: str, expected: str) -> None:
    assert parse_login(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"login is empty; {LOGIN_RULE}"),
        ("-alice", f"invalid login '-alice': {LOGIN_RULE}"),
        ("alice-", f"invalid login 'alice-': {LOGIN_RULE}"),
        ("al--ice", f"invalid login 'al--ice': {LOGIN_RULE}"),
        ("al_ice", f"invalid login 'al_ice': {LOGIN_RULE}"),
        ("al ice", f"invalid login 'al ice': {LOGIN_RULE}"),
        ("alice\n", f"invalid login 'alice\n': {LOGIN_RULE}"),
        ("ålice", f"invalid login 'ålice': {LOGIN_RULE}"),
        ("dependabot[bot]", f"invalid login 'dependabot[bot]': {LOGIN_RULE}"),
        ("a" * 40, f"login '{'a' * 40}' has 40 characters; {LOGIN_RULE}"),
        ("a-" * 30 + "a", f"login '{('a-' * 30)[:57]}...' has 61 characters; {LOGIN_RULE}"),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_invalid_logins_are_rejected_with_the_rule(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_login(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user:alice", Principal("user", "alice")),
        ("user:Alice-B", Principal("user", "alice-b")),
        ("group:sre", Principal("group", "sre")),
        ("group:db_admins-2", Principal("group", "db_admins-2")),
        ("group:" + "a" * 63, Principal("group", "a" * 63)),
        ("team:acme/dba", Principal("team", "acme/dba")),
        ("team:Acme-Corp/db.admins_2-x", Principal("team", "acme-corp/db.admins_2-x")),
        ("team:acme/" + "a" * 100, Principal("team", "acme/" + "a" * 100)),
    ],
)
def test_valid_principals_parse(text: str, expected: Principal) -> None:
    assert parse_principal(text) == expected


ANY_PRINCIPAL = (
    "write 'user:LOGIN', 'group:NAME' or 'team:ORG/SLUG', in lower case, without spaces"
)
TEAM_RULE = (
    "write team:ORG/SLUG, where ORG is the organization's GitHub login and SLUG the team's "
    "slug as in its URL (lower-case letters, digits, '-', '_' and '.', starting with a letter "
    "or digit, at most 100 characters)"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user:-bob", f"invalid principal 'user:-bob': invalid login '-bob': {LOGIN_RULE}"),
        ("user:", f"invalid principal 'user:': login is empty; {LOGIN_RULE}"),
        ("group:SRE", f"invalid principal 'group:SRE': {GROUP_RULE}"),
        ("group:", f"invalid principal 'group:': {GROUP_RULE}"),
        ("group:_x", f"invalid principal 'group:_x': {GROUP_RULE}"),
        ("group:" + "a" * 64, f"invalid principal 'group:{'a' * 51}...': {GROUP_RULE}"),
        ("alice", f"invalid principal 'alice': {ANY_PRINCIPAL}"),
        ("User:alice", f"invalid principal 'User:alice': {ANY_PRINCIPAL}"),
        ("team:x", f"invalid principal 'team:x': {TEAM_RULE}"),
        ("team:acme/", f"invalid principal 'team:acme/': {TEAM_RULE}"),
        ("team:acme/DBA", f"invalid principal 'team:acme/DBA': {TEAM_RULE}"),
        # Never '.' or '..': the slug goes into an API path.
        ("team:acme/..", f"invalid principal 'team:acme/..': {TEAM_RULE}"),
        ("team:acme/.x", f"invalid principal 'team:acme/.x': {TEAM_RULE}"),
        ("team:acme/a/b", f"invalid principal 'team:acme/a/b': {TEAM_RULE}"),
        ("team:acme/a b", f"invalid principal 'team:acme/a b': {TEAM_RULE}"),
        ("team:acme/" + "a" * 101, f"invalid principal 'team:acme/{'a' * 47}...': {TEAM_RULE}"),
        ("team:/dba", "invalid principal 'team:/dba': the organization in team:ORG/SLUG: "
                      f"login is empty; {LOGIN_RULE}"),
        ("team:a_b/dba", "invalid principal 'team:a_b/dba': the organization in "
                         f"team:ORG/SLUG: invalid login 'a_b': {LOGIN_RULE}"),
        ("Team:acme/dba", f"invalid principal 'Team:acme/dba': {ANY_PRINCIPAL}"),
        (" user:alice", f"invalid principal ' user:alice': {ANY_PRINCIPAL}"),
        ("", f"invalid principal '': {ANY_PRINCIPAL}"),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_invalid_principals_are_rejected_with_the_forms(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_principal(text)
    assert str(info.value) == message


@given(st.text(max_size=50))
def test_login_and_principal_parsers_raise_only_value_error(text: str) -> None:
    for parse in (parse_login, parse_principal):
        try:
            parse(text)
        except ValueError:
            pass
