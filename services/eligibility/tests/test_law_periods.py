"""資格履歴: one person's 第1号 / 任意加入 periods, changed only in ways the law allows, never overlapping."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from eligibility.domain import (
    Acquisition,
    AcquisitionReason,
    AlreadyInsuredError,
    CategoryChange,
    CategoryNotKeptError,
    InsuredCategory,
    Loss,
    LossBeforeAcquisitionError,
    LossReason,
    LossWithoutOpenPeriodError,
    NoSuchChangeError,
    NotACategoryChangeError,
    OverlappingPeriodsError,
    QualificationHistory,
    QualificationPeriod,
    QualificationRuleError,
    ReasonDoesNotFitCategoryError,
    loss_on_death,
    loss_on_moving_abroad,
    loss_on_reaching_60,
)
from hypothesis import given, settings
from hypothesis import strategies as st

D = date.fromisoformat
CAT1, CAT2, CAT3, VOL = (
    InsuredCategory.CATEGORY_1,
    InsuredCategory.CATEGORY_2,
    InsuredCategory.CATEGORY_3,
    InsuredCategory.VOLUNTARY,
)
AR, LR = AcquisitionReason, LossReason


def moved_in(on: str) -> Acquisition:
    return Acquisition(CAT1, D(on), AR.MOVED_IN_FROM_ABROAD)


def period(acquired_on: str, lost_on: str | None = None, *, category: InsuredCategory = CAT1) -> QualificationPeriod:
    reason = AR.MOVED_IN_FROM_ABROAD if category is CAT1 else AR.VOLUNTARY_APPLICATION
    return QualificationPeriod(
        category, D(acquired_on), reason, D(lost_on) if lost_on else None, LR.MOVED_ABROAD if lost_on else None
    )


EMPTY = QualificationHistory()


# --- a period on its own -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error"),
    [
        pytest.param(
            lambda: QualificationPeriod(CAT1, D("2025-04-01"), AR.REACHED_20, D("2025-03-31"), LR.DEATH),
            LossBeforeAcquisitionError,
            id="loss-before-acquisition",
        ),
        pytest.param(
            lambda: QualificationPeriod(CAT2, D("2025-04-01"), AR.FILED),
            CategoryNotKeptError,
            id="第2号-is-kept-by-JPS",
        ),
        pytest.param(
            lambda: QualificationPeriod(CAT1, D("2025-04-01"), AR.VOLUNTARY_APPLICATION),
            ReasonDoesNotFitCategoryError,
            id="申出-does-not-start-第1号",
        ),
        pytest.param(
            lambda: QualificationPeriod(CAT1, D("2025-04-01"), AR.REACHED_20, D("2030-01-01"), LR.REACHED_65),
            ReasonDoesNotFitCategoryError,
            id="65歳到達-does-not-end-第1号",
        ),
        pytest.param(
            lambda: QualificationPeriod(VOL, D("2025-04-01"), AR.VOLUNTARY_APPLICATION, D("2030-01-01"), LR.REACHED_60),
            ReasonDoesNotFitCategoryError,
            id="60歳到達-does-not-end-任意加入",
        ),
    ],
)
def test_a_period_the_law_does_not_allow_is_refused(
    build: Callable[[], QualificationPeriod], error: type[QualificationRuleError]
) -> None:
    with pytest.raises(error) as raised:
        build()
    assert raised.value.rule in str(raised.value)


def test_a_loss_day_needs_its_reason() -> None:
    with pytest.raises(ValueError, match="go together"):
        QualificationPeriod(CAT1, D("2025-04-01"), AR.REACHED_20, D("2026-04-01"))


@pytest.mark.parametrize(
    ("day", "covered"),
    [
        pytest.param("2024-03-31", False, id="day-before-acquisition"),
        pytest.param("2024-04-01", True, id="day-of-acquisition"),
        pytest.param("2025-03-31", True, id="last-insured-day"),
        pytest.param("2025-04-01", False, id="day-of-loss-is-no-longer-insured"),
    ],
)
def test_a_period_runs_from_the_day_of_acquisition_up_to_the_day_of_loss(day: str, covered: bool) -> None:
    assert period("2024-04-01", "2025-04-01").covers(D(day)) is covered


# --- a life, told by its changes --------------------------------------------------------------------------------


def test_a_life_of_moves_abroad_category_changes_and_death() -> None:
    """Born 1990-05-10: 20歳到達 2010-05-09; 国外転出 2015-03-31; 国外転入 2018-10-01; 第2号 from 2020-04-01;
    厚生年金 lost 2023-07-01 (種別変更 back to 第1号); died 2024-01-31 (a month end)."""
    history = (
        EMPTY.acquire(Acquisition(CAT1, D("2010-05-09"), AR.REACHED_20))
        .lose(loss_on_moving_abroad(D("2015-03-31")))
        .acquire(moved_in("2018-10-01"))
        .change_category(CategoryChange(CAT1, CAT2, D("2020-04-01")))
        .change_category(CategoryChange(CAT2, CAT1, D("2023-07-01")))
        .lose(loss_on_death(D("2024-01-31")))
    )
    assert history.periods == (
        QualificationPeriod(CAT1, D("2010-05-09"), AR.REACHED_20, D("2015-04-01"), LR.MOVED_ABROAD),
        QualificationPeriod(CAT1, D("2018-10-01"), AR.MOVED_IN_FROM_ABROAD, D("2020-04-01"), LR.BECAME_CATEGORY_2),
        QualificationPeriod(CAT1, D("2023-07-01"), AR.LEFT_CATEGORY_2, D("2024-02-01"), LR.DEATH),
    )
    assert history.open_period is None
    # 2010-05..2015-03 (59) + 2018-10..2020-03 (18) + 2023-07..2024-01, the month of death (7)
    assert [p.insured_months() for p in history.periods] == [59, 18, 7]
    assert history.insured_months(as_of=D("2030-01-01")) == 84


def test_moving_abroad_the_same_day_as_becoming_category_2_ends_category_1_that_day() -> None:
    """国外転出 2025-03-31 and 第2号 (posted abroad) the same day: 第1号 ends 2025-03-31; March is 第2号's."""
    history = EMPTY.acquire(moved_in("2020-04-01"))
    same_day = history.lose(loss_on_moving_abroad(D("2025-03-31"), became_on_same_day=CAT2))
    plain = history.lose(loss_on_moving_abroad(D("2025-03-31")))
    assert same_day.periods[0].lost_on == D("2025-03-31")
    assert same_day.periods[0].loss_reason is LR.BECAME_CATEGORY_2
    assert plain.periods[0].lost_on == D("2025-04-01")
    assert same_day.insured_months(as_of=D("2030-01-01")) == 59  # 2020-04..2025-02
    assert plain.insured_months(as_of=D("2030-01-01")) == 60  # 2020-04..2025-03


