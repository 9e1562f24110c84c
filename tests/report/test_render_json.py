"""The report's JSON is written by its own indenter (json's C encoder does not indent); it
must print exactly what ``json.dumps(value, indent=2)`` prints."""

from __future__ import annotations

import json
import random
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from engine.report.render import indented_json


class Colour(StrEnum):
    RED = "red"


class Size(IntEnum):
    BIG = 7


TEXTS = ["", "plain", "naïve ‮ \u2028 text", 'quote " and \\ backslash', "line\nbreak\ttab",
         "emoji \U0001f600", "<script>&amp;</script>", "@everyone"]


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(TEXTS)
    if kind == 1:
        return rng.choice([0, -1, 12, 2**70])
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return rng.choice([0.5, -2.0, 1e300, float("inf"), float("nan")])
    if kind == 4:
        return rng.choice([Colour.RED, Size.BIG])
    if kind == 5:
        return rng.choice([[], {}, ()])
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return tuple(_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {rng.choice(TEXTS + ["k1", "k2"]): _value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


@pytest.mark.parametrize("value", [
    {}, [], {"a": []}, {"a": {}}, [[[]]], "x", 3, None, True, 1.5,
    {"rows": [{"login": "ann", "policy": "db", "role": "requester", "via": "group:sre"}]},
    {"nested": {"flat": {"a": "b", "c": "d"}, "mixed": {"a": "b", "n": 1, "l": ["x"]}}},
    {1: "int key", "x": {2.5: 1, True: 2, None: 3}},
    {"enum": Colour.RED, "int": Size.BIG, "tuple": (1, ("a",))},
])
def test_the_indenter_prints_what_json_prints(value: Any) -> None:
    assert indented_json(value) == json.dumps(value, indent=2)


def test_the_indenter_agrees_with_json_on_random_documents() -> None:
    rng = random.Random(10)
    for _ in range(2000):
        value = _value(rng, 0)
        assert indented_json(value) == json.dumps(value, indent=2), value


def test_the_indenter_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError):
        indented_json({"when": object()})
