"""届出・申請・請求の入力画面 (the counter's forms): which fields each form shows, and how a submitted form becomes
the contract's event — checked by the contract model itself, whose errors come back in Japanese beside the field
they concern. The rules (what a kind needs, formats, what goes together) live only in ``kokunen_contracts``:
this module lays the fields out and translates the model's errors, it states no rule of its own.

The staff member and 部署 are the signed-in session's, never the form's.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from kokunen_contracts import counter as c
from kokunen_contracts import eligibility as e
from kokunen_contracts.envelope import Event
from kokunen_contracts.labels import LabelledEnum
from kokunen_contracts.registry import (
    BENEFIT_CLAIM_SUBMITTED,
    EXEMPTION_APPLICATION_SUBMITTED,
    EXEMPTION_NOTIFICATION_SUBMITTED,
    FILING_SUBMITTED,
    TopicSpec,
)
from pydantic import ValidationError

from .staff import Staff

FORM_VALUE_MAX = 400  # the longest field (特記事項); anything longer is refused by the model, not cut here


class Family(StrEnum):
    """Which contract a form produces."""

    FILING = "filing"  # 届出・申出 (counter.filing-submitted.v1)
    EXEMPTION_APPLICATION = "exemption_application"  # 免除等申請
    EXEMPTION_NOTIFICATION = "exemption_notification"  # 法定免除・産前産後免除の届出
    BENEFIT_CLAIM = "benefit_claim"  # 裁定請求

    @property
    def label(self) -> str:
        return FAMILY_LABELS[self]


FAMILY_LABELS = {
    Family.FILING: "届出・申出",
    Family.EXEMPTION_APPLICATION: "免除・納付猶予・学生納付特例の申請",
    Family.EXEMPTION_NOTIFICATION: "法定免除・産前産後免除の届出",
    Family.BENEFIT_CLAIM: "裁定請求の受付",
}


@dataclass(frozen=True)
class FamilySpec:
    topic: TopicSpec
    id_field: str  # the 受付番号 field of the contract
    kind_enum: type[LabelledEnum]


FAMILIES: dict[Family, FamilySpec] = {
    Family.FILING: FamilySpec(FILING_SUBMITTED, "filing_id", c.FilingKind),
    Family.EXEMPTION_APPLICATION: FamilySpec(
        EXEMPTION_APPLICATION_SUBMITTED, "application_id", e.ExemptionApplicationKind
    ),
    Family.EXEMPTION_NOTIFICATION: FamilySpec(
        EXEMPTION_NOTIFICATION_SUBMITTED, "notification_id", e.ExemptionNotificationKind
    ),
    Family.BENEFIT_CLAIM: FamilySpec(BENEFIT_CLAIM_SUBMITTED, "claim_id", e.BenefitClaimKind),
}


class Widget(StrEnum):
    DATE = "date"
    MONTH = "month"
    TEXT = "text"
    SELECT = "select"
    CHECKBOX = "checkbox"  # one yes/no
    CHECKBOXES = "checkboxes"  # several of a list


@dataclass(frozen=True)
class Field:
    """One input. ``name`` is the contract's field (``effective_date`` for the event's own 効力発生日), or a
    ``job_loss_*`` part of the one 失業等による特例 a form takes."""

    name: str
    label: str
    widget: Widget = Widget.TEXT
    choices: type[LabelledEnum] | None = None
    hint: str = ""
    optional_choice: str = ""  # the label of "none chosen" in a select that may stay empty
    maxlength: int = 60


# Fields several forms share.
RECEIVED_ON = Field("received_on", "受付日", Widget.DATE)
PENSION_NUMBER = Field("basic_pension_number", "基礎年金番号", hint="数字4桁-6桁 (例: 1234-567890)", maxlength=11)
PHONE = Field("phone", "電話番号", hint="日中の連絡先", maxlength=20)
NOTE = Field("note", "特記事項", maxlength=400)
CATEGORY = Field("category", "被保険者種別", Widget.SELECT, e.InsuredCategory)
ACQUIRED_ON = Field("acquired_on", "資格取得日", Widget.DATE)
ACQUISITION_REASON = Field("acquisition_reason", "資格取得事由", Widget.SELECT, e.AcquisitionReason)
LOST_ON = Field("lost_on", "資格喪失日", Widget.DATE, hint="死亡・国外転出はその翌日")
LOSS_REASON = Field("loss_reason", "資格喪失事由", Widget.SELECT, e.LossReason)
COMMON_TAIL = (PENSION_NUMBER, PHONE, NOTE)

JOB_LOSS_FIELDS = (
    Field("job_loss_atena_number", "離職した方の宛名番号", hint="本人・配偶者・世帯主のいずれか", maxlength=15),
    Field("job_loss_separated_on", "離職日 (事業の廃止日)", Widget.DATE),
    Field("job_loss_proof", "確認書類", Widget.SELECT, c.JobLossProof),
)


@dataclass(frozen=True)
class FormSpec:
    """One form: the contract family and kind it files, its fields in order, and values it fixes (任意加入)."""

    form_id: str
    family: Family
    kind: str
    title: str
    fields: tuple[Field, ...]
    fixed: Mapping[str, str] = field(default_factory=dict)
    effective_field: str | None = None  # whose date is the event's effective_date (else the 受付日)
    confirms: bool = False  # 訂正の確認: reached from the 確認待ち list, not from a person's page

    @property
    def family_spec(self) -> FamilySpec:
        return FAMILIES[self.family]

    @property
    def model(self) -> type[Event]:
        return self.family_spec.topic.model

    def required(self) -> frozenset[str]:
        """Fields the contract marks required: its own required fields and what this kind needs."""
        by_kind: Mapping[Any, tuple[str, ...]] = getattr(self.model, "REQUIRED_BY_KIND", {})
        own = {name for name, info in self.model.model_fields.items() if info.is_required()}
        return frozenset(own | set(by_kind.get(self.kind, ())) | ({"effective_date"} & {f.name for f in self.fields}))


def _filing(kind: c.FilingKind, *fields: Field, effective: str | None = None, **options: Any) -> FormSpec:
    return FormSpec(
        options.pop("form_id", kind.value),
        Family.FILING,
        kind.value,
        options.pop("title", kind.label),
        (RECEIVED_ON, *fields, *COMMON_TAIL),
        effective_field=effective,
        **options,
    )


FILING_FORMS = (
    _filing(c.FilingKind.QUALIFICATION_ACQUISITION, CATEGORY, ACQUIRED_ON, ACQUISITION_REASON, effective="acquired_on"),
    _filing(
        c.FilingKind.QUALIFICATION_ACQUISITION,
        ACQUIRED_ON,
        Field("pension_fund_joined_on", "国民年金基金の加入日", Widget.DATE),
        effective="acquired_on",
        form_id="voluntary_application",
        title="任意加入の申出 (資格取得届)",
        fixed={"category": e.InsuredCategory.VOLUNTARY.value, "acquisition_reason": "voluntary_application"},
    ),
    _filing(c.FilingKind.QUALIFICATION_LOSS, LOST_ON, LOSS_REASON, effective="lost_on"),
    _filing(
        c.FilingKind.CATEGORY_CHANGE,
        Field("effective_date", "種別変更日", Widget.DATE),
        Field("previous_category", "変更前の被保険者種別", Widget.SELECT, e.InsuredCategory),
        Field("category", "変更後の被保険者種別", Widget.SELECT, e.InsuredCategory),
    ),
    _filing(c.FilingKind.NAME_CHANGE),
    _filing(c.FilingKind.ADDRESS_CHANGE),
    _filing(
        c.FilingKind.RECORD_CORRECTION,
        Field("corrects_period_acquired_on", "訂正する資格期間の取得日 (訂正前)", Widget.DATE),
        Field("category", "訂正後の被保険者種別", Widget.SELECT, e.InsuredCategory, optional_choice="変更しない"),
        Field("acquired_on", "訂正後の資格取得日", Widget.DATE, hint="変更しない場合は空欄"),
        Field(
            "acquisition_reason", "訂正後の取得事由", Widget.SELECT, e.AcquisitionReason, optional_choice="変更しない"
        ),
        Field("lost_on", "訂正後の資格喪失日", Widget.DATE, hint="変更しない場合は空欄"),
        Field("loss_reason", "訂正後の喪失事由", Widget.SELECT, e.LossReason, optional_choice="変更しない"),
    ),
    _filing(c.FilingKind.CONFIRMATION, confirms=True),
    _filing(c.FilingKind.ADDITIONAL_PREMIUM_APPLICATION),
    _filing(
        c.FilingKind.ADDITIONAL_PREMIUM_WITHDRAWAL,
        Field("pension_fund_joined_on", "国民年金基金の加入日", Widget.DATE, hint="基金加入による辞退のとき"),
    ),
    _filing(c.FilingKind.PENSION_NUMBER_NOTICE_REISSUE),
)

_PERIOD = (
    Field("first_month", "申請期間 (始期)", Widget.MONTH, hint="年月 (例: 2026-07)", maxlength=7),
    Field("last_month", "申請期間 (終期)", Widget.MONTH, hint="年月 (例: 2027-06)", maxlength=7),
)
EXEMPTION_FORMS = (
    FormSpec(
        "exemption",
        Family.EXEMPTION_APPLICATION,
        e.ExemptionApplicationKind.EXEMPTION.value,
        "申請免除 (全額・4分の3・半額・4分の1)",
        (
            RECEIVED_ON,
            *_PERIOD,
            Field(
                "requested_tier",
                "希望する区分",
                Widget.SELECT,
                e.ExemptionTier,
                optional_choice="該当する最も有利な区分",
            ),
            Field("spouse_atena_number", "配偶者の宛名番号", hint="申請書の記載 (住民記録と異なるとき)", maxlength=15),
            *JOB_LOSS_FIELDS,
            Field("continuation", "継続審査を希望する (全額免除)", Widget.CHECKBOX),
        ),
    ),
    FormSpec(
        "payment_deferral",
        Family.EXEMPTION_APPLICATION,
        e.ExemptionApplicationKind.PAYMENT_DEFERRAL.value,
        "納付猶予 (50歳未満)",
        (
            RECEIVED_ON,
            *_PERIOD,
            Field("spouse_atena_number", "配偶者の宛名番号", hint="申請書の記載 (住民記録と異なるとき)", maxlength=15),
            *JOB_LOSS_FIELDS,
            Field("continuation", "継続審査を希望する", Widget.CHECKBOX),
        ),
    ),
    FormSpec(
        "student_deferral",
        Family.EXEMPTION_APPLICATION,
        e.ExemptionApplicationKind.STUDENT_DEFERRAL.value,
        "学生納付特例",
        (RECEIVED_ON, *_PERIOD, Field("school_name", "学校名", maxlength=120), *JOB_LOSS_FIELDS),
    ),
)
NOTIFICATION_FORMS = (
    FormSpec(
        "statutory_exemption",
        Family.EXEMPTION_NOTIFICATION,
        e.ExemptionNotificationKind.STATUTORY_EXEMPTION.value,
        e.ExemptionNotificationKind.STATUTORY_EXEMPTION.label,
        (
            RECEIVED_ON,
            Field("statutory_reason", "法定免除の事由", Widget.SELECT, c.StatutoryExemptionReason),
            Field("reason_arose_on", "該当年月日", Widget.DATE),
        ),
    ),
    FormSpec(
        "statutory_exemption_ended",
        Family.EXEMPTION_NOTIFICATION,
        e.ExemptionNotificationKind.STATUTORY_EXEMPTION_ENDED.value,
        e.ExemptionNotificationKind.STATUTORY_EXEMPTION_ENDED.label,
        (RECEIVED_ON, Field("reason_ceased_on", "非該当年月日", Widget.DATE)),
    ),
    FormSpec(
        "pre_postnatal_exemption",
        Family.EXEMPTION_NOTIFICATION,
        e.ExemptionNotificationKind.PRE_POSTNATAL_EXEMPTION.value,
        e.ExemptionNotificationKind.PRE_POSTNATAL_EXEMPTION.label,
        (
            RECEIVED_ON,
            Field("expected_birth_on", "出産予定日", Widget.DATE),
            Field("born_on", "出産日", Widget.DATE, hint="出産後の届出のとき"),
            Field("multiple_birth", "多胎妊娠", Widget.CHECKBOX),
        ),
    ),
)
_ATTACHMENTS = Field("attachments", "添付書類 (確認したもの)", Widget.CHECKBOXES, c.ClaimAttachment)
_DECEASED = Field("deceased_atena_number", "亡くなった方の宛名番号", maxlength=15)
_CLAIM_FIELDS: dict[e.BenefitClaimKind, tuple[Field, ...]] = {
    e.BenefitClaimKind.OLD_AGE_BASIC: (Field("early", "繰上げ請求", Widget.CHECKBOX),),
    e.BenefitClaimKind.DISABILITY_BASIC: (Field("first_visit_on", "初診日", Widget.DATE),),
    e.BenefitClaimKind.SURVIVORS_BASIC: (_DECEASED,),
    e.BenefitClaimKind.WIDOW_PENSION: (_DECEASED,),
    e.BenefitClaimKind.DEATH_LUMP_SUM: (_DECEASED,),
    e.BenefitClaimKind.SPECIAL_DISABILITY_BENEFIT: (Field("first_visit_on", "初診日", Widget.DATE),),
    e.BenefitClaimKind.UNPAID_PENSION: (_DECEASED,),
    e.BenefitClaimKind.OLD_AGE_WELFARE: (),
}
CLAIM_FORMS = tuple(
    FormSpec(
        f"claim_{kind.value}",
        Family.BENEFIT_CLAIM,
        kind.value,
        f"裁定請求 ({kind.label})",
        (RECEIVED_ON, *_CLAIM_FIELDS[kind], _ATTACHMENTS),
    )
    for kind in e.BenefitClaimKind
)

FORMS: dict[str, FormSpec] = {f.form_id: f for f in (*FILING_FORMS, *EXEMPTION_FORMS, *NOTIFICATION_FORMS,
                                                      *CLAIM_FORMS)}  # fmt: skip


def forms_by_family() -> list[tuple[Family, list[FormSpec]]]:
    """The forms a person's page offers (訂正の確認 is started from the 確認待ち list), grouped."""
    return [(family, [f for f in FORMS.values() if f.family is family and not f.confirms]) for family in Family]