def test_acquisition_and_loss_in_the_same_month_count_that_month_once() -> None:
    """国外転入 2024-04-10, 国外転出 2024-04-19 (loss 04-20): 11条2項 [unconfirmed detail] → 1 month."""
    history = EMPTY.acquire(moved_in("2024-04-10")).lose(loss_on_moving_abroad(D("2024-04-19")))
    assert history.insured_months(as_of=D("2024-12-31")) == 1


def test_a_month_touched_by_two_periods_counts_once() -> None:
    """11条2項ただし書: lost and re-acquired in April 2024 → April counts once (April–June = 3)."""
    history = (
        EMPTY.acquire(moved_in("2024-04-10"))
        .lose(loss_on_moving_abroad(D("2024-04-14")))
        .acquire(moved_in("2024-04-25"))
    )
    assert [p.insured_months(as_of=D("2024-06-30")) for p in history.periods] == [1, 3]
    assert history.insured_months(as_of=D("2024-06-30")) == 3


def test_reaching_60_then_joining_voluntarily() -> None:
    """Born 1966-04-02: 第1号 ends on the 60歳到達日 2026-04-01 (last month 2026-03); 任意加入 by 申出 that day."""
    history = (
        EMPTY.acquire(Acquisition(CAT1, D("1986-04-01"), AR.REACHED_20))
        .lose(loss_on_reaching_60(D("1966-04-02")))
        .acquire(Acquisition(VOL, D("2026-04-01"), AR.VOLUNTARY_APPLICATION))
    )
    assert history.period_on(D("2026-03-31")) == history.periods[0]
    assert history.period_on(D("2026-04-01")) == history.periods[1]
    assert history.insured_months(as_of=D("2026-06-30"), categories=frozenset({CAT1})) == 480
    assert history.insured_months(as_of=D("2026-06-30"), categories=frozenset({VOL})) == 3


