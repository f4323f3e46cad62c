"""Resident-record contracts (住民記録).

``ResidentChanged`` is what the upstream resident-record system (住民記録システム / 総合宛名システム)
publishes for each change (異動); ``residency_sync`` is its only consumer. ``PersonChanged`` is the
normalised, minimised event ``residency_sync`` publishes for the other pension services.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from .envelope import ContractModel, Event
from .identifiers import AtenaNumber, HouseholdNumber, MyNumber, SealedMyNumber
from .labels import LabelledEnum


class ChangeCategory(LabelledEnum):
    """異動の区分 of the resident-record standard."""

    ENTRY = "entry", "記載"
    REMOVAL = "removal", "消除"
    AMENDMENT = "amendment", "修正"
    CANCELLATION = "cancellation", "異動の取消し"


class ChangeReason(LabelledEnum):
    """異動事由 (reason for a resident-record change)."""

    # 記載 (entry)
    DOMESTIC_MOVE_IN = "domestic_move_in", "国内転入"
    MOVE_IN_FROM_ABROAD = "move_in_from_abroad", "国外転入"
    BIRTH = "birth", "出生"
    EX_OFFICIO_ENTRY = "ex_officio_entry", "職権記載"
    NATURALISATION_ENTRY = "naturalisation_entry", "帰化による記載"  # 職権記載
    NATIONALITY_LOSS_ENTRY = "nationality_loss_entry", "国籍喪失による記載"  # 外国人住民として
    # 消除 (removal)
    DOMESTIC_MOVE_OUT = "domestic_move_out", "国内転出"
    MOVE_OUT_ABROAD = "move_out_abroad", "国外転出"
    DEATH = "death", "死亡"
    EX_OFFICIO_REMOVAL = "ex_officio_removal", "職権消除"  # 実態調査で居住なし
    NATURALISATION_REMOVAL = "naturalisation_removal", "帰化による消除"  # 外国人住民
    NATIONALITY_LOSS_REMOVAL = "nationality_loss_removal", "国籍喪失による消除"  # 日本人住民
    # 修正 (amendment)
    MOVE_WITHIN_CITY = "move_within_city", "転居"  # 区間異動を含む
    EX_OFFICIO_AMENDMENT = "ex_officio_amendment", "職権修正"
    CLERICAL_CORRECTION = "clerical_correction", "誤記修正"
    MY_NUMBER_CHANGE = "my_number_change", "個人番号の変更"
    NAME_CHANGE = "name_change", "氏名の変更"  # 戸籍届出による
    HOUSEHOLD_SEPARATION = "household_separation", "世帯分離"
    HOUSEHOLD_MERGER = "household_merger", "世帯合併"
    HOUSEHOLD_CHANGE = "household_change", "世帯変更"  # 世帯構成の変更
    HOUSEHOLDER_CHANGE = "householder_change", "世帯主変更"
    FORMER_SURNAME = "former_surname", "旧氏の記載・削除"
    ALIAS = "alias", "通称の記載・削除"
    RESIDENCE_STATUS_CHANGE = "residence_status_change", "在留資格等の変更"  # 法務省通知
    # 異動の取消し
    CANCELLATION = "cancellation", "異動の取消し"

    @property
    def category(self) -> ChangeCategory:
        return CHANGE_CATEGORY[self]

    @property
    def japanese(self) -> str:
        return CHANGE_REASON_JA[self]


CHANGE_CATEGORY: dict[ChangeReason, ChangeCategory] = {
    **{
        r: ChangeCategory.ENTRY
        for r in (
            ChangeReason.DOMESTIC_MOVE_IN,
            ChangeReason.MOVE_IN_FROM_ABROAD,
            ChangeReason.BIRTH,
            ChangeReason.EX_OFFICIO_ENTRY,
            ChangeReason.NATURALISATION_ENTRY,
            ChangeReason.NATIONALITY_LOSS_ENTRY,
        )
    },
    **{
        r: ChangeCategory.REMOVAL
        for r in (
            ChangeReason.DOMESTIC_MOVE_OUT,
            ChangeReason.MOVE_OUT_ABROAD,
            ChangeReason.DEATH,
            ChangeReason.EX_OFFICIO_REMOVAL,
            ChangeReason.NATURALISATION_REMOVAL,
            ChangeReason.NATIONALITY_LOSS_REMOVAL,
        )
    },
    **{
        r: ChangeCategory.AMENDMENT
        for r in (
            ChangeReason.MOVE_WITHIN_CITY,
            ChangeReason.EX_OFFICIO_AMENDMENT,
            ChangeReason.CLERICAL_CORRECTION,
            ChangeReason.MY_NUMBER_CHANGE,
            ChangeReason.NAME_CHANGE,
            ChangeReason.HOUSEHOLD_SEPARATION,
            ChangeReason.HOUSEHOLD_MERGER,
            ChangeReason.HOUSEHOLD_CHANGE,
            ChangeReason.HOUSEHOLDER_CHANGE,
            ChangeReason.FORMER_SURNAME,
            ChangeReason.ALIAS,
            ChangeReason.RESIDENCE_STATUS_CHANGE,
        )
    },
    ChangeReason.CANCELLATION: ChangeCategory.CANCELLATION,
}

CHANGE_REASON_JA: dict[ChangeReason, str] = {
    ChangeReason.DOMESTIC_MOVE_IN: "国内転入",
    ChangeReason.MOVE_IN_FROM_ABROAD: "国外転入",
    ChangeReason.BIRTH: "出生",
    ChangeReason.EX_OFFICIO_ENTRY: "職権記載",
    ChangeReason.NATURALISATION_ENTRY: "帰化",
    ChangeReason.NATIONALITY_LOSS_ENTRY: "国籍喪失",
    ChangeReason.DOMESTIC_MOVE_OUT: "国内転出",
    ChangeReason.MOVE_OUT_ABROAD: "国外転出",
    ChangeReason.DEATH: "死亡",
    ChangeReason.EX_OFFICIO_REMOVAL: "職権消除",
    ChangeReason.NATURALISATION_REMOVAL: "帰化",
    ChangeReason.NATIONALITY_LOSS_REMOVAL: "国籍喪失",
    ChangeReason.MOVE_WITHIN_CITY: "転居",
    ChangeReason.EX_OFFICIO_AMENDMENT: "職権修正",
    ChangeReason.CLERICAL_CORRECTION: "誤記修正",
    ChangeReason.MY_NUMBER_CHANGE: "個人番号の変更",
    ChangeReason.NAME_CHANGE: "氏名の変更",
    ChangeReason.HOUSEHOLD_SEPARATION: "世帯分離",
    ChangeReason.HOUSEHOLD_MERGER: "世帯合併",
    ChangeReason.HOUSEHOLD_CHANGE: "世帯変更",
    ChangeReason.HOUSEHOLDER_CHANGE: "世帯主変更",
    ChangeReason.FORMER_SURNAME: "旧氏",
    ChangeReason.ALIAS: "通称",
    ChangeReason.RESIDENCE_STATUS_CHANGE: "在留資格等の変更",
    ChangeReason.CANCELLATION: "異動の取消し",
}

MOVE_OUT_REASONS = frozenset({ChangeReason.DOMESTIC_MOVE_OUT, ChangeReason.MOVE_OUT_ABROAD})
"""転出: the only changes whose 異動日 (転出予定日) may lie after the 処理日."""


class Sex(LabelledEnum):
    """性別."""

    MALE = "male", "男"
    FEMALE = "female", "女"


class ResidentClass(LabelledEnum):
    """住民区分."""

    JAPANESE = "japanese", "日本人住民"
    FOREIGN = "foreign", "外国人住民"
    NON_RESIDENT = "non_resident", "住登外者"  # registered in 総合宛名 only


Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
PostalCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}-?[0-9]{4}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LocalGovernmentCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class Address(ContractModel):
    """住所情報: a Japanese address, or a foreign one where ``country_code`` is not JP."""

    text: Text = Field(description="住所 (address line as printed)")
    postal_code: PostalCode | None = Field(default=None, description="郵便番号")
    prefecture: Text | None = Field(default=None, description="都道府県")
    municipality: Text | None = Field(default=None, description="市区町村")
    ward: Text | None = Field(default=None, description="区 (行政区)")
    local_government_code: LocalGovernmentCode | None = Field(default=None, description="全国地方公共団体コード")
    country_code: CountryCode = Field(default="JP", description="国・地域 (ISO 3166-1 alpha-2)")

    @property
    def in_japan(self) -> bool:
        return self.country_code == "JP"


class PersonName(ContractModel):
    """氏名情報."""

    name: Text = Field(description="氏名")
    kana: Text | None = Field(default=None, description="氏名カナ")
    former_surname: Text | None = Field(default=None, description="旧氏")


class HouseholderInfo(ContractModel):
    """世帯主情報."""

    atena_number: AtenaNumber | None = Field(default=None, description="世帯主の宛名番号")
    name: Text = Field(description="世帯主氏名")


class BecameResident(ContractModel):
    """住民となった事由 and its date (住民となった年月日)."""

    reason: ChangeReason = Field(description="住民となった事由")
    on: date = Field(description="住民となった年月日")


class Removal(ContractModel):
    """消除情報."""

    reason: ChangeReason = Field(description="消除事由")
    on: date = Field(description="消除日 (異動日)")
    notified_on: date | None = Field(default=None, description="届出日")


class ProcessingSuspension(ContractModel):
    """処理停止情報 (e.g. DV等支援措置: the record must not be disclosed)."""

    suspended: bool = Field(description="処理停止の有無")
    reason: Text | None = Field(default=None, description="処理停止事由")


class ResidenceStatus(ContractModel):
    """在留資格情報 (foreign residents)."""

    status: Text = Field(description="在留資格 (e.g. 永住者, 特定活動)")
    designated_activity: Text | None = Field(default=None, description="特定活動の内容 (e.g. 医療滞在, 観光・保養)")
    period_end: date | None = Field(default=None, description="在留期間の満了日")


class ResidentRecord(ContractModel):
    """＜宛名＞ of 別添2: the resident as recorded after the change."""

    atena_number: AtenaNumber = Field(description="宛名番号")
    my_number: MyNumber | None = Field(default=None, description="個人番号")
    household_number: HouseholdNumber = Field(description="世帯番号")
    name: PersonName = Field(description="氏名情報")
    birth_date: date = Field(description="生年月日")
    sex: Sex = Field(description="性別")
    relationship: Text = Field(description="続柄 (世帯主との続柄)")
    resident_class: ResidentClass = Field(description="住民区分")
    householder: HouseholderInfo | None = Field(default=None, description="世帯主情報")
    became_resident: BecameResident | None = Field(default=None, description="住民となった事由")
    current_address: Address = Field(description="現住所情報")
    previous_address: Address | None = Field(default=None, description="前住所情報")
    moved_in_from: Address | None = Field(default=None, description="転入元住所情報")
    moved_out_to: Address | None = Field(default=None, description="転出先住所情報")
    family_register_head: Text | None = Field(default=None, description="筆頭者情報")
    removal: Removal | None = Field(default=None, description="消除情報")
    nationality: CountryCode | None = Field(default=None, description="国籍 (ISO 3166-1 alpha-2)")
    alias: Text | None = Field(default=None, description="通称")
    processing_suspension: ProcessingSuspension | None = Field(default=None, description="処理停止情報")
    residence_status: ResidenceStatus | None = Field(default=None, description="在留資格情報")


class ResidentChanged(Event):
    """住民記録異動: one change of the resident record, as the upstream system publishes it.

    ``effective_date`` is the 異動日; ``processed_on`` the 処理日. 異動日 ≤ 処理日 except for 転出,
    whose 転出予定日 may lie in the future.
    """

    event_type: ClassVar[str] = "jp.kokunen.residency.resident-changed.v1"

    change_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="異動番号 (upstream id of this change; a cancellation names it)"
    )
    reason: ChangeReason = Field(description="異動事由")
    processed_on: date = Field(description="処理日")
    cancels_change_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="取り消す異動の異動番号 (異動の取消し only)"
    )
    resident: ResidentRecord = Field(description="宛名 (異動後の住民情報)")

    @model_validator(mode="after")
    def _dates_and_references_are_consistent(self) -> Self:
        if self.effective_date > self.processed_on and self.reason not in MOVE_OUT_REASONS:
            raise ValueError(
                "異動日が処理日より後です (effective date after processing date; only 転出 may be future-dated)"
            )
        if self.resident.birth_date > self.effective_date and self.reason is not ChangeReason.CANCELLATION:
            raise ValueError("異動日が生年月日より前です (effective date before birth date)")
        if self.reason is ChangeReason.BIRTH and self.resident.birth_date != self.effective_date:
            raise ValueError(
                "出生の異動日は生年月日と一致しなければなりません (birth: effective date must equal birth date)"
            )
        if (self.reason is ChangeReason.CANCELLATION) != (self.cancels_change_id is not None):
            raise ValueError("cancels_change_id is required for 異動の取消し and only for it")
        if self.reason.category is ChangeCategory.REMOVAL and self.resident.removal is None:
            raise ValueError("消除の異動には消除情報が必要です (a removal needs resident.removal)")
        return self


class PersonChangeKind(LabelledEnum):
    """What a resident-record change means for the pension services (normalised)."""

    REGISTERED = "registered", "登録"  # first seen, e.g. from a full extract
    BORN = "born", "出生"
    MOVED_IN_FROM_ABROAD = "moved_in_from_abroad", "国外転入"
    MOVED_IN_DOMESTIC = "moved_in_domestic", "国内転入"
    ENTERED_EX_OFFICIO = "entered_ex_officio", "職権記載"
    MOVED_WITHIN_CITY = "moved_within_city", "転居"  # 区間異動: same 宛名番号, new 世帯番号
    MOVED_OUT_DOMESTIC = "moved_out_domestic", "国内転出"
    MOVED_OUT_ABROAD = "moved_out_abroad", "国外転出"
    DIED = "died", "死亡"
    REMOVED_EX_OFFICIO = "removed_ex_officio", "職権消除"  # not a death nor a move abroad
    NATIONALITY_CHANGED = "nationality_changed", "帰化 / 国籍喪失"  # one person continues
    NAME_CHANGED = "name_changed", "氏名・旧氏・通称の変更"
    HOUSEHOLD_CHANGED = "household_changed", "世帯分離・合併・変更, 世帯主変更"
    IDENTITY_AMENDED = "identity_amended", "職権修正・誤記修正・個人番号の変更・在留資格の変更"
    CHANGE_CANCELLED = "change_cancelled", "異動の取消し"  # undo what the named event did


class PersonChanged(Event):
    """人の異動 (normalised): a resident change minimised to what the pension services need.

    Carries the person as now recorded (state after the change) so that a consumer never has to
    ask residency; My Number only sealed. 続柄 and the 世帯主's 宛名番号 are there for exemption screening
    (the income of the spouse and the householder is examined: 国民年金法90条1項). ``replaces_event_id``
    names the earlier event this one corrects (a late fact) and ``cancels_event_id`` the event a
    cancellation undoes.
    """

    event_type: ClassVar[str] = "jp.kokunen.residency.person-changed.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    kind: PersonChangeKind = Field(description="異動の種類 (normalised)")
    source_change_id: str | None = Field(default=None, description="住民記録の異動番号")
    cause_event_id: uuid.UUID | None = Field(default=None, description="原因となった上流イベントID")
    replaces_event_id: uuid.UUID | None = Field(default=None, description="訂正対象のイベントID")
    cancels_event_id: uuid.UUID | None = Field(default=None, description="取消対象のイベントID")
    household_number: HouseholdNumber = Field(description="世帯番号")
    name: Text = Field(description="氏名")
    name_kana: Text | None = Field(default=None, description="氏名カナ")
    sex: Sex = Field(description="性別")
    birth_date: date = Field(description="生年月日")
    address: Address = Field(description="住所 (現住所; 転出後は転出先)")
    lives_in_japan: bool = Field(description="国内居住 (日本国内に住所を有する)")
    is_resident: bool = Field(description="住民である (消除されていない)")
    resident_class: ResidentClass = Field(description="住民区分")
    nationality: CountryCode | None = Field(default=None, description="国籍")
    residence_status: ResidenceStatus | None = Field(default=None, description="在留資格情報")
    my_number_sealed: SealedMyNumber | None = Field(default=None, description="個人番号 (暗号化)")
    relationship: Text | None = Field(
        default=None, description="続柄 (世帯主との続柄; 免除等の所得審査で配偶者・世帯主を特定する)"
    )
    householder_atena_number: AtenaNumber | None = Field(
        default=None, description="世帯主の宛名番号 (免除等の所得審査で世帯主を特定する)"
    )
    processing_suspension: ProcessingSuspension | None = Field(
        default=None, description="処理停止情報 (DV等支援措置: the counter withholds the address, no export)"
    )

    @model_validator(mode="after")
    def _references_match_kind(self) -> Self:
        if (self.kind is PersonChangeKind.CHANGE_CANCELLED) != (self.cancels_event_id is not None):
            raise ValueError("cancels_event_id is required for change_cancelled and only for it")
        return self
