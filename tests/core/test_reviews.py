"""Review folding and assigning approvers to steps: examples, then properties (hypothesis)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from engine.core.models import Login, Review, ReviewState
from engine.core.reviews import assign, fold, is_bot

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
STATES = list(ReviewState)
DAVE = Login("dave")
DECISIVE = {ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED, ReviewState.DISMISSED}


def r(who: str, state: ReviewState = ReviewState.APPROVED, minute: int | None = 0,
      review_id: int = 0, bot: bool = False) -> Review:
    at = None if minute is None else T0 + timedelta(minutes=minute)
    return Review(Login(who), state, "a" * 40, at, bot, review_id)


def L(*names: str) -> frozenset[Login]:
    return frozenset(Login(n) for n in names)


# --- fold ------------------------------------------------------------------------------------


def test_fold_keeps_the_latest_decisive_review_per_reviewer() -> None:
    reviews = [r("dave", ReviewState.APPROVED, 1), r("sam", ReviewState.CHANGES_REQUESTED, 2),
               r("dave", ReviewState.CHANGES_REQUESTED, 3), r("dave", ReviewState.COMMENTED, 4),
               r("sam", ReviewState.DISMISSED, 5), r("sue", ReviewState.COMMENTED, 6)]
    folded = fold(reviews)
    assert folded == {"dave": reviews[2], "sam": reviews[4]}


def test_fold_orders_by_submission_time_then_id_then_position() -> None:
    later_listed_first = [r("dave", ReviewState.APPROVED, 2), r("dave", ReviewState.DISMISSED, 1)]
    assert fold(later_listed_first)[DAVE].state is ReviewState.APPROVED
    same_second = [r("dave", ReviewState.APPROVED, 1, review_id=9),
                   r("dave", ReviewState.DISMISSED, 1, review_id=3)]
    assert fold(same_second)[DAVE].state is ReviewState.APPROVED
    same_id = [r("dave", ReviewState.DISMISSED, 1), r("dave", ReviewState.APPROVED, 1)]
    assert fold(same_id)[DAVE].state is ReviewState.APPROVED


def test_fold_compares_instants_not_wall_clocks() -> None:
    # 09:30+02:00 is 07:30 UTC: before the 08:00 UTC request for changes.
    east = timezone(timedelta(hours=2))
    early = Review(Login("dave"), ReviewState.APPROVED, "a" * 40,
                   datetime(2026, 11, 30, 9, 30, tzinfo=east))
    late = r("dave", ReviewState.CHANGES_REQUESTED, 0)
    assert fold([late, early])[DAVE] is late
    assert fold([early, late])[DAVE] is late


def test_fold_is_case_insensitive() -> None:
    reviews = [r("Dave", ReviewState.APPROVED, 1), r("dave", ReviewState.CHANGES_REQUESTED, 2)]
    assert list(fold(reviews)) == ["dave"]
    assert fold(reviews)[DAVE].state is ReviewState.CHANGES_REQUESTED


def test_is_bot() -> None:
    assert is_bot(r("dave", bot=True))
    assert is_bot(r("renovate[bot]"))
    assert is_bot(r("Renovate[BOT]"))
    assert not is_bot(r("robot"))
    assert not is_bot(r("bot"))


reviewers = st.sampled_from(["dave", "erin", "sam"])
review_lists = st.lists(st.tuples(reviewers, st.sampled_from(STATES)), max_size=12)
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60)


@given(review_lists, st.lists(offsets, min_size=12, max_size=12))
def test_fold_is_the_last_decisive_review(items: list[tuple[str, ReviewState]],
                                         zones: list[int]) -> None:
    # Submitted a minute apart in list order, each stamped in an arbitrary time zone.
    reviews = [
        Review(Login(who), state, "a" * 40,
               (T0 + timedelta(minutes=i)).astimezone(timezone(timedelta(minutes=zones[i]))),
               id=i + 1)
        for i, (who, state) in enumerate(items)
    ]
    expected = {}
    for review in reviews:
        if review.state in DECISIVE:
            expected[review.reviewer] = review
    assert fold(reviews) == expected
    # COMMENTED and PENDING reviews, wherever they are, change nothing.
    assert fold([x for x in reviews if x.state in DECISIVE]) == expected


@given(review_lists, st.randoms(use_true_random=False))
def test_fold_ignores_the_order_of_other_reviewers(items: list[tuple[str, ReviewState]],
                                                  rnd: random.Random) -> None:
    # No times and no ids: the input order is the only tiebreaker, the hardest case.
    reviews = [r(who, state, minute=None) for who, state in items]
    shuffled = reviews[:]
    rnd.shuffle(shuffled)
    # Put each reviewer's own reviews back in their original relative order.
    for who in {x.reviewer for x in reviews}:
        slots = [i for i, x in enumerate(shuffled) if x.reviewer == who]
        own = [x for x in reviews if x.reviewer == who]
        for slot, review in zip(slots, own, strict=True):
            shuffled[slot] = review
    assert fold(shuffled) == fold(reviews)


# --- assign ----------------------------------------------------------------------------------


def test_assign_matches_where_greedy_fails() -> None:
    # alice may approve steps 1 and 2, bob only step 1. Putting alice in step 1 first (sorted
    # order, greedy) would leave step 2 empty; a matching moves her to step 2.
    steps = [(L("alice", "bob"), 1), (L("alice"), 1)]
    assert assign([Login("alice"), Login("bob")], steps).per_step == (("bob",), ("alice",))
    assert assign([Login("bob"), Login("alice")], steps).per_step == (("bob",), ("alice",))


def test_assign_counts_each_person_once() -> None:
    steps = [(L("erin", "dave"), 1), (L("erin", "sam"), 1)]
    assert assign([Login("erin")], steps).per_step in ((("erin",), ()), ((), ("erin",)))
    duplicated = assign([Login("erin"), Login("erin")], [(L("erin"), 2)])
    assert duplicated.per_step == (("erin",),)


def test_assign_never_exceeds_a_step_count_and_ignores_ineligible() -> None:
    steps = [(L("a", "b", "c"), 2)]
    assert assign([Login("a"), Login("b"), Login("c"), Login("z")], steps).per_step == (
        ("a", "b"),)
    assert assign([], steps).per_step == ((),)
    assert assign([Login("a")], []).per_step == ()


PEOPLE = ["p0", "p1", "p2", "p3", "p4"]


def brute_force_best(approvers: list[Login], steps: list[tuple[frozenset[Login], int]]) -> int:
    """The most slots any assignment of approvers (each to one step or none) can fill."""
    best = 0
    for choice in itertools.product(range(len(steps) + 1), repeat=len(approvers)):
        filled = [0] * len(steps)
        for person, step in zip(approvers, choice, strict=True):
            if step < len(steps) and person in steps[step][0]:
                filled[step] += 1
        best = max(best, sum(min(n, count) for n, (_, count) in zip(filled, steps, strict=True)))
    return best


step_strategy = st.tuples(
    st.frozensets(st.sampled_from(PEOPLE).map(Login), max_size=5), st.integers(1, 3))


@given(st.lists(st.sampled_from(PEOPLE).map(Login), max_size=5, unique=True),
       st.lists(step_strategy, max_size=3))
def test_assign_properties(approvers: list[Login],
                           steps: list[tuple[frozenset[Login], int]]) -> None:
    result = assign(approvers, steps).per_step
    assert len(result) == len(steps)
    placed = [person for people in result for person in people]
    assert len(placed) == len(set(placed)), "one person in two steps"
    for people, (eligible, count) in zip(result, steps, strict=True):
        assert len(people) <= count
        assert set(people) <= eligible
        assert set(people) <= set(approvers)
    best = brute_force_best(approvers, steps)
    assert len(placed) == best
    if best == sum(count for _, count in steps):
        assert all(len(p) == c for p, (_, c) in zip(result, steps, strict=True))
