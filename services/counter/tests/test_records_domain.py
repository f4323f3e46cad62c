"""The 開示請求 export and the 受付処理簿, decided without I/O: what an export holds and leaves out (My Number,
a 処理停止 address, another person's screening), its published JSON Schema, and the book's 進達 kinds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import jsonschema
from counter.domain.disclosure import SCHEMA_PATH, build_export, decision_from, schema_text
from counter.domain.reasons import Reason
from counter.domain.reception import BookPeriod, Outcome, Span, jps_report_kind, reported_to_jps
from kokunen_contracts.counter import FilingKind
from kokunen_contracts.eligibility import JpsReportKind

AT = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


def person(**overrides: object) -> dict[str, object]:
    return {
        "atena_number": "0001234567",
        "name": "浦和 花子",
        "name_kana": "ウラワ ハナコ",
        "birth_date": date(1990, 4, 2),
        "sex": "female",
        "address": {"text": "埼玉県さいたま市浦和区高砂三丁目15番1号"},
        "suspended": False,
        "is_resident": True,
        "lives_in_japan": True,
        "basic_pension_number": "1234-567890",
        "has_my_number": True,
        "my_number_sealed": "sealed-value-never-read",
        **overrides,
    }


def export_of(
    row: dict[str, object],
    decisions: list[dict[str, object]] | None = None,
    jps_decisions: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    export = build_export(
        person=row,
        periods=[],
        incomes=[],
        filings=[],
        decisions=decisions or [],
        jps_decisions=jps_decisions or [],
        transfers=[],
        accesses=[],
        reason=Reason("02", "開示請求 第12号"),
        department="総務局 情報公開課",
        at=AT,
    )
    body: dict[str, object] = json.loads(export.model_dump_json())
    jsonschema.validate(body, json.loads(SCHEMA_PATH.read_text()))
    return body


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: counter disclosure-schema --write"


def test_an_export_says_whether_a_my_number_is_registered_and_never_carries_one() -> None:
    body = export_of(person())
    assert body["person"]["my_number_registered"] is True  # type: ignore[index]
    assert "sealed-value-never-read" not in json.dumps(body)
    assert body["person"]["address"] == "埼玉県さいたま市浦和区高砂三丁目15番1号"  # type: ignore[index]


def test_a_person_under_processing_suspension_gets_the_export_without_the_address() -> None:
    body = export_of(person(suspended=True))
    assert body["person"]["address"] is None  # type: ignore[index]
    assert body["person"]["address_withheld"] is True  # type: ignore[index]
    assert "さいたま市" not in json.dumps(body, ensure_ascii=False)
    assert any("処理停止" in note for note in body["notes"])  # type: ignore[attr-defined]


def test_a_decision_discloses_the_applicants_own_screening_and_not_the_spouses_income() -> None:
    check = {"tier": "full_exemption", "atena_number": "0009999999", "income_year": 2025, "outcome": "failed",
             "income_used": 3_210_000, "limit": 1_000_000, "article": "国民年金法90条1項"}  # fmt: skip
    row = {
        "receipt_id": uuid.uuid4(),
        "source": "exemption_application",
        "kind": "exemption",
        "result": "該当 (半額免除)",
        "recorded_at": AT,
        "detail": {
            "decision": "half_exemption",
            "first_month": "2026-07",
            "last_month": "2027-06",
            "income_year": 2025,
            "refusals": [],
            "checks": [
                {**check, "role": "applicant", "atena_number": "0001234567", "rule": "本人 所得 80万円 ≤ 基準 188万円"},
                {**check, "role": "spouse", "rule": "配偶者 所得 321万円 > 基準 100万円"},
            ],
        },
    }
    decision = decision_from(row)
    assert decision.decision == "半額免除"
    assert decision.months == "2026-07〜2027-06"
    assert decision.grounds == ["本人 所得 80万円 ≤ 基準 188万円 (国民年金法90条1項)"]
    assert "321万円" not in export_of(person(), [row]).__repr__()


def jps_decision(**overrides: object) -> dict[str, object]:
    """A row of counter.exemption_decision as eligibility.exemption-decided.v1 left it."""
    return {
        "event_id": uuid.uuid4(),
        "application_id": uuid.uuid4(),
        "atena_number": "0001234567",
        "kind": "exemption",
        "jps_decision": "approved",
        "tier": "half_exemption",
        "screened_tier": "full_exemption",
        "first_month": "2026-07",
        "last_month": "2027-06",
        "decided_on": date(2026, 9, 10),
        "explanation": "日本年金機構が申請免除を承認（2026-09-10処理）: 2026-07〜2027-06 は半額免除",
        "effective_date": date(2026, 9, 10),
        "recorded_at": AT,
        **overrides,
    }


def test_jps_decisions_on_exemption_applications_are_disclosed_with_the_tier_period_and_date() -> None:
    approved, rejected = jps_decision(), jps_decision(jps_decision="rejected", tier=None, decided_on=None)
    body = export_of(person(), jps_decisions=[approved, rejected])
    assert [
        (j["receipt_id"], j["kind"], j["decision"], j["tier"], j["screened_tier"], j["months"], j["decided_on"])
        for j in body["jps_decisions"]  # type: ignore[attr-defined]
    ] == [
        (str(approved["application_id"]), "申請免除", "承認", "半額免除", "全額免除", "2026-07〜2027-06", "2026-09-10"),
        (str(rejected["application_id"]), "申請免除", "却下", None, "全額免除", "2026-07〜2027-06", None),
    ]
    # 処理停止: the decisions are the person's own record and are disclosed; the address still is not.
    suspended = export_of(person(suspended=True), jps_decisions=[approved])
    assert [j["decision"] for j in suspended["jps_decisions"]] == ["承認"]  # type: ignore[attr-defined]
    assert "さいたま市" not in json.dumps(suspended, ensure_ascii=False)


def test_an_export_made_before_jps_decisions_were_added_still_validates_against_v1() -> None:
    body = export_of(person(), jps_decisions=[jps_decision()])
    del body["jps_decisions"]  # an added field is optional: v1 stays compatible with what was issued
    jsonschema.validate(body, json.loads(SCHEMA_PATH.read_text()))


def test_the_book_counts_what_goes_to_jps_under_the_jps_kinds() -> None:
    assert jps_report_kind("filing", FilingKind.ADDRESS_CHANGE) is JpsReportKind.ADDRESS_CHANGE
    assert jps_report_kind("filing", FilingKind.CONFIRMATION) is None  # its correction is what is reported
    assert jps_report_kind("exemption_notification", "pre_postnatal_exemption") is JpsReportKind.EXEMPTION_APPLICATION
    assert jps_report_kind("exemption_notification", "statutory_exemption") is JpsReportKind.STATUTORY_EXEMPTION
    assert jps_report_kind("benefit_claim", "old_age_basic") is JpsReportKind.BENEFIT_CLAIM
    assert reported_to_jps("filing", "name_change", Outcome.ACCEPTED) == "対象"
    assert reported_to_jps("filing", "name_change", Outcome.REFUSED) == "対象外"
    assert reported_to_jps("benefit_claim", "old_age_basic", Outcome.UNANSWERED) == "未定"


def test_a_week_of_the_book_is_the_jps_week_monday_to_sunday() -> None:
    week = BookPeriod.of(date(2030, 7, 3), Span.WEEK)
    assert (week.first, week.last) == (date(2030, 7, 1), date(2030, 7, 7))
    assert week.text == "令和12年7月1日 (2030-07-01) 〜 令和12年7月7日 (2030-07-07) (2030年 第27週)"
    assert BookPeriod.of(date(2030, 7, 3), Span.DAY).text == "令和12年7月3日 (2030-07-03)"
