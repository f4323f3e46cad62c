"""Properties of deriving a history from resident changes and calendar facts (hypothesis), pure and fast:

- any sequence leaves a valid history (no overlapping periods, no loss before acquisition);
- a redelivered fact changes nothing (applying each fact twice in a row gives the history of once);
- persons are independent: interleaving several persons' streams in any order (each person's own order
  kept, as Kafka keeps it per key) gives every person the history of their stream alone.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from eligibility.domain.age import age_reached_on
from eligibility.domain.categories import OtherCategoryStatus
from eligibility.domain.dated_facts import CalendarFactKind, DatedFact, derive_history
from eligibility.domain.periods import QualificationHistory
from eligibility.domain.residency_effects import (
    PersonChange,
    PersonState,
    died,
    moved_abroad,
    moved_in_from_abroad,
    reached_60,
)
from hypothesis import given, settings
from hypothesis import strategies as st

TODAY = date(2026, 11, 27)
KINDS = [
    PersonChange.MOVED_IN_FROM_ABROAD,
    PersonChange.DIED,
    PersonChange.MOVED_OUT_ABROAD,
    PersonChange.MOVED_WITHIN_CITY,
    PersonChange.REMOVED_EX_OFFICIO,
    PersonChange.REGISTERED,
]
Fact = tuple[str, date]

# Judgeable facts only: the age rule's dated table starts with the current scheme (1986-04), so people
# reach 20 after it; and no fact predates birth (the residency contract refuses such changes, and an
# event that still carried one would be dead-lettered by the handler's error).
births = st.dates(min_value=date(1967, 1, 1), max_value=date(2010, 12, 31))
facts = st.lists(
    st.tuples(
        st.sampled_from([*[k.value for k in KINDS], "reached_20", "reached_60"]),
        st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
    ),
    max_size=12,
)


def after_birth(person: PersonState, stream: list[Fact]) -> list[Fact]:
    return [f for f in stream if f[1] >= person.birth]


def dated(person: PersonState, fact: Fact, n: int) -> DatedFact:
    kind, on = fact
    if kind in ("reached_20", "reached_60"):  # the calendar announces the day the age is reached
        return DatedFact(uuid.UUID(int=n), CalendarFactKind(kind), age_reached_on(person.birth, int(kind[-2:])), on)
    return DatedFact(uuid.UUID(int=n), PersonChange(kind), on, on)


def run(person: PersonState, stream: list[Fact], *, twice: bool = False) -> QualificationHistory:
    facts: list[DatedFact] = []
    for n, fact in enumerate(after_birth(person, stream)):
        facts.extend([dated(person, fact, n)] * (2 if twice else 1))
    return derive_history(facts, person, TODAY)


@settings(max_examples=300, deadline=None)
@given(births, facts)
def test_every_sequence_leaves_a_valid_history(birth: date, stream: list[Fact]) -> None:
    history = run(PersonState(birth=birth), stream)
    QualificationHistory(history.periods)  # re-checks every invariant
    for period in history.periods:
        assert period.lost_on is None or period.lost_on >= period.acquired_on


@settings(max_examples=300, deadline=None)
@given(births, facts)
def test_a_redelivered_fact_changes_nothing(birth: date, stream: list[Fact]) -> None:
    person = PersonState(birth=birth)
    assert run(person, stream, twice=True) == run(person, stream)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(births, facts), min_size=2, max_size=4), st.randoms(use_true_random=False))
def test_interleaving_persons_in_any_order_gives_each_the_history_of_its_own_stream(
    people: list[tuple[date, list[Fact]]], rnd: object
) -> None:
    states = [PersonState(birth=b, other_category=OtherCategoryStatus.UNKNOWN) for b, _ in people]
    queues = [after_birth(state, stream) for state, (_, stream) in zip(states, people, strict=True)]
    received: list[list[DatedFact]] = [[] for _ in people]
    n = 0
    while any(queues):
        who = rnd.choice([i for i, q in enumerate(queues) if q])  # type: ignore[attr-defined]
        received[who].append(dated(states[who], queues[who].pop(0), n))
        n += 1
    histories = [derive_history(facts, state, TODAY) for facts, state in zip(received, states, strict=True)]
    assert histories == [run(state, stream) for state, (_, stream) in zip(states, people, strict=True)]


def test_a_late_death_corrects_a_loss_recorded_after_it() -> None:
    person = PersonState(birth=date(1966, 4, 2))
    history = moved_in_from_abroad(person, date(2020, 1, 10), QualificationHistory())
    history = reached_60(person, history)
    assert history.periods[0].lost_on == date(2026, 4, 1)
    history = died(date(2026, 3, 1), history)
    assert (history.periods[0].lost_on, history.periods[0].loss_reason.value) == (date(2026, 3, 2), "death")


def test_a_late_move_abroad_shortens_a_period_without_touching_the_one_recorded_after_it() -> None:
    # Found by hypothesis: reopening the period to re-end it collided with the later period.
    person = PersonState(birth=date(1988, 1, 1))
    history = moved_in_from_abroad(person, date(2008, 1, 1), QualificationHistory())
    history = died(date(2008, 1, 2), history)
    history = moved_in_from_abroad(person, date(2008, 1, 3), history)
    history = moved_abroad(date(2008, 1, 1), history)
    assert [(p.acquired_on, p.lost_on) for p in history.periods] == [
        (date(2008, 1, 1), date(2008, 1, 2)),
        (date(2008, 1, 3), None),
    ]


def test_a_move_abroad_after_returning_ends_only_the_period_it_falls_in() -> None:
    person = PersonState(birth=date(1980, 1, 1))
    history = moved_in_from_abroad(person, date(2020, 1, 10), QualificationHistory())
    history = moved_abroad(date(2021, 5, 31), history)
    history = moved_in_from_abroad(person, date(2023, 7, 1), history)
    history = moved_abroad(date(2021, 5, 31) + timedelta(days=0), history)  # the same fact again: no change
    assert [(p.acquired_on, p.lost_on) for p in history.periods] == [
        (date(2020, 1, 10), date(2021, 6, 1)),
        (date(2023, 7, 1), None),
    ]
