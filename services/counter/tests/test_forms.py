"""The counter's forms without I/O: one form for every kind the contracts define, each building its contract's
event, and the contract model's own refusals in Japanese beside the field they concern."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from counter.domain.forms import FAMILIES, FORMS, REQUIRED_MESSAGE, FormRefused, Submission, Widget, build_event
from counter.domain.staff import Role, Staff
from kokunen_contracts import counter as c
from kokunen_contracts import eligibility as e

CLERK = Staff("madoguchi", "窓口 一郎", "北区役所 保険年金課", (Role.CLERK,))
TODAY = date(2026, 12, 5)
EXAMPLES: dict[Widget, str] = {Widget.DATE: "2026-11-27", Widget.MONTH: "2026-07", Widget.TEXT: "1"}


def build(form_id: str, form: dict[str, Any], **given: Any) -> Submission:
    return build_event(
        FORMS[form_id],
        form,
        atena_number="123456",
        staff=CLERK,
        submission_id=uuid.uuid4(),
        today=TODAY,
        recorded_at=datetime(2026, 12, 5, 1, 0, tzinfo=UTC),
        given=given or None,
    )


def test_every_kind_the_contracts_define_has_a_form() -> None:
    for family, spec in FAMILIES.items():
        offered = {f.kind for f in FORMS.values() if f.family is family}
        assert offered == {k.value for k in spec.kind_enum}, family


def filled(form_id: str) -> dict[str, Any]:
    """Every field the contract needs for this form, with a value of its kind (the first choice of a list)."""
    spec = FORMS[form_id]
    values: dict[str, Any] = {}
    for f in spec.fields:
        if f.name not in spec.required() and not f.name.startswith("job_loss_"):
            continue
        if f.name.startswith("job_loss_") or f.widget is Widget.CHECKBOX:
            continue
        if f.choices is not None:
            values[f.name] = next(iter(f.choices)).value
        else:
            values[f.name] = EXAMPLES[f.widget]
    if form_id == "pre_postnatal_exemption":  # one of two dates (the contract's rule names both)
        values["expected_birth_on"] = EXAMPLES[Widget.DATE]
    return values


@pytest.mark.parametrize("form_id", [f for f in FORMS if not FORMS[f].confirms])
def test_each_form_filled_with_what_its_kind_needs_builds_its_contracts_event(form_id: str) -> None:
    spec = FORMS[form_id]
    built = build(form_id, {**filled(form_id), "staff_id": "someone-else", "department": "偽の部署"})
    assert isinstance(built.event, spec.family_spec.topic.model)
    assert getattr(built.event, spec.family_spec.id_field) == built.submission_id
    # The session's staff member and 部署, whatever the form carried.
    assert built.event.model_dump(include={"staff_id", "department"}) == {
        "staff_id": CLERK.staff_id,
        "department": CLERK.department,
    }


def test_a_form_missing_what_its_kind_needs_is_refused_beside_each_field() -> None:
    with pytest.raises(FormRefused) as refused:
        build("qualification_acquisition", {})
    assert refused.value.errors == {
        name: REQUIRED_MESSAGE for name in ("category", "acquired_on", "acquisition_reason")
    }
    # The contract's pairing rule, in its Japanese words, beside both fields.
    with pytest.raises(FormRefused) as paired:
        build("qualification_loss", {"lost_on": "2026-11-01"})
    assert paired.value.errors["loss_reason"] in (REQUIRED_MESSAGE, "資格喪失日と資格喪失事由は揃って指定してください")
    with pytest.raises(FormRefused) as birth:
        build("pre_postnatal_exemption", {})
    assert birth.value.errors["expected_birth_on"] == "出産予定日か出産日を指定してください"
    assert birth.value.errors["born_on"] == "出産予定日か出産日を指定してください"


def test_malformed_values_get_the_formats_message_in_japanese_and_all_at_once() -> None:
    with pytest.raises(FormRefused) as refused:
        build("qualification_loss", {"lost_on": "2026/13/40", "basic_pension_number": "12345", "phone": "abc"})
    errors = refused.value.errors
    assert errors["lost_on"] == "日付は 2026-11-27 の形で入力してください"
    assert errors["basic_pension_number"] == "基礎年金番号は数字4桁-6桁 (例: 1234-567890) で入力してください"
    assert errors["phone"].startswith("電話番号は")
    assert errors["loss_reason"] == REQUIRED_MESSAGE  # what the kind needs, in the same answer
    assert refused.value.general == []
    with pytest.raises(FormRefused) as months:
        build("exemption", {"first_month": "2026-7", "last_month": "2027-06", "job_loss_separated_on": "2026-01-10"})
    assert months.value.errors["first_month"] == "年月は 2026-07 の形で入力してください"
    assert months.value.errors["job_loss_proof"] == "入力してください"  # the one 特例 the form takes, checked whole
    with pytest.raises(FormRefused) as choice:
        build("claim_old_age_basic", {"attachments": ["bank_account", "not-a-document"]})
    assert choice.value.errors == {"attachments": "選択肢から選んでください"}


def test_full_width_digits_are_read_and_the_effective_date_follows_the_form() -> None:
    built = build("qualification_loss", {"lost_on": "２０２６-１１-０１", "loss_reason": "death"})
    assert built.event.effective_date == date(2026, 11, 1)
    assert built.received_on == TODAY  # an empty 受付日 is today
    change = build("category_change", {"effective_date": "2026-10-01", "previous_category": "category_1",
                                       "category": "category_2"})  # fmt: skip
    assert change.event.effective_date == date(2026, 10, 1)
    with pytest.raises(FormRefused) as undated:  # a form that asks for the date does not default it
        build("category_change", {"previous_category": "category_1", "category": "category_2"})
    assert undated.value.errors == {"effective_date": "入力してください"}


def test_fixed_values_make_the_voluntary_application_and_a_confirmation_names_its_correction() -> None:
    voluntary = build("voluntary_application", {"acquired_on": "2026-12-01"}).event
    assert isinstance(voluntary, c.FilingSubmitted)
    assert voluntary.category is e.InsuredCategory.VOLUNTARY
    assert voluntary.acquisition_reason is e.AcquisitionReason.VOLUNTARY_APPLICATION
    correction = uuid.uuid4()
    confirmed = build("confirmation", {}, confirms_filing_id=str(correction))
    assert confirmed.confirms_id == correction
    with pytest.raises(FormRefused):
        build("confirmation", {})
    job = build("exemption", {"first_month": "2026-07", "last_month": "2027-06", "job_loss_atena_number": "123456",
                              "job_loss_separated_on": "2026-01-10", "job_loss_proof": "separation_notice",
                              "continuation": "on"}).event  # fmt: skip
    assert isinstance(job, c.ExemptionApplicationSubmitted)
    assert [j.proof for j in job.job_losses] == [c.JobLossProof.SEPARATION_NOTICE]
    assert job.continuation is True
