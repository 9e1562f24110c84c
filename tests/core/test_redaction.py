"""Redaction replaces whole values and withholds whole messages: never a fragment, whose place
in a known text would show the secret."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.core.redaction import REDACTED, redact_values, withhold


def test_a_secret_inside_a_longer_word_takes_the_whole_word_with_it() -> None:
    assert redact_values("the passenger left", ["pass"]) == "the [redacted] left"


def test_values_end_at_separators_so_keys_and_hosts_stay() -> None:
    text = "token=tok-123 postgresql://app:s3cret@db/orders 'hunter2' (on)"
    assert redact_values(text, ["tok-123", "s3cret", "hunter2", "on"]) == (
        "token=[redacted] postgresql://app:[redacted]@db/orders '[redacted]' ([redacted])")


def test_a_secret_that_holds_separators_is_redacted_with_the_values_around_it() -> None:
    assert redact_values("x ab:cd@ef y", ["b:cd@e"]) == "x [redacted] y"


def test_overlapping_secrets_are_one_redaction() -> None:
    assert redact_values("abcdef ghi", ["abcd", "cdef"]) == "[redacted] ghi"


def test_withhold_drops_the_whole_message() -> None:
    instead = "(withheld)"
    assert withhold('database "orders" does not exist', ["orders"], instead) == instead
    assert withhold("role does not exist", ["orders"], instead) == "role does not exist"
    assert withhold("anything", [""], instead) == "anything"


_WORD = st.text(alphabet="abcd=:@ '", min_size=0, max_size=40)


@given(text=_WORD, secret=st.text(alphabet="abcd", min_size=1, max_size=4))
def test_no_secret_and_no_fragment_of_a_value_that_held_it_survives(text: str,
                                                                    secret: str) -> None:
    clean = redact_values(text, [secret])
    assert secret not in clean.replace(REDACTED, " ")
    # Every value left is one of the input's values, whole: nothing was cut out of one.
    kept = [v for v in _values(clean.replace(REDACTED, " ")) if v]
    assert all(v in _values(text) for v in kept)


def _values(text: str) -> list[str]:
    for sep in "=:@'":
        text = text.replace(sep, " ")
    return text.split(" ")