# --- refusals ----------------------------------------------------------------------------------------------------

OPEN_FROM_2024 = EMPTY.acquire(moved_in("2024-04-01"))
CLOSED_2024 = OPEN_FROM_2024.lose(loss_on_moving_abroad(D("2024-09-30")))  # [2024-04-01, 2024-10-01)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param(lambda: EMPTY.lose(loss_on_death(D("2024-05-01"))), LossWithoutOpenPeriodError, id="loss-no-open"),
        pytest.param(
            lambda: CLOSED_2024.lose(loss_on_death(D("2025-05-01"))), LossWithoutOpenPeriodError, id="loss-twice"
        ),
        pytest.param(
            lambda: OPEN_FROM_2024.lose(loss_on_death(D("2024-02-01"))),
            LossBeforeAcquisitionError,
            id="loss-before-acquisition",
        ),
        pytest.param(
            lambda: OPEN_FROM_2024.acquire(moved_in("2024-06-01")), AlreadyInsuredError, id="acquire-while-insured"
        ),
        pytest.param(
            lambda: OPEN_FROM_2024.acquire(moved_in("2024-04-01")), AlreadyInsuredError, id="same-acquisition-twice"
        ),
        pytest.param(
            lambda: CLOSED_2024.acquire(moved_in("2024-09-30")),
            AlreadyInsuredError,
            id="acquire-on-the-last-insured-day-of-a-closed-period",
        ),
        pytest.param(
            lambda: CLOSED_2024.acquire(moved_in("2024-01-10")),
            OverlappingPeriodsError,
            id="late-acquisition-would-run-into-a-later-period",
        ),
        pytest.param(
            lambda: CLOSED_2024.record(period("2024-09-01", "2024-12-01")),
            OverlappingPeriodsError,
            id="recorded-period-overlaps",
        ),
        pytest.param(
            lambda: QualificationHistory((period("2024-01-01", "2024-06-01"), period("2024-05-31"))),
            OverlappingPeriodsError,
            id="a-history-built-with-overlaps",
        ),
        pytest.param(
            lambda: OPEN_FROM_2024.record(period("2025-01-01", category=VOL)),
            OverlappingPeriodsError,
            id="任意加入-overlapping-第1号",
        ),
        pytest.param(
            lambda: OPEN_FROM_2024.lose(Loss(D("2025-01-01"), LR.REACHED_65)),
            ReasonDoesNotFitCategoryError,
            id="65歳到達-ending-第1号",
        ),
        pytest.param(
            lambda: EMPTY.acquire(Acquisition(VOL, D("2024-01-01"), AR.VOLUNTARY_APPLICATION)).change_category(
                CategoryChange(CAT1, CAT2, D("2024-06-01"))
            ),
            NotACategoryChangeError,
            id="任意加入-does-not-change-category",
        ),
        pytest.param(
            lambda: CategoryChange(CAT2, CAT3, D("2024-06-01")), NotACategoryChangeError, id="2→3-is-not-ours"
        ),
        pytest.param(
            lambda: CategoryChange(CAT1, VOL, D("2024-06-01")), NotACategoryChangeError, id="1→任意加入-is-a-申出"
        ),
        pytest.param(
            lambda: OPEN_FROM_2024.change_category(CategoryChange(CAT2, CAT1, D("2024-06-01"))),
            AlreadyInsuredError,
            id="2→1-while-already-第1号",
        ),
        pytest.param(
            lambda: CLOSED_2024.cancel_acquisition(CAT1, D("2024-04-02")), NoSuchChangeError, id="cancel-nothing"
        ),
        pytest.param(lambda: OPEN_FROM_2024.cancel_loss(CAT1, D("2024-10-01")), NoSuchChangeError, id="no-such-loss"),
    ],
)
def test_a_change_the_law_does_not_allow_is_refused_and_names_the_rule(
    change: Callable[[], object], error: type[QualificationRuleError]
) -> None:
    with pytest.raises(error) as raised:
        change()
    assert raised.value.rule
    assert str(raised.value).startswith(raised.value.rule)


