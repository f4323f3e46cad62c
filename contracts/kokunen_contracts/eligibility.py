"""Qualification contracts (資格情報) published by ``eligibility``."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, model_validator

from .envelope import Event
from .identifiers import AtenaNumber, BasicPensionNumber


class InsuredCategory(StrEnum):
    """被保険者種別."""

    CATEGORY_1 = "category_1"  # 第1号被保険者
    CATEGORY_2 = "category_2"  # 第2号被保険者
    CATEGORY_3 = "category_3"  # 第3号被保険者
    VOLUNTARY = "voluntary"  # 任意加入被保険者


class AcquisitionReason(StrEnum):
    """資格取得事由."""

    REACHED_20 = "reached_20"  # 20歳到達 (国民年金法8条1号)
    MOVED_IN_FROM_ABROAD = "moved_in_from_abroad"  # 国内に住所を有するに至った (8条2号)
    CEASED_EXCLUSION = "ceased_exclusion"  # 適用除外に該当しなくなった (8条3号)
    LEFT_CATEGORY_2 = "left_category_2"  # 第2号被保険者でなくなった (種別変更)
    LEFT_CATEGORY_3 = "left_category_3"  # 第3号被保険者でなくなった (種別変更)
    VOLUNTARY_APPLICATION = "voluntary_application"  # 任意加入の申出 (附則5条)
    FILED = "filed"  # 資格取得届による (届出で事由を特定)


class LossReason(StrEnum):
    """資格喪失事由."""

    DEATH = "death"  # 死亡 (9条1号: 翌日喪失)
    MOVED_ABROAD = "moved_abroad"  # 国内に住所を有しなくなった (9条2号: 翌日喪失)
    REACHED_60 = "reached_60"  # 60歳到達 (9条3号: 当日喪失)
    BECAME_EXCLUDED = "became_excluded"  # 厚年老齢給付等の受給権・適用除外 (9条4号: 当日喪失)
    BECAME_CATEGORY_2 = "became_category_2"  # 第2号被保険者となった (種別変更: 当日)
    BECAME_CATEGORY_3 = "became_category_3"  # 第3号被保険者となった (種別変更: 当日)
    REACHED_65 = "reached_65"  # 任意加入: 65歳到達
    REACHED_480_MONTHS = "reached_480_months"  # 任意加入: 480月到達
    WITHDREW = "withdrew"  # 任意加入: 喪失の申出
    FILED = "filed"  # 資格喪失届による


class QualificationChangeKind(StrEnum):
    """資格異動の種類."""

    ACQUIRED = "acquired"  # 資格取得
    LOST = "lost"  # 資格喪失
    CATEGORY_CHANGED = "category_changed"  # 種別変更
    CORRECTED = "corrected"  # 訂正 (replaces an earlier event)
    CANCELLED = "cancelled"  # 取消 (the named event no longer holds)


class QualificationChanged(Event):
    """資格異動: a category-1/voluntary insured period began, ended, changed or was corrected.

    ``effective_date`` is the 取得日 / 喪失日 / 種別変更日 that this change is about. The period is
    described as it now stands; ``replaces_event_id`` names the event a correction or cancellation
    supersedes, so that downstream recipients can correct what they were sent.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.qualification-changed.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    kind: QualificationChangeKind = Field(description="資格異動の種類")
    period_id: uuid.UUID = Field(description="資格期間ID")
    category: InsuredCategory = Field(description="被保険者種別")
    acquired_on: date = Field(description="資格取得日")
    acquisition_reason: AcquisitionReason = Field(description="資格取得事由")
    lost_on: date | None = Field(default=None, description="資格喪失日")
    loss_reason: LossReason | None = Field(default=None, description="資格喪失事由")
    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    cause_event_id: uuid.UUID | None = Field(default=None, description="原因となったイベントID")
    replaces_event_id: uuid.UUID | None = Field(default=None, description="訂正・取消対象のイベントID")

    @model_validator(mode="after")
    def _period_is_consistent(self) -> Self:
        if (self.lost_on is None) != (self.loss_reason is None):
            raise ValueError("資格喪失日と資格喪失事由は揃って指定してください (lost_on and loss_reason go together)")
        if self.lost_on is not None and self.lost_on < self.acquired_on:
            raise ValueError("資格喪失日が資格取得日より前です (loss before acquisition)")
        if self.kind in (QualificationChangeKind.CORRECTED, QualificationChangeKind.CANCELLED) and (
            self.replaces_event_id is None
        ):
            raise ValueError("a correction or cancellation must name the event it replaces")
        return self