def label_of(enum: type[LabelledEnum], value: object) -> str:
    """The Japanese label of a contract code (the code itself when the enum does not know it)."""
    try:
        return enum(str(value)).label
    except ValueError:
        return "" if value is None else str(value)


def kind_label(family: str, kind: str) -> str:
    return label_of(FAMILIES[Family(family)].kind_enum, kind)


# --- a submitted form → the contract's event ---------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """A form that the contract model accepted: its event, and what the counter records beside it."""

    spec: FormSpec
    event: Event
    submission_id: uuid.UUID
    received_on: date
    confirms_id: uuid.UUID | None


class FormRefused(ValueError):
    """The contract model refused the form: field → Japanese message, and messages about the whole form."""

    def __init__(self, errors: dict[str, str], general: Sequence[str] = ()) -> None:
        super().__init__("; ".join([*errors.values(), *general]))
        self.errors = errors
        self.general = list(general)


def _clean(value: str, widget: Widget) -> str:
    """Full-width digits and letters to half-width for dates, months and numbers; free text stays as typed."""
    value = value.strip()
    return value if widget is Widget.TEXT and not value.isascii() else unicodedata.normalize("NFKC", value)


def build_event(
    spec: FormSpec,
    form: Mapping[str, str | list[str]],
    *,
    atena_number: str,
    staff: Staff,
    submission_id: uuid.UUID,
    today: date,
    recorded_at: datetime,
    given: Mapping[str, Any] | None = None,
) -> Submission:
    """The event the form describes, validated by its contract model (``FormRefused`` in Japanese otherwise).

    ``form`` holds the submitted values (a list for several checkboxes); fields left empty are absent. ``given``
    are values the server sets (the correction a 訂正の確認 confirms)."""
    values: dict[str, Any] = {}
    for f in spec.fields:
        raw = form.get(f.name)
        if f.widget is Widget.CHECKBOXES:
            chosen = [v for v in (raw if isinstance(raw, list) else [raw] if raw else []) if v]
            values[f.name] = chosen
        elif f.widget is Widget.CHECKBOX:
            values[f.name] = raw in ("on", "true", "1")
        elif isinstance(raw, str) and raw.strip():
            values[f.name] = _clean(raw, f.widget)
    values.update(spec.fixed)
    values.update(given or {})
    job_loss = {k.removeprefix("job_loss_"): values.pop(k) for k in list(values) if k.startswith("job_loss_")}
    if job_loss:
        values["job_losses"] = [job_loss]
    received_on = values.get("received_on") or today.isoformat()
    values["received_on"] = received_on
    if not any(f.name == "effective_date" for f in spec.fields):  # a form that asks for it leaves it to the model
        values["effective_date"] = values.get(spec.effective_field or "received_on", received_on)
    family = spec.family_spec
    try:
        event = spec.model.model_validate(
            {
                **values,
                "event_id": uuid.uuid4(),
                "recorded_at": recorded_at,
                family.id_field: submission_id,
                "kind": spec.kind,
                "atena_number": atena_number,
                "staff_id": staff.staff_id,
                "department": staff.department,
            }
        )
    except ValidationError as exc:
        errors, general = japanese_errors(exc, spec)
        # The model checks what a kind needs only once every field is well-formed: say it in the same answer.
        for name in spec.required() - values.keys() - set(spec.fixed):
            if any(f.name == name for f in spec.fields):
                errors.setdefault(name, REQUIRED_MESSAGE)
        raise FormRefused(errors, general) from None
    return Submission(
        spec,
        event,
        submission_id,
        getattr(event, "received_on"),  # noqa: B009 - every submitted contract has it
        getattr(event, "confirms_filing_id", None),
    )


