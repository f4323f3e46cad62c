"""裁定請求受付 (reception of benefit claims) — pure: what each kind of claim must bring, the checks against
the records the city keeps, and the 年金コード it is reported to JPS under. The city receives and reports; JPS
decides (裁定).

Kinds the city receives (国民年金法施行令1条の2 and the 事務 of 第1号被保険者):
| kind | the city receives it when | 年金コード |
|---|---|---|
| 老齢基礎年金 | the claimant's periods are 第1号 (or 任意加入) only | 1150 |
| 障害基礎年金 | the 初診日 is in a 第1号 period (20歳前障害 when before 20) | 5350 / 6350 |
| 遺族基礎年金, 寡婦年金, 死亡一時金 | the deceased was a 第1号被保険者 when they died | 1450 / 5950 / — |
| 特別障害給付金, 未支給年金, 老齢福祉年金 | the claimant (or the deceased, 未支給) is in the city's record | — |

The attachment lists are those of JPS's published claim guides, simplified **[unconfirmed]**; 寡婦年金 and
死亡一時金 count insured 第1号 months where the law counts paid (and for 寡婦年金 exempted) months — this slice
keeps no payments **[unconfirmed: JPS checks the 納付月数]**.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ..domain.age import age_on
from ..domain.categories import InsuredCategory, OtherCategoryStatus
from ..domain.periods import QualificationHistory
from ..domain.qualification import LossReason


class ClaimKind(StrEnum):
    OLD_AGE_BASIC = "old_age_basic"  # 老齢基礎年金
    DISABILITY_BASIC = "disability_basic"  # 障害基礎年金
    SURVIVORS_BASIC = "survivors_basic"  # 遺族基礎年金
    WIDOW_PENSION = "widow_pension"  # 寡婦年金
    DEATH_LUMP_SUM = "death_lump_sum"  # 死亡一時金
    SPECIAL_DISABILITY_BENEFIT = "special_disability_benefit"  # 特別障害給付金
    UNPAID_PENSION = "unpaid_pension"  # 未支給年金
    OLD_AGE_WELFARE = "old_age_welfare"  # 老齢福祉年金

    @property
    def label_ja(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    ClaimKind.OLD_AGE_BASIC: "老齢基礎年金",
    ClaimKind.DISABILITY_BASIC: "障害基礎年金",
    ClaimKind.SURVIVORS_BASIC: "遺族基礎年金",
    ClaimKind.WIDOW_PENSION: "寡婦年金",
    ClaimKind.DEATH_LUMP_SUM: "死亡一時金",
    ClaimKind.SPECIAL_DISABILITY_BENEFIT: "特別障害給付金",
    ClaimKind.UNPAID_PENSION: "未支給年金",
    ClaimKind.OLD_AGE_WELFARE: "老齢福祉年金",
}

SURVIVOR_KINDS = frozenset(
    {ClaimKind.SURVIVORS_BASIC, ClaimKind.WIDOW_PENSION, ClaimKind.DEATH_LUMP_SUM, ClaimKind.UNPAID_PENSION}
)
"""Claims made for a deceased person: the record checked is the deceased's."""


class Attachment(StrEnum):
    """添付書類."""

    BANK_ACCOUNT = "bank_account"  # 受取先金融機関の通帳等
    FAMILY_REGISTER = "family_register"  # 戸籍謄本等
    DEATH_CERTIFICATE = "death_certificate"  # 死亡診断書・死亡届記載事項証明書
    LIVELIHOOD_PROOF = "livelihood_proof"  # 生計同一関係に関する申立書・住民票
    INCOME_PROOF = "income_proof"  # 所得証明書
    MEDICAL_CERTIFICATE = "medical_certificate"  # 診断書
    FIRST_VISIT_CERTIFICATE = "first_visit_certificate"  # 受診状況等証明書
    MEDICAL_HISTORY_STATEMENT = "medical_history_statement"  # 病歴・就労状況等申立書
    PENSION_CERTIFICATE = "pension_certificate"  # 年金証書
    ENROLMENT_PROOF = "enrolment_proof"  # 在学・婚姻の事実を明らかにする書類 (特別障害給付金)

    @property
    def label_ja(self) -> str:
        return _ATTACHMENT_LABELS[self]


