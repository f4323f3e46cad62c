"""裁定請求受付: attachments per kind, the checks against the records, the 年金コード, and the follow-up on a death."""

from __future__ import annotations

from datetime import date

import pytest
from eligibility.claims.domain import (
    REQUIRED_ATTACHMENTS,
    Attachment,
    Claim,
    ClaimKind,
    ClaimRefusal,
    Received,
    Record,
    Refused,
    claims_on_death,
    receive,
)
from eligibility.domain import (
    AcquisitionReason,
    InsuredCategory,
    LossReason,
    OtherCategoryStatus,
    QualificationHistory,
    QualificationPeriod,
)

D = date.fromisoformat
K = ClaimKind
R = ClaimRefusal


def record(birth: str, *periods: QualificationPeriod, other: OtherCategoryStatus = OtherCategoryStatus.NONE) -> Record:
    return Record(D(birth), QualificationHistory(periods), other)


def cat1(since: str, lost: str | None = None, reason: LossReason | None = None) -> QualificationPeriod:
    return QualificationPeriod(
        InsuredCategory.CATEGORY_1, D(since), AcquisitionReason.REACHED_20, D(lost) if lost else None, reason
    )


def claim(kind: ClaimKind, on: str = "2026-11-05", **kw: object) -> Claim:
    return Claim(kind, D(on), REQUIRED_ATTACHMENTS[kind], **kw)  # type: ignore[arg-type]


LIFELONG = record("1961-04-10", cat1("1981-04-09", "2021-04-09", LossReason.REACHED_60))
DECEASED = record("1975-02-01", cat1("1995-01-31", "2026-10-02", LossReason.DEATH))  # died 2026-10-01
SHORT = record("2004-03-01", cat1("2024-02-29", "2026-10-02", LossReason.DEATH))  # 32 months


def outcome(result: Received | Refused) -> str | ClaimRefusal | None:
    return result.pension_code if isinstance(result, Received) else result.reason


@pytest.mark.parametrize(
    ("kind", "claimant", "deceased", "kwargs", "expected"),
    [
        pytest.param(K.OLD_AGE_BASIC, LIFELONG, None, {}, "1150", id="老齢-65-第1号のみ"),
        pytest.param(K.OLD_AGE_BASIC, LIFELONG, None, {"on": "2026-04-08"}, R.TOO_YOUNG, id="老齢-64"),
        pytest.param(K.OLD_AGE_BASIC, LIFELONG, None, {"on": "2026-04-08", "early": True}, "1150", id="老齢-繰上げ"),
        pytest.param(
            K.OLD_AGE_BASIC,
            record("1961-04-10", cat1("1981-04-09"), other=OtherCategoryStatus.CATEGORY_2),
            None,
            {},
            R.NOT_CATEGORY_1_ONLY,
            id="老齢-第2号-to-年金事務所",
        ),
        pytest.param(K.DISABILITY_BASIC, DECEASED, None, {"first_visit_on": D("2020-05-01")}, "5350", id="障害-第1号"),
        pytest.param(K.DISABILITY_BASIC, DECEASED, None, {"first_visit_on": D("1994-05-01")}, "6350", id="障害-20歳前"),
        pytest.param(
            K.DISABILITY_BASIC,
            LIFELONG,
            None,
            {"first_visit_on": D("2022-01-01")},
            R.NOT_CATEGORY_1_ON_FIRST_VISIT,
            id="障害-after-60",
        ),
        pytest.param(K.DISABILITY_BASIC, LIFELONG, None, {}, R.NO_FIRST_VISIT_DATE, id="障害-no-初診日"),
        pytest.param(K.SURVIVORS_BASIC, LIFELONG, DECEASED, {}, "1450", id="遺族"),
        pytest.param(K.SURVIVORS_BASIC, LIFELONG, None, {}, R.NO_DECEASED, id="遺族-unknown-deceased"),
        pytest.param(K.SURVIVORS_BASIC, LIFELONG, LIFELONG, {}, R.DECEASED_NOT_DEAD, id="遺族-not-dead"),
        pytest.param(K.WIDOW_PENSION, record("1966-01-01"), DECEASED, {}, "5950", id="寡婦年金-aged-60"),
        pytest.param(K.WIDOW_PENSION, record("1960-01-01"), DECEASED, {}, R.TOO_OLD, id="寡婦年金-aged-66"),
        pytest.param(K.WIDOW_PENSION, record("1966-01-01"), SHORT, {}, R.TOO_FEW_MONTHS, id="寡婦年金-32-months"),
        pytest.param(K.DEATH_LUMP_SUM, LIFELONG, DECEASED, {}, None, id="死亡一時金"),
        pytest.param(K.DEATH_LUMP_SUM, LIFELONG, SHORT, {}, R.TOO_FEW_MONTHS, id="死亡一時金-32-months"),
        pytest.param(K.UNPAID_PENSION, LIFELONG, DECEASED, {}, None, id="未支給"),
        pytest.param(K.OLD_AGE_WELFARE, LIFELONG, None, {}, None, id="老齢福祉年金"),
        pytest.param(K.SPECIAL_DISABILITY_BENEFIT, LIFELONG, None, {}, None, id="特別障害給付金"),
    ],
)
def test_a_claim_is_checked_against_the_records(
    kind: ClaimKind, claimant: Record, deceased: Record | None, kwargs: dict[str, object], expected: object
) -> None:
    assert outcome(receive(claim(kind, **kwargs), claimant, deceased)) == expected


def test_a_survivor_claim_needs_the_deceased_to_have_been_category_1_when_they_died() -> None:
    died_at_70 = Record(D("1956-04-10"), LIFELONG.history, OtherCategoryStatus.NONE, died_on=D("2026-09-30"))
    assert outcome(receive(claim(K.SURVIVORS_BASIC), LIFELONG, died_at_70)) is R.DECEASED_NOT_CATEGORY_1
    assert outcome(receive(claim(K.UNPAID_PENSION), LIFELONG, died_at_70)) is None  # 未支給: any recipient


def test_missing_attachments_are_named() -> None:
    result = receive(Claim(K.DISABILITY_BASIC, D("2026-11-05"), frozenset({Attachment.BANK_ACCOUNT})), LIFELONG)
    assert isinstance(result, Refused)
    assert result.reason is R.ATTACHMENTS_MISSING
    assert "診断書" in result.message
    assert "受診状況等証明書" in result.message


def test_a_death_of_a_category_1_insured_lists_the_claims_to_confirm() -> None:
    items = claims_on_death(DECEASED)
    assert [item.split("（")[0] for item in items] == ["遺族基礎年金", "寡婦年金", "死亡一時金", "未支給年金"]
    assert [item.split("（")[0] for item in claims_on_death(SHORT)] == ["遺族基礎年金", "未支給年金"]
    assert claims_on_death(LIFELONG) == ()