# --- the model's errors in Japanese ------------------------------------------------------------------------

FORMAT_MESSAGES = {
    "basic_pension_number": "基礎年金番号は数字4桁-6桁 (例: 1234-567890) で入力してください",
    "phone": "電話番号は数字・ハイフン・括弧で6〜20文字で入力してください",
    "first_month": "年月は 2026-07 の形で入力してください",
    "last_month": "年月は 2026-07 の形で入力してください",
    "spouse_atena_number": "宛名番号は半角数字15桁以内です",
    "deceased_atena_number": "宛名番号は半角数字15桁以内です",
    "job_loss_atena_number": "宛名番号は半角数字15桁以内です",
}
REQUIRED_MESSAGE = "この届出等では必須です。入力してください"
SESSION_FIELDS = {"staff_id": "職員ID", "department": "部署", "atena_number": "宛名番号"}


def japanese_errors(exc: ValidationError, spec: FormSpec) -> tuple[dict[str, str], list[str]]:
    """Each of the model's errors beside the field it concerns (the contract's own rules, in Japanese)."""
    labels = {f.name: f.label for f in spec.fields}
    errors: dict[str, str] = {}
    general: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = "job_loss_" + loc[-1] if loc[:1] == ["job_losses"] else (loc[0] if loc else "")
        if name == "effective_date" and name not in labels:  # taken from another field of the form
            name = spec.effective_field or "received_on"
        rule = (error.get("ctx") or {}).get("error")
        if isinstance(rule, c.FieldsRuleError):
            message = _rule_message(rule)
            shown = [f for f in rule.fields if f in labels]
            for f in shown:
                errors.setdefault(f, message)
            if not shown:
                general.append(message)
            continue
        message = _type_message(error, name)
        if name in labels:
            errors.setdefault(name, message)
        elif name in SESSION_FIELDS:  # not from the form: the session or the page it was started from
            general.append(f"{SESSION_FIELDS[name]}: {message}")
        else:
            general.append(message if not name else f"{name}: {message}")
    return errors, general


def _rule_message(rule: c.FieldsRuleError) -> str:
    text = str(rule)
    japanese = text.split(" (")[0]
    return japanese if not japanese.isascii() else REQUIRED_MESSAGE


def _type_message(error: Any, name: str) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing" or kind == "string_too_short":
        return "入力してください"
    if kind == "string_too_long":
        return f"{ctx.get('max_length')}文字以内で入力してください"
    if kind == "string_pattern_mismatch":
        return FORMAT_MESSAGES.get(name, "形式が正しくありません")
    if kind.startswith("date") or kind.startswith("datetime"):
        return "日付は 2026-11-27 の形で入力してください"
    if kind in ("enum", "literal_error"):
        return "選択肢から選んでください"
    if kind.startswith("uuid"):
        return "受付番号の形式が正しくありません"
    if kind.startswith("bool"):
        return "はい・いいえで選んでください"
    if kind in ("int_parsing", "int_type", "greater_than_equal", "less_than_equal"):
        return "数値の範囲・形式が正しくありません"
    return "入力内容を確認してください"
