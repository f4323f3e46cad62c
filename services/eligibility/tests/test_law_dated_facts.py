"""Deriving a qualification history from dated facts (domain/dated_facts.py): the cases the property test
reaches rarely — given periods (filings, or recorded before facts were kept), 在留資格, full-extract persons."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import fields, replace
from datetime import date

from eligibility.domain.categories import InsuredCategory, OtherCategoryStatus
from eligibility.domain.dated_facts import CalendarFactKind, DatedFact, FactKind, _Walk, derive_history
from eligibility.domain.periods import QualificationHistory, QualificationPeriod
from eligibility.domain.qualification import AcquisitionReason
from eligibility.domain.residency_effects import PersonChange as K
from eligibility.domain.residency_effects import PersonState

D = date.fromisoformat
TODAY = D("2026-12-05")
_ids = (uuid.UUID(int=n) for n in itertools.count(1))
MEDICAL_STAY = ("特定活動", "医療滞在")


def fact(kind: FactKind, on: str, *, recorded: str | None = None, status: tuple[str, str] | None = None) -> DatedFact:
    return DatedFact(
        next(_ids),
        kind,
        D(on),
        D(recorded or on),
        residence_status=status[0] if status else None,
        designated_activity=status[1] if status else None,
    )


def periods(history: QualificationHistory) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (
            p.acquired_on.isoformat(),
            p.acquisition_reason.value,
            p.lost_on.isoformat() if p.lost_on else None,
            p.loss_reason.value if p.loss_reason else None,
        )
        for p in history.periods
    ]


def test_a_person_first_seen_in_a_full_extract_is_not_enrolled_from_their_20th_year() -> None:
    # Their history before the city observed them is JPS's; the calendar enrols those turning 20 from now on.
    registered = fact(K.REGISTERED, "2010-05-01", recorded="2026-11-01")
    assert periods(derive_history([registered], PersonState(birth=D("1990-05-05")), TODAY)) == []
    announced = fact(CalendarFactKind.REACHED_20, "2026-11-20")
    assert periods(derive_history([registered, announced], PersonState(birth=D("2006-11-21")), TODAY)) == [
        ("2026-11-20", "reached_20", None, None)
    ]


def test_a_person_born_here_acquires_on_the_20th_age_day_and_none_after_moving_out_of_the_city() -> None:
    born = fact(K.BORN, "2006-04-01")
    assert periods(derive_history([born], PersonState(birth=D("2006-04-01")), TODAY)) == [
        ("2026-03-31", "reached_20", None, None)
    ]
    moved_out = fact(K.MOVED_OUT_DOMESTIC, "2025-08-01")  # another city enrols them (国内転出)
    assert periods(derive_history([born, moved_out], PersonState(birth=D("2006-04-01")), TODAY)) == []


def test_becoming_excluded_by_residence_status_ends_category_1_that_day() -> None:
    permanent = ("永住者", "")
    facts = [
        fact(K.MOVED_IN_FROM_ABROAD, "2025-04-01", status=permanent),
        fact(K.IDENTITY_AMENDED, "2026-02-01", status=MEDICAL_STAY),
    ]
    assert periods(derive_history(facts, PersonState(birth=D("1980-01-01")), TODAY)) == [
        ("2025-04-01", "moved_in_from_abroad", "2026-02-01", "became_excluded")
    ]


def test_a_period_a_filing_set_stands_and_the_facts_losses_still_end_it() -> None:
    person = PersonState(birth=D("1980-01-01"))
    moved_in = fact(K.MOVED_IN_FROM_ABROAD, "2025-04-01")
    # Staff corrected the acquisition to 2025-03-20 by a filing: the derived period from 2025-04-01 gives way.
    filed = QualificationPeriod(InsuredCategory.CATEGORY_1, D("2025-03-20"), AcquisitionReason.FILED)
    assert periods(derive_history([moved_in], person, TODAY, [filed])) == [("2025-03-20", "filed", None, None)]
    died = fact(K.DIED, "2026-01-31")
    assert periods(derive_history([moved_in, died], person, TODAY, [filed])) == [
        ("2025-03-20", "filed", "2026-02-01", "death")
    ]


def test_a_period_recorded_before_facts_were_kept_still_ends_at_60() -> None:
    before = QualificationPeriod(InsuredCategory.CATEGORY_1, D("2010-05-01"), AcquisitionReason.MOVED_IN_FROM_ABROAD)
    announced = fact(CalendarFactKind.REACHED_60, "2026-04-01")
    derived = derive_history([announced], PersonState(birth=D("1966-04-02")), TODAY, [before])
    assert periods(derived) == [("2010-05-01", "moved_in_from_abroad", "2026-04-01", "reached_60")]


def test_a_future_move_abroad_waits_for_its_day_and_a_cancelled_one_never_counts() -> None:
    person = PersonState(birth=D("1980-01-01"))
    moved_in = fact(K.MOVED_IN_FROM_ABROAD, "2025-04-01")
    leaving = fact(K.MOVED_OUT_ABROAD, "2027-01-10")
    assert periods(derive_history([moved_in, leaving], person, TODAY)) == [
        ("2025-04-01", "moved_in_from_abroad", None, None)
    ]
    due = fact(CalendarFactKind.MOVE_ABROAD_EFFECTIVE, "2027-01-10")
    assert periods(derive_history([moved_in, leaving, due], person, TODAY)) == [
        ("2025-04-01", "moved_in_from_abroad", "2027-01-11", "moved_abroad")
    ]
    cancel = DatedFact(next(_ids), K.CHANGE_CANCELLED, D("2027-01-10"), D("2027-01-12"), cancels=leaving.event_id)
    assert periods(derive_history([moved_in, leaving, due, cancel], person, TODAY)) == [
        ("2025-04-01", "moved_in_from_abroad", None, None)
    ]


def test_a_change_dated_before_a_corrected_birth_date_judges_nothing_and_breaks_nothing() -> None:
    # 誤記修正 of the 生年月日 can leave an earlier change before the birth: the history is still derived.
    facts = [fact(K.MOVED_IN_FROM_ABROAD, "2004-01-10"), fact(K.MOVED_WITHIN_CITY, "2025-02-01")]
    assert periods(derive_history(facts, PersonState(birth=D("2005-03-03")), TODAY)) == [
        ("2025-03-02", "reached_20", None, None)
    ]


def test_the_person_of_each_day_keeps_every_field_the_facts_do_not_date() -> None:
    # _Walk builds the person as on a day field by field (cheaper than dataclasses.replace): none may be left out.
    person = PersonState(
        birth=D("1990-05-05"),
        lives_in_japan=False,
        is_resident=False,
        other_category=OtherCategoryStatus.CATEGORY_3,
        residence_status="永住者",
        designated_activity="医療滞在",
        can_receive_kosei_old_age_benefit=True,
        basic_pension_number="1234567890",
    )
    assert all(getattr(person, f.name) != f.default for f in fields(PersonState)), "a field left at its default"
    day = _Walk(person, [], None, None)._state(("特定活動", None), lives_in_japan=True, resident=True)
    assert day == replace(
        person, lives_in_japan=True, is_resident=True, residence_status="特定活動", designated_activity=None
    )