_ATTACHMENT_LABELS = {
    Attachment.BANK_ACCOUNT: "受取先金融機関の通帳等",
    Attachment.FAMILY_REGISTER: "戸籍謄本等",
    Attachment.DEATH_CERTIFICATE: "死亡診断書等",
    Attachment.LIVELIHOOD_PROOF: "生計同一関係に関する申立書等",
    Attachment.INCOME_PROOF: "所得証明書",
    Attachment.MEDICAL_CERTIFICATE: "診断書",
    Attachment.FIRST_VISIT_CERTIFICATE: "受診状況等証明書",
    Attachment.MEDICAL_HISTORY_STATEMENT: "病歴・就労状況等申立書",
    Attachment.PENSION_CERTIFICATE: "年金証書",
    Attachment.ENROLMENT_PROOF: "在学・婚姻の事実を明らかにする書類",
}

A = Attachment
REQUIRED_ATTACHMENTS: dict[ClaimKind, frozenset[Attachment]] = {
    ClaimKind.OLD_AGE_BASIC: frozenset({A.BANK_ACCOUNT}),
    ClaimKind.DISABILITY_BASIC: frozenset(
        {A.BANK_ACCOUNT, A.MEDICAL_CERTIFICATE, A.FIRST_VISIT_CERTIFICATE, A.MEDICAL_HISTORY_STATEMENT}
    ),
    ClaimKind.SURVIVORS_BASIC: frozenset(
        {A.BANK_ACCOUNT, A.FAMILY_REGISTER, A.DEATH_CERTIFICATE, A.LIVELIHOOD_PROOF, A.INCOME_PROOF}
    ),
    ClaimKind.WIDOW_PENSION: frozenset(
        {A.BANK_ACCOUNT, A.FAMILY_REGISTER, A.DEATH_CERTIFICATE, A.LIVELIHOOD_PROOF, A.INCOME_PROOF}
    ),
    ClaimKind.DEATH_LUMP_SUM: frozenset({A.BANK_ACCOUNT, A.FAMILY_REGISTER, A.LIVELIHOOD_PROOF}),
    ClaimKind.SPECIAL_DISABILITY_BENEFIT: frozenset(
        {A.BANK_ACCOUNT, A.MEDICAL_CERTIFICATE, A.FIRST_VISIT_CERTIFICATE, A.ENROLMENT_PROOF}
    ),
    ClaimKind.UNPAID_PENSION: frozenset({A.BANK_ACCOUNT, A.FAMILY_REGISTER, A.LIVELIHOOD_PROOF, A.PENSION_CERTIFICATE}),
    ClaimKind.OLD_AGE_WELFARE: frozenset({A.BANK_ACCOUNT, A.INCOME_PROOF}),
}
"""添付書類 per kind [unconfirmed: JPS claim guides, simplified; 戸籍 may be replaced by the 個人番号]."""

OLD_AGE_BASIC_AGE = 65  # 国民年金法26条 (繰上げ: 附則9条の2, from 60)
EARLIEST_EARLY_CLAIM_AGE = 60
WIDOW_PENSION_MONTHS = 120  # 寡婦年金: 第1号としての納付・免除期間が10年以上 (49条)
DEATH_LUMP_SUM_MONTHS = 36  # 死亡一時金: 納付済期間が36月以上 (52条の2)
WIDOW_PENSION_LAST_AGE = 64  # 寡婦年金: 60歳から65歳に達するまで (49条3項)


class ClaimRefusal(StrEnum):
    UNKNOWN_PERSON = "unknown_person"
    ATTACHMENTS_MISSING = "attachments_missing"
    NOT_CATEGORY_1_ONLY = "not_category_1_only"
    TOO_YOUNG = "too_young"
    NO_FIRST_VISIT_DATE = "no_first_visit_date"
    NOT_CATEGORY_1_ON_FIRST_VISIT = "not_category_1_on_first_visit"
    NO_DECEASED = "no_deceased"
    DECEASED_NOT_DEAD = "deceased_not_dead"
    DECEASED_NOT_CATEGORY_1 = "deceased_not_category_1"
    TOO_FEW_MONTHS = "too_few_months"
    TOO_OLD = "too_old"


