"""The topic registry: every topic, its version, key, partitions, payload model and dead-letter topic.

Topic names are ``<domain>.<event>.v<N>``; a breaking change to a payload makes a new ``.v<N+1>``
topic (and a new entry here) while the old one keeps its model until its consumers have moved.
Dead letters of a topic go to ``<topic>.dlq``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .counter import (
    BenefitClaimSubmitted,
    ExemptionApplicationSubmitted,
    ExemptionNotificationSubmitted,
    FilingOutcome,
    FilingSubmitted,
)
from .eligibility import (
    AdditionalPremiumChanged,
    BenefitClaimReceived,
    CalendarFact,
    ExemptionContinuationRun,
    ExemptionDecided,
    ExemptionNotificationOutcome,
    ExemptionScreened,
    JpsReportDue,
    QualificationChanged,
)
from .envelope import Event
from .jps import JpsProcessingResult
from .residency import PersonChanged, ResidentChanged
from .tax import IncomeAssessed, IncomeDetermined
from .transfer import (
    ChildAllowanceBatchCompleted,
    ChildAllowanceInsuredTransfer,
    LongTermCareBatchCompleted,
    LongTermCareWelfarePensionTransfer,
    NhiQualificationBatchCompleted,
    NhiQualificationTransfer,
    ResidentRegisterPensionTransfer,
    TransferBatchCompleted,
    TransferRecorded,
)

TOPIC_NAME = re.compile(r"^(?P<domain>[a-z]+)\.(?P<event>[a-z0-9]+(?:-[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)$")

DLQ_SUFFIX = ".dlq"
DLQ_PARTITIONS = 3

CLEAR_MY_NUMBER_RETENTION_DAYS = 30
"""How long a topic that carries My Numbers in clear (and its dead-letter topic) keeps them (ADR 0012): long
enough to repair and re-send a change, no longer. ``kokunen-admin prepare --clear-my-number-retention-days``
(``CLEAR_MY_NUMBER_RETENTION_DAYS``) sets it per deployment; every other topic keeps its events forever."""
DAY_MS = 24 * 60 * 60 * 1000

# Systems outside this repository that publish or consume our topics.
UPSTREAM_RESIDENT_RECORDS = "jumin-kiroku"  # 住民記録システム / 総合宛名システム
DEPT_NHI = "dept-nhi"  # 福祉局 生活福祉部 国保年金課 (移転先4)
DEPT_RESIDENT_REGISTER = "dept-resident-register"  # 市民局 区政推進部 (移転先1)
DEPT_CHILD_ALLOWANCE = "dept-child-allowance"  # 子ども未来局 子育て支援課 (移転先2)
DEPT_LONG_TERM_CARE = "dept-long-term-care"  # 福祉局 長寿応援部 介護保険課 (移転先3)
COUNTER = "counter"  # 窓口 (staff over HTTP): publishes filings, reads their outcomes
UPSTREAM_TAX = "zei-system"  # 税システム (個人住民税の賦課): publishes income assessments
OUTSIDE_SYSTEMS = frozenset(
    {
        UPSTREAM_RESIDENT_RECORDS,
        UPSTREAM_TAX,
        DEPT_NHI,
        DEPT_RESIDENT_REGISTER,
        DEPT_CHILD_ALLOWANCE,
        DEPT_LONG_TERM_CARE,
    }
)
"""Producers and readers that are not kokunen's services (their CloudEvents source is ``/<name>``; ours are
``/kokunen/<service>``)."""


def ce_source(producer: str) -> str:
    """The CloudEvents ``source`` a producer of the registry sends."""
    return f"/{producer}" if producer in OUTSIDE_SYSTEMS else f"/kokunen/{producer}"


@dataclass(frozen=True)
class TopicSpec:
    """One versioned topic."""

    name: str
    model: type[Event]
    key_field: str
    partitions: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    summary: str
    retention_ms: int = -1  # keep forever: replay rebuilds every slice from the topics
    extra_config: dict[str, str] = field(default_factory=dict)
    clear_my_number: bool = False
    """Carries My Numbers in clear: the topic and its dead-letter topic keep messages only
    ``CLEAR_MY_NUMBER_RETENTION_DAYS`` (its consumer keeps its own sealed history instead)."""

    def __post_init__(self) -> None:
        match = TOPIC_NAME.match(self.name)
        if match is None:
            raise ValueError(f"topic name {self.name!r} is not <domain>.<event>.v<N>")
        if not self.model.event_type.endswith(f".{match['event']}.v{match['version']}"):
            raise ValueError(f"{self.model.__name__}.event_type does not match topic {self.name}")
        if self.key_field.split(".")[0] not in self.model.model_fields:
            raise ValueError(f"key field {self.key_field!r} is not a field of {self.model.__name__}")

    @property
    def version(self) -> int:
        match = TOPIC_NAME.match(self.name)
        assert match is not None
        return int(match["version"])

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX

    def retention(self, clear_my_number_days: int = CLEAR_MY_NUMBER_RETENTION_DAYS) -> tuple[int, int]:
        """retention.ms of the topic and of its dead-letter topic (-1: forever)."""
        if self.clear_my_number:
            return clear_my_number_days * DAY_MS, clear_my_number_days * DAY_MS
        return self.retention_ms, -1

    @property
    def event_type(self) -> str:
        return self.model.event_type

    def key_of(self, event: Event) -> str:
        value: object = event
        for part in self.key_field.split("."):
            value = getattr(value, part)
        return str(value)

    def key_problem(self, key: bytes | None, event: Event) -> str | None:
        """Why ``key`` is not this event's Kafka key (None when it is): the key must be present and equal
        the payload's key field, or per-key order (one person's changes in order) would not hold."""
        if not key:
            return f"missing; it must be the payload's {self.key_field}"
        if key != self.key_of(event).encode():
            return f"differs from the payload's {self.key_field}"
        return None


RESIDENT_CHANGED = TopicSpec(
    name="residency.resident-changed.v1",
    model=ResidentChanged,
    key_field="resident.atena_number",
    partitions=12,
    producers=(UPSTREAM_RESIDENT_RECORDS,),
    consumers=("residency_sync",),
    summary="住民記録異動: resident-record changes as the upstream system publishes them (My Number in clear: "
    "restricted by ACL to residency_sync; kept 30 days, residency keeps its own sealed history)",
    clear_my_number=True,
)

PERSON_CHANGED = TopicSpec(
    name="residency.person-changed.v1",
    model=PersonChanged,
    key_field="atena_number",
    partitions=12,
    producers=("residency_sync",),
    consumers=("eligibility", "transfer_dispatch", "tax_sync", COUNTER),
    summary="人の異動 (normalised): what a resident change means for pension work, minimised; My Number sealed",
)

QUALIFICATION_CHANGED = TopicSpec(
    name="eligibility.qualification-changed.v1",
    model=QualificationChanged,
    key_field="atena_number",
    partitions=12,
    producers=("eligibility",),
    consumers=("transfer_dispatch", COUNTER),
    summary="資格異動: category-1 / voluntary insured periods acquired, lost, changed, corrected",
)

JPS_REPORT_DUE = TopicSpec(
    name="eligibility.jps-report-due.v1",
    model=JpsReportDue,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=("transfer_dispatch",),
    summary="進達対象: filings, decisions and applications the city must report to JPS (weekly 進達 or on inquiry)",
)

FILING_SUBMITTED = TopicSpec(
    name="counter.filing-submitted.v1",
    model=FilingSubmitted,
    key_field="atena_number",
    partitions=6,
    producers=(COUNTER,),
    consumers=("eligibility", COUNTER),  # the counter: its 受付処理簿
    summary="届出・申出・申請: filings received at the counter (資格取得届, 喪失届, 種別変更届, 訂正と確認, 付加 …)",
)

FILING_OUTCOME = TopicSpec(
    name="eligibility.filing-outcome.v1",
    model=FilingOutcome,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=(COUNTER,),
    summary="届出の処理結果: accepted, waiting for a second staff member's confirmation, or rejected with the rule",
)

EXEMPTION_APPLICATION_SUBMITTED = TopicSpec(
    name="counter.exemption-application-submitted.v1",
    model=ExemptionApplicationSubmitted,
    key_field="atena_number",
    partitions=6,
    producers=(COUNTER,),
    consumers=("eligibility", COUNTER),  # the counter: its 受付処理簿
    summary="免除・納付猶予・学生納付特例申請: applications received at the counter (period, tier, 特例, 学校)",
)

EXEMPTION_SCREENED = TopicSpec(
    name="eligibility.exemption-screened.v1",
    model=ExemptionScreened,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=(COUNTER,),
    summary="免除等の所得審査結果: refused with its rules, or per tier and person (income used, limit, article); "
    "redone when an income arrives or is corrected",
)

EXEMPTION_DECIDED = TopicSpec(
    name="eligibility.exemption-decided.v1",
    model=ExemptionDecided,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=(COUNTER,),
    summary="免除等申請の決定: JPS's 承認/却下 from the 処理結果一覧表, recorded on the application, and the tier it "
    "puts in force for the application's months (the person's exemption status follows it)",
)

EXEMPTION_NOTIFICATION_SUBMITTED = TopicSpec(
    name="counter.exemption-notification-submitted.v1",
    model=ExemptionNotificationSubmitted,
    key_field="atena_number",
    partitions=6,
    producers=(COUNTER,),
    consumers=("eligibility", COUNTER),  # the counter: its 受付処理簿
    summary="法定免除・産前産後免除の届出: 該当・非該当届 (89条) and 産前産後期間の免除届 (88条の2)",
)

EXEMPTION_NOTIFICATION_OUTCOME = TopicSpec(
    name="eligibility.exemption-notification-outcome.v1",
    model=ExemptionNotificationOutcome,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=(COUNTER,),
    summary="免除の届出の処理結果: the months of 法定免除・産前産後免除 recorded, or the refusal with its rule",
)

BENEFIT_CLAIM_SUBMITTED = TopicSpec(
    name="counter.benefit-claim-submitted.v1",
    model=BenefitClaimSubmitted,
    key_field="atena_number",
    partitions=6,
    producers=(COUNTER,),
    consumers=("eligibility", COUNTER),  # the counter: its 受付処理簿
    summary="裁定請求の受付: 老齢・障害・遺族基礎年金, 寡婦年金, 死亡一時金, 特別障害給付金, 未支給年金, 老齢福祉年金",
)

BENEFIT_CLAIM_RECEIVED = TopicSpec(
    name="eligibility.benefit-claim-received.v1",
    model=BenefitClaimReceived,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=(COUNTER,),
    summary="裁定請求の受付結果: received and reported to JPS under its 年金コード, or refused with its rule",
)

EXEMPTION_CONTINUATION_RUN = TopicSpec(
    name="eligibility.exemption-continuation-run.v1",
    model=ExemptionContinuationRun,
    key_field="year",
    partitions=6,  # as many as eligibility's other inputs, so that it still scales out (runs of a year share one)
    producers=("eligibility",),
    consumers=("eligibility",),
    summary="継続審査の実行: the July continuation batch ran for a 年度 — replay runs it again at the same point",
)

CALENDAR_FACT = TopicSpec(
    name="eligibility.calendar-fact.v1",
    model=CalendarFact,
    key_field="atena_number",
    partitions=12,
    producers=("eligibility",),
    consumers=("eligibility",),
    summary="暦による事実: 20歳・60歳到達, 転出予定日の到来 — produced by eligibility's scheduler, replay-safe",
)

ADDITIONAL_PREMIUM_CHANGED = TopicSpec(
    name="eligibility.additional-premium-changed.v1",
    model=AdditionalPremiumChanged,
    key_field="atena_number",
    partitions=6,
    producers=("eligibility",),
    consumers=(COUNTER,),
    summary="付加情報: 付加保険料 paid from / no longer paid from a month (国民年金法87条の2)",
)

NHI_QUALIFICATION_TRANSFER = TopicSpec(
    name="transfer.nhi-qualification-changes.v1",
    model=NhiQualificationTransfer,
    key_field="atena_number",
    partitions=3,
    producers=("transfer_dispatch",),
    consumers=(DEPT_NHI,),
    summary="移転4: 国民年金資格異動情報 to 国保年金課 (monthly batch; seven fields; no My Number)",
)

INCOME_ASSESSED = TopicSpec(
    name="tax.income-assessed.v1",
    model=IncomeAssessed,
    key_field="atena_number",
    partitions=6,
    producers=(UPSTREAM_TAX,),
    consumers=("tax_sync",),
    summary="所得情報 (住民税): income part of a resident-tax assessment or its correction (更正), as the tax "
    "system publishes it; the annual run also arrives as a file",
)

INCOME_DETERMINED = TopicSpec(
    name="tax.income-determined.v1",
    model=IncomeDetermined,
    key_field="atena_number",
    partitions=6,
    producers=("tax_sync",),
    consumers=("eligibility", COUNTER),
    summary="所得確定: a person's income for an income year as exemption screening needs it (no name or "
    "address); corrections name the figure they supersede",
)

JPS_PROCESSING_RESULT = TopicSpec(
    name="transfer.jps-processing-result.v1",
    model=JpsProcessingResult,
    key_field="atena_number",
    partitions=6,
    producers=("transfer_dispatch",),
    consumers=("eligibility",),
    summary="処理結果一覧表の突合: each reported record as JPS processed it, matched / mismatched / missing / "
    "unexpected (no My Number)",
)

RESIDENT_REGISTER_TRANSFER = TopicSpec(
    name="transfer.resident-register-pension.v1",
    model=ResidentRegisterPensionTransfer,
    key_field="basic_pension_number",  # the policy allows no 宛名番号: the 基礎年金番号 is the only identifier
    partitions=3,
    producers=("transfer_dispatch",),
    consumers=(DEPT_RESIDENT_REGISTER,),
    summary="移転1: 国民年金資格情報 to 区政推進部 for the 住民票 (随時; four fields; no My Number)",
)

CHILD_ALLOWANCE_TRANSFER = TopicSpec(
    name="transfer.child-allowance-insured.v1",
    model=ChildAllowanceInsuredTransfer,
    key_field="basic_pension_number",
    partitions=3,
    producers=("transfer_dispatch",),
    consumers=(DEPT_CHILD_ALLOWANCE,),
    summary="移転2: 国民年金資格情報 to 子育て支援課 (monthly batch of every holder of a 基礎年金番号; no My Number)",
)

LONG_TERM_CARE_TRANSFER = TopicSpec(
    name="transfer.long-term-care-welfare-pension.v1",
    model=LongTermCareWelfarePensionTransfer,
    key_field="atena_number",
    partitions=3,
    producers=("transfer_dispatch",),
    consumers=(DEPT_LONG_TERM_CARE,),
    summary="移転3: 老齢福祉年金受給者情報 to 介護保険課 (monthly batch; four fields; no My Number)",
)

TRANSFER_RECORDED = TopicSpec(
    name="dispatch.transfer-recorded.v1",
    model=TransferRecorded,
    key_field="atena_number",
    partitions=6,
    producers=("transfer_dispatch",),
    consumers=(COUNTER,),
    summary="提供・移転の記録 (per person): what was sent about a person, to whom, when, under which batch; field "
    "names only, no values, no My Number",
)


def batch_completed_topic(records: TopicSpec, model: type[TransferBatchCompleted]) -> TopicSpec:
    """The companion topic of a monthly transfer topic: one marker per batch, after its records (ADR 0052).
    Its own topic, not the records' (whose one type and key stay as they were); one partition, so that the
    markers of a recipient are read in the order the batches completed; the same reader as the records."""
    return TopicSpec(
        name=records.name.removesuffix(f".v{records.version}") + f"-batch-completed.v{records.version}",
        model=model,
        key_field="batch_id",
        partitions=1,
        producers=records.producers,
        consumers=records.consumers,
        summary=f"移転バッチ完了: one marker per monthly batch of {records.name} (batch id, 処理月, record count, "
        "digest of the records' event ids) — the batch is whole when the department holds them all",
    )


NHI_BATCH_COMPLETED = batch_completed_topic(NHI_QUALIFICATION_TRANSFER, NhiQualificationBatchCompleted)
CHILD_ALLOWANCE_BATCH_COMPLETED = batch_completed_topic(CHILD_ALLOWANCE_TRANSFER, ChildAllowanceBatchCompleted)
LONG_TERM_CARE_BATCH_COMPLETED = batch_completed_topic(LONG_TERM_CARE_TRANSFER, LongTermCareBatchCompleted)

BATCH_COMPLETED_TOPICS: dict[str, TopicSpec] = {
    NHI_QUALIFICATION_TRANSFER.name: NHI_BATCH_COMPLETED,
    CHILD_ALLOWANCE_TRANSFER.name: CHILD_ALLOWANCE_BATCH_COMPLETED,
    LONG_TERM_CARE_TRANSFER.name: LONG_TERM_CARE_BATCH_COMPLETED,
}
"""Monthly transfer topic → its batch-completed topic (移転1 is sent 随時, one change at a time: no marker)."""

TOPICS: tuple[TopicSpec, ...] = (
    RESIDENT_CHANGED,
    PERSON_CHANGED,
    QUALIFICATION_CHANGED,
    JPS_REPORT_DUE,
    NHI_QUALIFICATION_TRANSFER,
    RESIDENT_REGISTER_TRANSFER,
    CHILD_ALLOWANCE_TRANSFER,
    LONG_TERM_CARE_TRANSFER,
    FILING_SUBMITTED,
    FILING_OUTCOME,
    CALENDAR_FACT,
    ADDITIONAL_PREMIUM_CHANGED,
    INCOME_ASSESSED,
    INCOME_DETERMINED,
    JPS_PROCESSING_RESULT,
    EXEMPTION_APPLICATION_SUBMITTED,
    EXEMPTION_SCREENED,
    EXEMPTION_DECIDED,
    EXEMPTION_NOTIFICATION_SUBMITTED,
    EXEMPTION_NOTIFICATION_OUTCOME,
    BENEFIT_CLAIM_SUBMITTED,
    BENEFIT_CLAIM_RECEIVED,
    EXEMPTION_CONTINUATION_RUN,
    TRANSFER_RECORDED,
    NHI_BATCH_COMPLETED,
    CHILD_ALLOWANCE_BATCH_COMPLETED,
    LONG_TERM_CARE_BATCH_COMPLETED,
)

BY_NAME: dict[str, TopicSpec] = {t.name: t for t in TOPICS}


def topic(name: str) -> TopicSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; the registry lists {sorted(BY_NAME)}") from None


def all_topic_names(include_dlq: bool = True) -> list[str]:
    names = [t.name for t in TOPICS]
    if include_dlq:
        names += [t.dlq for t in TOPICS]
    return names