def test_a_refused_change_leaves_the_history_as_it_was() -> None:
    before = OPEN_FROM_2024.periods
    with pytest.raises(AlreadyInsuredError):
        OPEN_FROM_2024.acquire(moved_in("2024-06-01"))
    assert OPEN_FROM_2024.periods == before


def test_a_period_learned_late_is_recorded_in_date_order() -> None:
    history = CLOSED_2024.record(period("2020-01-01", "2021-01-01"))
    assert [p.acquired_on for p in history.periods] == [D("2020-01-01"), D("2024-04-01")]


# --- category changes and cancellations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "reason"),
    [(CAT2, LR.BECAME_CATEGORY_2), (CAT3, LR.BECAME_CATEGORY_3)],
    ids=["第1号→第2号", "第1号→第3号"],
)
def test_a_category_change_from_category_1_ends_the_period_that_day(new: InsuredCategory, reason: LossReason) -> None:
    history = OPEN_FROM_2024.change_category(CategoryChange(CAT1, new, D("2024-11-01")))
    assert (history.periods[0].lost_on, history.periods[0].loss_reason) == (D("2024-11-01"), reason)


def test_cancelling_an_acquisition_removes_the_period() -> None:
    """異動の取消し: the 国外転入 was void, so was the period (and the loss recorded on it)."""
    assert CLOSED_2024.cancel_acquisition(CAT1, D("2024-04-01")).periods == ()


def test_cancelling_a_loss_reopens_the_period() -> None:
    reopened = CLOSED_2024.cancel_loss(CAT1, D("2024-10-01"))
    assert reopened.open_period == period("2024-04-01")


def test_a_loss_cannot_be_cancelled_over_a_later_period() -> None:
    history = CLOSED_2024.acquire(moved_in("2025-01-01"))
    with pytest.raises(OverlappingPeriodsError):
        history.cancel_loss(CAT1, D("2024-10-01"))


def test_cancelling_category_changes_undoes_them() -> None:
    to_2 = CategoryChange(CAT1, CAT2, D("2024-11-01"))
    back_to_1 = CategoryChange(CAT2, CAT1, D("2025-04-01"))
    history = OPEN_FROM_2024.change_category(to_2).change_category(back_to_1)
    without_return = history.cancel_category_change(back_to_1)
    assert without_return.periods == (history.periods[0],)
    assert without_return.cancel_category_change(to_2).periods == OPEN_FROM_2024.periods


# --- properties ---------------------------------------------------------------------------------------------------

days = st.dates(min_value=D("2020-01-01"), max_value=D("2022-12-31"))


@given(st.lists(days, min_size=1, max_size=12, unique=True).map(sorted))
def test_alternating_acquisitions_and_losses_in_date_order_are_always_accepted(dates: list[date]) -> None:
    history = EMPTY
    for index, day in enumerate(dates):
        if index % 2 == 0:
            history = history.acquire(Acquisition(CAT1, day, AR.MOVED_IN_FROM_ABROAD))
        else:
            history = history.lose(Loss(day, LR.MOVED_ABROAD))
    assert len(history.periods) == (len(dates) + 1) // 2
    assert (history.open_period is not None) is (len(dates) % 2 == 1)
    assert_invariants(history)