@dataclass(frozen=True)
class Refused:
    reason: ClaimRefusal
    rule: str
    message: str


@dataclass(frozen=True)
class Received:
    """受付: the 年金コード to report under and what staff checked, in words."""

    pension_code: str | None
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    received_on: date
    attachments: frozenset[Attachment]
    first_visit_on: date | None = None  # 初診日 (障害)
    early: bool = False  # 繰上げ請求 (老齢基礎年金)


@dataclass(frozen=True)
class Record:
    """What the city keeps of a person: birth date, qualification history, 第2号/第3号 status."""

    birth: date
    history: QualificationHistory
    other_category: OtherCategoryStatus
    died_on: date | None = None  # 死亡日, from the resident record when known


def death_date(record: Record) -> date | None:
    """The day of death: from the resident record, else from a period lost by death (9条1号: the day after)."""
    if record.died_on is not None:
        return record.died_on
    for period in record.history.periods:
        if period.loss_reason is LossReason.DEATH and period.lost_on is not None:
            return period.lost_on - timedelta(days=1)
    return None


def receive(claim: Claim, claimant: Record, deceased: Record | None = None) -> Received | Refused:
    """Check a claim at the counter: the attachments, then the records the kind asks about."""
    missing = sorted(REQUIRED_ATTACHMENTS[claim.kind] - claim.attachments)
    if missing:
        return Refused(
            ClaimRefusal.ATTACHMENTS_MISSING,
            "国民年金法施行規則 (裁定請求書の添付書類)",
            "添付書類が不足しています: " + "、".join(a.label_ja for a in missing),
        )
    checks = [f"添付書類: {len(REQUIRED_ATTACHMENTS[claim.kind])}点を確認"]
    match claim.kind:
        case ClaimKind.OLD_AGE_BASIC:
            return _old_age(claim, claimant, checks)
        case ClaimKind.DISABILITY_BASIC:
            return _disability(claim, claimant, checks)
        case ClaimKind.SURVIVORS_BASIC | ClaimKind.WIDOW_PENSION | ClaimKind.DEATH_LUMP_SUM | ClaimKind.UNPAID_PENSION:
            return _survivor(claim, claimant, deceased, checks)
        case ClaimKind.SPECIAL_DISABILITY_BENEFIT | ClaimKind.OLD_AGE_WELFARE:
            return Received(None, (*checks, "請求者の住民記録を確認"))
    raise AssertionError(claim.kind)


def _old_age(claim: Claim, claimant: Record, checks: list[str]) -> Received | Refused:
    age = age_on(claimant.birth, claim.received_on)
    least = EARLIEST_EARLY_CLAIM_AGE if claim.early else OLD_AGE_BASIC_AGE
    if age < least:
        return Refused(
            ClaimRefusal.TOO_YOUNG,
            "国民年金法26条・附則9条の2 (繰上げ)",
            f"請求日に{age}歳です（{least}歳から請求できます）",
        )
    if claimant.other_category in (OtherCategoryStatus.CATEGORY_2, OtherCategoryStatus.CATEGORY_3) or not any(
        p.category is InsuredCategory.CATEGORY_1 for p in claimant.history.periods
    ):
        return Refused(
            ClaimRefusal.NOT_CATEGORY_1_ONLY,
            "国民年金法施行令1条の2 (市町村の事務)",
            "第1号被保険者期間のみの方ではありません。年金事務所で請求してください",
        )
    return Received("1150", (*checks, f"請求日に{age}歳", "第1号被保険者期間のみ"))


