"""Builders of contract events for tests and demos: valid by default, every field overridable."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from kokunen_contracts.counter import ExemptionApplicationSubmitted
from kokunen_contracts.eligibility import (
    AcquisitionReason,
    ExemptionApplicationKind,
    InsuredCategory,
    QualificationChanged,
    QualificationChangeKind,
)
from kokunen_contracts.identifiers import my_number_check_digit
from kokunen_contracts.residency import (
    Address,
    ChangeCategory,
    ChangeReason,
    PersonChanged,
    PersonChangeKind,
    PersonName,
    Removal,
    ResidenceStatus,
    ResidentChanged,
    ResidentClass,
    ResidentRecord,
    Sex,
)

JST = timezone(timedelta(hours=9))
_changes = itertools.count(1)


def valid_my_number(seed: int | None = None) -> str:
    """A 12-digit number whose check digit is right (番号法施行令8条)."""
    base = f"{(seed if seed is not None else random.randrange(10**11)) % 10**11:011d}"
    return base + str(my_number_check_digit(base))


def saitama_address(ward: str = "浦和区", line: str = "高砂三丁目15番1号") -> Address:
    return Address(
        text=f"埼玉県さいたま市{ward}{line}",
        postal_code="330-0063",
        prefecture="埼玉県",
        municipality="さいたま市",
        ward=ward,
    )


def resident(atena: str, **overrides: Any) -> ResidentRecord:
    values: dict[str, Any] = {
        "atena_number": atena,
        "my_number": valid_my_number(),
        "household_number": overrides.pop("household_number", atena[::-1]),
        "name": PersonName(name="浦和 花子", kana="ウラワ ハナコ"),
        "birth_date": date(1985, 6, 15),
        "sex": Sex.FEMALE,
        "relationship": "世帯主",
        "resident_class": ResidentClass.JAPANESE,
        "current_address": saitama_address(),
        "nationality": "JP",
    }
    values.update(overrides)
    return ResidentRecord(**values)


def change(
    reason: ChangeReason,
    record: ResidentRecord,
    effective: date,
    *,
    processed: date | None = None,
    change_id: str | None = None,
    cancels: str | None = None,
) -> ResidentChanged:
    """A 住民記録異動; a removal gets its 消除情報 filled in when the record lacks one."""
    if reason.category is ChangeCategory.REMOVAL and record.removal is None:
        record = record.model_copy(update={"removal": Removal(reason=reason, on=effective)})
    return ResidentChanged(
        event_id=uuid.uuid4(),
        effective_date=effective,
        recorded_at=datetime.now(JST),
        change_id=change_id or f"T-{uuid.uuid4().hex[:12]}-{next(_changes)}",
        reason=reason,
        processed_on=processed or max(effective, date.today()),
        cancels_change_id=cancels,
        resident=record,
    )


def person_changed(
    atena: str,
    kind: PersonChangeKind,
    effective: date,
    *,
    birth: date = date(1985, 6, 15),
    lives_in_japan: bool | None = None,
    is_resident: bool | None = None,
    nationality: str | None = "JP",
    residence_status: ResidenceStatus | None = None,
    cancels: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> PersonChanged:
    """A normalised person change, as residency_sync would publish it (for eligibility tests)."""
    gone = kind in (PersonChangeKind.DIED, PersonChangeKind.MOVED_OUT_ABROAD, PersonChangeKind.REMOVED_EX_OFFICIO)
    return PersonChanged(
        event_id=event_id or uuid.uuid4(),
        effective_date=effective,
        recorded_at=datetime.now(JST),
        atena_number=atena,
        kind=kind,
        cancels_event_id=cancels,
        household_number=atena[::-1],
        name="大宮 一郎",
        sex=Sex.MALE,
        birth_date=birth,
        address=saitama_address(),
        lives_in_japan=(kind is not PersonChangeKind.MOVED_OUT_ABROAD) if lives_in_japan is None else lives_in_japan,
        is_resident=(not gone) if is_resident is None else is_resident,
        resident_class=ResidentClass.JAPANESE if nationality == "JP" else ResidentClass.FOREIGN,
        nationality=nationality,
        residence_status=residence_status,
    )


def income_assessed(atena: str, income_year: int = 2025, seq: int = 0, **overrides: Any) -> Any:
    """所得情報 of one resident-tax assessment (tax.income-assessed.v1); ``seq`` is the 更正連番."""
    from kokunen_contracts.tax import IncomeAssessed

    assessed_on = overrides.pop("assessed_on", date(income_year + 1, 6, 10) + timedelta(days=30 * seq))
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "effective_date": assessed_on,
        "recorded_at": datetime.now(JST),
        "atena_number": atena,
        "tax_year": income_year + 1,
        "income_year": income_year,
        "assessed_on": assessed_on,
        "correction_seq": seq,
        "general_dependants": 1,
        "elderly_dependants": 0,
        "specified_dependants": 0,
        "spouse_deduction": "general",
        "disabled_dependants": 0,
        "specially_disabled_dependants": 0,
        "young_dependants": 1,
        "disability_class": "none",
        "widow_class": "none",
        "working_student": False,
        "single_parent": False,
        "tax_exempt": False,
        "public_pension_income": 0,
        "public_pension_misc_income": 0,
        "total_income": 1_800_000 + 10_000 * seq,
        "net_loss": 0,
        "casualty_loss_deduction": 0,
        "medical_expense_deduction": 0,
        "social_insurance_deduction": 270_000,
        "spouse_special_deduction": 0,
        "small_business_mutual_aid_deduction": 0,
    }
    values.update(overrides)
    return IncomeAssessed(**values)


def qualification_acquired(
    atena: str, on: date, reason: AcquisitionReason, basic_pension_number: str | None = None
) -> QualificationChanged:
    """eligibility.qualification-changed.v1: a 第1号被保険者 period acquired ``on`` (資格取得)."""
    return QualificationChanged(
        event_id=uuid.uuid4(),
        effective_date=on,
        recorded_at=datetime.now(JST),
        atena_number=atena,
        kind=QualificationChangeKind.ACQUIRED,
        period_id=uuid.uuid4(),
        category=InsuredCategory.CATEGORY_1,
        acquired_on=on,
        acquisition_reason=reason,
        basic_pension_number=basic_pension_number,
    )


def exemption_application(
    atena: str,
    received_on: date,
    first_month: str,
    last_month: str,
    *,
    kind: ExemptionApplicationKind | str = "exemption",
    staff_id: str = "madoguchi",
    department: str = "北区役所 保険年金課",
    **fields: Any,
) -> ExemptionApplicationSubmitted:
    """counter.exemption-application-submitted.v1: an 免除等申請 received ``received_on`` for the months
    ``first_month``–``last_month`` (``kind``: 申請免除, 納付猶予, 学生納付特例 …)."""
    return ExemptionApplicationSubmitted(
        event_id=uuid.uuid4(),
        effective_date=received_on,
        recorded_at=datetime.now(JST),
        application_id=uuid.uuid4(),
        kind=kind,
        atena_number=atena,
        received_on=received_on,
        staff_id=staff_id,
        department=department,
        first_month=first_month,
        last_month=last_month,
        **fields,
    )
