"""突合: a processing-result list against what was sent — matched, mismatched, missing, unexpected."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from kokunen_contracts.eligibility import ExemptionTier, JpsDecision, JpsReportKind
from transfer_dispatch.jps.domain.reconcile import SentItem, counts, reconcile
from transfer_dispatch.jps.domain.results_list import parse
from transfer_dispatch.jps.service import _result_event

A, B, C, D = (uuid.UUID(int=n) for n in (1, 2, 3, 4))


def item(report_id: uuid.UUID, seq: int, my_number: str | None = None) -> SentItem:
    return SentItem(
        batch_id="jps-2026-W47",
        seq=seq,
        report_id=report_id,
        report_kind="qualification_loss",
        atena_number=f"000000000{seq}",
        basic_pension_number="1234-567890",
        insured_category="category_1",
        acquired_on=date(2020, 4, 1),
        lost_on=date(2026, 11, 10),
        my_number_hash=hashlib.sha256(my_number.encode()).digest() if my_number else None,
    )


HEADER = (
    "送付番号,受付番号,宛名番号,基礎年金番号,個人番号,届書種別コード,"
    "被保険者種別,資格取得年月日,資格喪失年月日,処理結果,処理結果コード,エラー内容,処理年月日"
)


def csv_lines(*rows: str, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding)


def test_each_line_and_each_sent_record_gets_one_class() -> None:
    sent = [item(A, 1, "123456789018"), item(B, 2), item(C, 3)]
    data = csv_lines(
        f"jps-2026-W47,{A},0000000001,1234567890,123456789018,02,1,2020-04-01,9081110,処理済,,,20261204",
        f"jps-2026-W47,{B},0000000002,1234-567890,,02,1,20200401,20261111,返戻,E21,喪失日相違,20261204",
        f"jps-2026-W47,{D},0000000009,1234-567890,,02,1,20200401,20261111,処理済,,,20261204",
        f"jps-2026-W47,{A},0000000001,1234-567890,,02,1,,,処理済,,,20261204",
    )
    outcomes = reconcile(sent, parse(data), lambda text: hashlib.sha256(text.encode()).digest())
    assert [(o.reconciliation, o.line.line_number if o.line else None) for o in outcomes] == [
        ("matched", 2),  # 和暦 code 9081110 is 2026-11-10; the hyphen-less 基礎年金番号 is the same number
        ("mismatched", 3),
        ("unexpected", 4),  # never sent
        ("unexpected", 5),  # the same record answered twice
        ("missing", None),  # C: no line
    ]
    assert outcomes[1].mismatched_fields == ("lost_on",)
    assert outcomes[4].item is not None
    assert outcomes[4].item.report_id == C
    assert counts(outcomes) == {"matched": 1, "mismatched": 1, "missing": 1, "unexpected": 2}


def test_a_different_my_number_is_a_mismatch_named_without_its_value() -> None:
    sent = [item(A, 1, "123456789018")]
    data = csv_lines(f"jps-2026-W47,{A},0000000001,1234-567890,000000000019,02,1,,,処理済,,,")
    [outcome] = reconcile(sent, parse(data), lambda text: hashlib.sha256(text.encode()).digest())
    assert outcome.mismatched_fields == ("my_number",)
    assert "000000000019" not in repr(outcome)


def test_cp932_lists_and_unreadable_lines() -> None:
    data = csv_lines(f"jps-2026-W47,{A},0000000001,,,02,1,,昭和元年,処理済,,,", encoding="cp932")
    [line] = parse(data)
    assert line.problems == ("lost_on: 日付として読めません",)
    [outcome] = reconcile([item(A, 1)], [line], lambda _t: None)[:1]
    assert outcome.reconciliation == "unexpected"


DECISION_HEADER = HEADER + ",審査結果,承認区分"


def test_jps_s_decision_on_an_exemption_application_is_read_with_its_tier() -> None:
    rows = [
        f"jps-2026-W47,{A},0000000001,,,10,1,,,処理済,,,20261204,承認,",
        f"jps-2026-W47,{B},0000000002,,,10,1,,,処理済,,,20261204,承認,半額免除",
        f"jps-2026-W47,{C},0000000003,,,10,1,,,処理済,,,20261204,却下,",
        f"jps-2026-W47,{D},0000000004,,,10,1,,,処理済,,,20261204,,",
        f"jps-2026-W47,{uuid.UUID(int=5)},0000000005,,,10,1,,,処理済,,,20261204,承認,４分の１免除",
    ]
    data = ("\r\n".join([DECISION_HEADER, *rows]) + "\r\n").encode("cp932")
    lines = parse(data)
    assert [(line.decision, line.approved_tier, line.problems) for line in lines] == [
        ("approved", None, ()),  # approved as reported
        ("approved", "half_exemption", ()),
        ("rejected", None, ()),
        (None, None, ()),  # not decided on this list (or not an application)
        ("approved", "quarter_exemption", ()),  # full-width digits as a list written by hand may have them
    ]


@pytest.mark.parametrize(
    ("decision", "tier", "problem"),
    [
        ("保留中", "", "decision: 審査結果が読めません"),
        ("承認", "全部免除", "approved_tier: 承認区分が読めません"),
        ("却下", "全額免除", "approved_tier: 承認区分は審査結果が承認の行にだけ書かれます"),
    ],
)
def test_an_unreadable_decision_is_a_problem_of_its_line(decision: str, tier: str, problem: str) -> None:
    data = f"{DECISION_HEADER}\r\njps-2026-W47,{A},0000000001,,,10,1,,,処理済,,,,{decision},{tier}\r\n".encode()
    [line] = parse(data)
    assert line.problems == (problem,)


def test_the_published_result_carries_jps_s_decision_and_tier() -> None:
    sent = [replace(item(A, 1), report_kind="exemption_application", lost_on=None)]
    data = (
        f"{DECISION_HEADER}\r\njps-2026-W47,{A},0000000001,1234-567890,,10,1,2020-04-01,,処理済,000,,20261204,"
        "承認,半額免除\r\n"
    ).encode()
    [outcome] = reconcile(sent, parse(data), lambda _t: None)
    assert outcome.reconciliation == "matched"
    event = _result_event("ab" * 32, 1, outcome, datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    assert event is not None
    assert (event.report_id, event.report_kind, event.jps_decision, event.jps_approved_tier) == (
        A,
        JpsReportKind.EXEMPTION_APPLICATION,
        JpsDecision.APPROVED,
        ExemptionTier.HALF_EXEMPTION,
    )