def _disability(claim: Claim, claimant: Record, checks: list[str]) -> Received | Refused:
    if claim.first_visit_on is None:
        return Refused(ClaimRefusal.NO_FIRST_VISIT_DATE, "国民年金法30条 (初診日)", "初診日の記載が必要です")
    if age_on(claimant.birth, claim.first_visit_on) < 20:
        return Received("6350", (*checks, f"初診日 {claim.first_visit_on.isoformat()} は20歳前 (30条の4)"))
    period = claimant.history.period_on(claim.first_visit_on)
    if period is None or period.category is not InsuredCategory.CATEGORY_1:
        return Refused(
            ClaimRefusal.NOT_CATEGORY_1_ON_FIRST_VISIT,
            "国民年金法30条1項1号",
            f"初診日 {claim.first_visit_on.isoformat()} に第1号被保険者ではありません。年金事務所で請求してください",
        )
    return Received("5350", (*checks, f"初診日 {claim.first_visit_on.isoformat()} に第1号被保険者"))


def _survivor(claim: Claim, claimant: Record, deceased: Record | None, checks: list[str]) -> Received | Refused:
    if deceased is None:
        return Refused(ClaimRefusal.NO_DECEASED, "国民年金法37条ほか", "亡くなった方の宛名番号が市の記録にありません")
    died = death_date(deceased)
    if died is None:
        return Refused(ClaimRefusal.DECEASED_NOT_DEAD, "国民年金法37条ほか", "亡くなった方の死亡が記録されていません")
    checks = [*checks, f"死亡日 {died.isoformat()}"]
    if claim.kind is ClaimKind.UNPAID_PENSION:
        return Received(None, (*checks, "未支給年金: 受給権者の死亡を確認"))
    period = deceased.history.period_on(died)
    if period is None or period.category is not InsuredCategory.CATEGORY_1:
        return Refused(
            ClaimRefusal.DECEASED_NOT_CATEGORY_1,
            "国民年金法37条1号・49条・52条の2",
            "亡くなった方は死亡日に第1号被保険者ではありません。年金事務所で請求してください",
        )
    months = deceased.history.insured_months(as_of=died, categories=frozenset({InsuredCategory.CATEGORY_1}))
    checks.append(f"死亡日に第1号被保険者（第1号期間 {months}月）")
    if claim.kind is ClaimKind.WIDOW_PENSION:
        if months < WIDOW_PENSION_MONTHS:
            return Refused(
                ClaimRefusal.TOO_FEW_MONTHS, "国民年金法49条1項", f"第1号被保険者期間が{months}月で、10年に足りません"
            )
        age = age_on(claimant.birth, claim.received_on)
        if age > WIDOW_PENSION_LAST_AGE:
            return Refused(ClaimRefusal.TOO_OLD, "国民年金法49条3項", f"請求日に{age}歳です（65歳に達するまで）")
        return Received("5950", tuple(checks))
    if claim.kind is ClaimKind.DEATH_LUMP_SUM:
        if months < DEATH_LUMP_SUM_MONTHS:
            return Refused(
                ClaimRefusal.TOO_FEW_MONTHS,
                "国民年金法52条の2第1項",
                f"第1号被保険者期間が{months}月で、36月に足りません",
            )
        return Received(None, tuple(checks))
    return Received("1450", tuple(checks))


def claims_on_death(deceased: Record) -> tuple[str, ...]:
    """When a 第1号被保険者 dies: the claims the family may be entitled to and what the office must confirm with
    JPS (a staff follow-up, not a decision)."""
    died = death_date(deceased)
    if died is None:
        return ()
    period = deceased.history.period_on(died)
    if period is None or period.category is not InsuredCategory.CATEGORY_1:
        return ()
    months = deceased.history.insured_months(as_of=died, categories=frozenset({InsuredCategory.CATEGORY_1}))
    items = ["遺族基礎年金（子のある配偶者・子: 37条） — 生計維持と保険料納付要件を日本年金機構に確認"]
    if months >= WIDOW_PENSION_MONTHS:
        items.append("寡婦年金（婚姻10年以上の妻: 49条） — 納付・免除期間10年以上を日本年金機構に確認")
    if months >= DEATH_LUMP_SUM_MONTHS:
        items.append("死亡一時金（生計同一の遺族: 52条の2） — 納付済期間36月以上を日本年金機構に確認")
    items.append("未支給年金（受給中であった場合: 19条） — 受給の有無を日本年金機構に確認")
    return tuple(items)