@dataclass(frozen=True)
class Op:
    """One change offered to a history; ``pick`` chooses among its periods for cancellations."""

    kind: str
    category: InsuredCategory
    day: date
    reason_index: int
    pick: int


ops = st.builds(
    Op,
    kind=st.sampled_from(["acquire", "lose", "change", "cancel_acquisition", "cancel_loss", "record"]),
    category=st.sampled_from([CAT1, VOL]),
    day=days,
    reason_index=st.integers(0, 20),
    pick=st.integers(0, 20),
)
CHANGES = [
    CategoryChange(CAT1, CAT2, D("2000-01-01")),
    CategoryChange(CAT1, CAT3, D("2000-01-01")),
    CategoryChange(CAT2, CAT1, D("2000-01-01")),
    CategoryChange(CAT3, CAT1, D("2000-01-01")),
]


def apply(history: QualificationHistory, op: Op) -> QualificationHistory:
    acquisition_reasons = [r for r in AcquisitionReason if op.category in r.fits]
    loss_reasons = list(LossReason)
    match op.kind:
        case "acquire":
            reason = acquisition_reasons[op.reason_index % len(acquisition_reasons)]
            return history.acquire(Acquisition(op.category, op.day, reason))
        case "lose":
            return history.lose(Loss(op.day, loss_reasons[op.reason_index % len(loss_reasons)]))
        case "change":
            template = CHANGES[op.reason_index % len(CHANGES)]
            return history.change_category(CategoryChange(template.from_category, template.to_category, op.day))
        case "cancel_acquisition" | "cancel_loss" if history.periods:
            target = history.periods[op.pick % len(history.periods)]
            if op.kind == "cancel_acquisition":
                return history.cancel_acquisition(target.category, target.acquired_on)
            if target.lost_on is None:
                return history
            return history.cancel_loss(target.category, target.lost_on)
        case "record":
            reason = acquisition_reasons[op.reason_index % len(acquisition_reasons)]
            lost_on = date.fromordinal(op.day.toordinal() + op.pick * 30)
            return history.record(QualificationPeriod(op.category, op.day, reason, lost_on, LossReason.FILED))
        case _:
            return history


def share_a_day(a: QualificationPeriod, b: QualificationPeriod) -> bool:
    """Written apart from the domain's own overlap check, so that the two can disagree."""
    last_a = (a.lost_on or date.max).toordinal() - 1
    last_b = (b.lost_on or date.max).toordinal() - 1
    return max(a.acquired_on.toordinal(), b.acquired_on.toordinal()) <= min(last_a, last_b)


def assert_invariants(history: QualificationHistory) -> None:
    for earlier, later in itertools.combinations(history.periods, 2):
        assert not share_a_day(earlier, later), (earlier, later)
        assert earlier.acquired_on <= later.acquired_on
    assert sum(p.is_open for p in history.periods) <= 1
    for p in history.periods:
        assert p.lost_on is None or p.lost_on >= p.acquired_on
    assert history.insured_months(as_of=D("2023-12-31")) >= 0
    assert all(p.insured_months(as_of=D("2023-12-31")) >= 0 for p in history.periods)
    # The periods make a valid history on their own (the constructor re-checks every rule).
    assert QualificationHistory(history.periods) == history


@settings(max_examples=300)
@given(st.lists(ops, max_size=30))
def test_no_sequence_of_changes_ever_makes_periods_overlap(sequence: list[Op]) -> None:
    history = EMPTY
    for op in sequence:
        with contextlib.suppress(QualificationRuleError):  # refused: the history stays as it was
            history = apply(history, op)
        assert_invariants(history)


@given(st.lists(ops, max_size=30), days)
def test_at_most_one_period_covers_any_day(sequence: list[Op], day: date) -> None:
    history = EMPTY
    for op in sequence:
        try:
            history = apply(history, op)
        except QualificationRuleError:
            continue
    covering = [p for p in history.periods if p.covers(day)]
    assert len(covering) <= 1
    assert history.period_on(day) == (covering[0] if covering else None)
