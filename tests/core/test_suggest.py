"""did_you_mean: the closest known name, or nothing."""

from __future__ import annotations

from engine.core.suggest import did_you_mean


def test_the_closest_name_is_suggested() -> None:
    assert did_you_mean("dbas", ["sre", "dba", "security"]) == "did you mean 'dba'? "
    assert did_you_mean("durration", {"duration": 1, "justification": 2}) == (
        "did you mean 'duration'? ")


def test_nothing_close_suggests_nothing() -> None:
    assert did_you_mean("ops", ["sre", "dba"]) == ""
    assert did_you_mean("anything", []) == ""
