"""提供1 on the real broker and database: the weekly 進達 (encrypted fixed-length medium, manifest, printed
list in Japanese), its idempotence, the inquiry answer, and the processing-result list reconciled and
published for eligibility — My Number only inside the sealed medium, never in a log, list or event."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kokunen_contracts.eligibility import (
    AcquisitionReason,
    InsuredCategory,
    JpsReportDue,
    JpsReportKind,
    LossReason,
    ScreeningOutcome,
)
from kokunen_contracts.identifiers import MyNumber
from kokunen_contracts.registry import JPS_PROCESSING_RESULT, JPS_REPORT_DUE, PERSON_CHANGED
from kokunen_contracts.residency import PersonChangeKind
from kokunen_testing.factories import JST, person_changed, valid_my_number
from kokunen_testing.pdf import pdf_text
from kokunen_testing.platform import Platform, eventually, unique_atena
from transfer_dispatch import commands
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.domain.transfer_log import verify_chain
from transfer_dispatch.jps.adapters.medium import JpsSettings, MediumKey, open_sealed
from transfer_dispatch.jps.domain.batch import InquiryTarget, IsoWeek
from transfer_dispatch.jps.domain.layout import parse_file
from transfer_dispatch.jps.service import Provision, answer_inquiry, import_results, run_weekly_report

pytestmark = pytest.mark.integration

MEDIUM_KEY = "m1:" + base64.b64encode(os.urandom(32)).decode()
AT = datetime(2031, 3, 10, 1, 0, tzinfo=UTC)  # 令和13年3月10日 in Japan
# Born on 昭和元年12月25日: far past 60, so eligibility (which also reads these person changes when it runs
# later in the session) finds nothing to decide and other tests' monthly batches see nothing of ours.
BORN = date(1926, 12, 25)


@pytest.fixture(scope="module")
async def dispatch(platform: Platform) -> AsyncIterator[None]:
    async with platform.build("transfer_dispatch"):
        yield


def provision(platform: Platform, out: Path) -> Provision:
    return Provision(load_policies(), platform.vault(), MediumKey.parse(MEDIUM_KEY), JpsSettings(), out)


def report(
    platform: Platform, atena: str, kind: JpsReportKind, received_on: date, my_number: str, **fields: Any
) -> JpsReportDue:
    return JpsReportDue(
        event_id=uuid.uuid4(),
        effective_date=fields.pop("effective_date", received_on),
        recorded_at=datetime.now(JST),
        report_id=uuid.uuid4(),
        report_kind=kind,
        atena_number=atena,
        my_number_sealed=platform.vault().seal(MyNumber(my_number), atena),
        basic_pension_number=fields.pop("basic_pension_number", f"{int(atena) % 10000:04d}-{int(atena) % 10**6:06d}"),
        received_on=received_on,
        **fields,
    )


async def kept(platform: Platform, reports: list[JpsReportDue]) -> None:
    async def all_there() -> bool:
        conn = await platform.connect_as("transfer_dispatch")
        try:
            n = await conn.fetchval(
                "SELECT count(*) FROM dispatch.jps_report WHERE report_id = ANY($1::uuid[])",
                [r.report_id for r in reports],
            )
            persons = await conn.fetchval(
                "SELECT count(*) FROM dispatch.jps_person WHERE atena_number = ANY($1::text[])",
                list({r.atena_number for r in reports}),
            )
        finally:
            await conn.close()
        return bool(n == len(reports) and persons == len({r.atena_number for r in reports}))

    await eventually(all_there)


async def a_week_of_reports(platform: Platform, week: IsoWeek) -> tuple[list[JpsReportDue], dict[str, str]]:
    """A 資格取得届, a 免除申請 and a 裁定請求 received in ``week`` (and one the week after)."""
    atenas = [unique_atena() for _ in range(3)]
    numbers = {a: valid_my_number() for a in atenas}
    await platform.publish(
        PERSON_CHANGED,
        [person_changed(a, PersonChangeKind.MOVED_IN_FROM_ABROAD, date(2031, 1, 5), birth=BORN) for a in atenas],
    )
    monday = week.first_day
    reports = [
        report(
            platform,
            atenas[0],
            JpsReportKind.QUALIFICATION_ACQUISITION,
            monday,
            numbers[atenas[0]],
            category=InsuredCategory.CATEGORY_1,
            acquired_on=date(2031, 1, 5),
            acquisition_reason=AcquisitionReason.MOVED_IN_FROM_ABROAD,
        ),
        report(
            platform,
            atenas[1],
            JpsReportKind.EXEMPTION_APPLICATION,
            monday + timedelta(days=2),
            numbers[atenas[1]],
            exemption_kind="全額免除",
            exemption_from=date(2030, 7, 1),
            exemption_to=date(2031, 6, 30),
            screening_outcome=ScreeningOutcome.INCOME_UNKNOWN,
        ),
        report(
            platform,
            atenas[2],
            JpsReportKind.BENEFIT_CLAIM,
            week.last_day,
            numbers[atenas[2]],
            pension_code="1150",
            category=InsuredCategory.CATEGORY_1,
            acquired_on=date(2009, 4, 1),
            acquisition_reason=AcquisitionReason.REACHED_20,
            lost_on=date(2031, 1, 1),
            loss_reason=LossReason.REACHED_60,
        ),
    ]
    late_next_week = report(
        platform,
        atenas[0],
        JpsReportKind.ADDRESS_CHANGE,
        week.last_day + timedelta(days=1),
        numbers[atenas[0]],
    )
    await platform.publish(JPS_REPORT_DUE, [*reports, late_next_week])
    await kept(platform, [*reports, late_next_week])
    return reports, numbers


async def test_weekly_report_batch_is_a_sealed_medium_a_manifest_and_a_japanese_list(
    platform: Platform, dispatch: None, tmp_path: Path
) -> None:
    week = IsoWeek.parse("2031-W10")  # 2031-03-03 … 2031-03-09
    reports, numbers = await a_week_of_reports(platform, week)
    conn = await platform.connect_as("transfer_dispatch")
    try:
        result = await run_weekly_report(conn, provision(platform, tmp_path), week, at=AT)
        log = await conn.fetch("SELECT * FROM dispatch.transfer_log ORDER BY seq")
        verified = await commands.verify_log(conn)  # the chain, and every batch (JPS ones too) has its entry
        recorded = [
            (r["message_key"], json.loads(bytes(r["payload"])))
            for r in await conn.fetch(
                "SELECT message_key, payload FROM dispatch.outbox WHERE topic = 'dispatch.transfer-recorded.v1' "
                "AND convert_from(payload, 'UTF8')::jsonb ->> 'batch_id' = 'jps-2031-W10'"
            )
        ]
    finally:
        await conn.close()
    # 提供・移転の記録, one per line about a person, written with the medium: field names, never a My Number.
    assert sorted(key for key, _ in recorded) == sorted(r.atena_number for r in reports)
    for _, event in recorded:
        assert (event["kind"], event["policy_id"], event["record_id"] is not None) == ("provision", "jps", True)
        assert "my_number" in event["fields"]  # this medium carried each person's number: the resident is told
        assert event["channel"] == "電子媒体 (jps-2031-W10.dat.enc)"
    for number in numbers.values():
        assert number not in json.dumps([e for _, e in recorded])

    assert (result.batch_id, result.record_count, result.new) == ("jps-2031-W10", 3, True)
    assert result.files is not None
    assert result.files.pdf is not None
    sealed = result.files.sealed.read_bytes()
    for number in numbers.values():
        assert number.encode() not in sealed
    medium = parse_file(open_sealed(sealed, MediumKey.parse(MEDIUM_KEY)))
    assert medium.header["batch_id"] == "jps-2031-W10"
    assert medium.header["created_on_wareki"] == "9130310"  # 令和13年3月10日
    by_kind = {r["report_kind"]: r for r in medium.records}
    assert set(by_kind) == {"01", "10", "12"}
    assert [r["my_number"] for r in medium.records] == [numbers[r.atena_number] for r in reports]
    assert by_kind["01"]["name"] == "大宮 一郎"
    assert by_kind["01"]["birth_date_wareki"] == "5011225"  # 昭和元年12月25日
    assert by_kind["10"]["exemption_kind"] == "01"
    assert by_kind["10"]["exemption_to"] == "20310630"
    assert by_kind["10"]["screening_outcome"] == "3"  # 所得不明: JPS does not read it as a passed 全額免除
    assert by_kind["01"]["screening_outcome"] == ""
    assert by_kind["12"]["pension_code"] == "1150"
    assert by_kind["12"]["lost_on_wareki"] == "9130101"

    manifest_text = result.files.manifest.read_text(encoding="utf-8")
    manifest = json.loads(manifest_text)
    assert manifest["record_count"] == 3
    assert manifest["counts_by_kind"] == {
        "qualification_acquisition": 1,
        "exemption_application": 1,
        "benefit_claim": 1,
    }
    assert len(manifest["plain_sha256"]) == 64
    assert manifest["records_without_my_number"] == 0
    assert manifest["record_length"] == 600

    text = pdf_text(result.files.pdf)
    for expected in (
        "国民年金 届書等送付書",
        "受付処理簿",
        "令和13年3月10日",
        "大宮 一郎",
        "保険料免除・納付猶予申請",
        "所得審査",
        "所得不明",  # the 免除等申請 reached JPS with its income unknown, and the paper says so as the medium does
        "年金裁定請求",
        "日本年金機構",
        "昭和元年12月25日",
        "2031-03-03",
    ):
        assert expected in text, expected
    for number in numbers.values():
        assert number not in text
        assert number not in manifest_text

    [entry] = [e for e in log if e["batch_id"] == "jps-2031-W10"]
    assert (entry["policy_id"], entry["record_count"]) == ("jps", 3)
    assert "my_number" in entry["fields"]
    assert verify_chain([dict(e) for e in log]) == []
    assert verified.breaks == []
    assert verified.batches >= 1


async def test_rerunning_a_week_names_the_same_batch_and_writes_nothing(
    platform: Platform, dispatch: None, tmp_path: Path
) -> None:
    week = IsoWeek.parse("2031-W20")
    reports, _numbers = await a_week_of_reports(platform, week)
    first_out, second_out = tmp_path / "first", tmp_path / "second"
    conn = await platform.connect_as("transfer_dispatch")
    try:
        first = await run_weekly_report(conn, provision(platform, first_out), week, at=AT)
        again = await run_weekly_report(conn, provision(platform, second_out), week, at=AT)
        late = report(platform, reports[0].atena_number, JpsReportKind.NAME_CHANGE, week.first_day, valid_my_number())
        await platform.publish(JPS_REPORT_DUE, [late])
        await kept(platform, [late])
        supplement = await run_weekly_report(conn, provision(platform, second_out), week, at=AT)
        logged = await conn.fetchval("SELECT count(*) FROM dispatch.transfer_log WHERE batch_id LIKE 'jps-2031-W20%'")
    finally:
        await conn.close()
    assert (first.batch_id, first.new) == ("jps-2031-W20", True)
    assert (again.batch_id, again.new, again.record_count) == ("jps-2031-W20", False, 0)
    assert not second_out.exists() or not list(second_out.glob("jps-2031-W20.*"))
    assert (supplement.batch_id, supplement.record_count) == ("jps-2031-W20-s2", 1)
    assert logged == 2


async def test_an_inquiry_is_answered_in_the_same_format_with_not_found_lines(
    platform: Platform, dispatch: None, tmp_path: Path
) -> None:
    week = IsoWeek.parse("2031-W30")
    reports, _numbers = await a_week_of_reports(platform, week)
    asked = [InquiryTarget(atena_number=reports[0].atena_number), InquiryTarget(basic_pension_number="9999-999999")]
    conn = await platform.connect_as("transfer_dispatch")
    try:
        answer = await answer_inquiry(conn, provision(platform, tmp_path), "Q2031-0001", asked, at=AT)
        again = await answer_inquiry(conn, provision(platform, tmp_path), "Q2031-0001", asked, at=AT)
    finally:
        await conn.close()
    assert answer.files is not None
    assert answer.batch_id == "jps-inquiry-Q2031-0001"
    medium = parse_file(open_sealed(answer.files.sealed.read_bytes(), MediumKey.parse(MEDIUM_KEY)))
    assert medium.header["batch_kind"] == "I"
    assert medium.header["inquiry_id"] == "Q2031-0001"
    kinds = [(r["report_kind"], r["atena_number"], r["basic_pension_number"]) for r in medium.records]
    assert kinds[:2] == [
        ("01", reports[0].atena_number, reports[0].basic_pension_number.replace("-", "")),
        ("05", reports[0].atena_number, reports[0].basic_pension_number.replace("-", "")),
    ]
    assert kinds[2] == ("99", "", "9999999999")
    assert (again.new, again.batch_id, again.record_count) == (False, answer.batch_id, 3)


def result_list(medium_records: list[dict[str, str]], batch_id: str, extra_atena: str) -> bytes:
    """What JPS would send back: the first record processed as sent, the second with another 喪失日, the
    third left out, and one line the city never sent."""
    header = (
        "送付番号,受付番号,宛名番号,基礎年金番号,個人番号,届書種別コード,"
        "被保険者種別,資格取得年月日,資格喪失年月日,処理結果,処理結果コード,エラー内容,処理年月日"
    )
    first, second, _third = medium_records
    lines = [
        header,
        f"{batch_id},{first['report_id']},{first['atena_number']},{first['basic_pension_number']},{first['my_number']},"
        f"{first['report_kind']},{first['insured_category']},{first['acquired_on_wareki']},,処理済,000,,9130314",
        f"{batch_id},{second['report_id']},{second['atena_number']},{second['basic_pension_number']},{second['my_number']},"
        f"{second['report_kind']},,,20310105,返戻,E21,資格喪失年月日が相違,9130314",
        f"{batch_id},{uuid.uuid4()},{extra_atena},1111-222222,,02,1,,20310201,処理済,000,,9130314",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


async def test_a_processing_result_list_is_reconciled_published_and_imported_once(
    platform: Platform, dispatch: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    week = IsoWeek.parse("2031-W40")
    _reports, numbers = await a_week_of_reports(platform, week)
    conn = await platform.connect_as("transfer_dispatch")
    try:
        sent = await run_weekly_report(conn, provision(platform, tmp_path), week, at=AT)
        assert sent.files is not None
        records = parse_file(open_sealed(sent.files.sealed.read_bytes(), MediumKey.parse(MEDIUM_KEY))).records
        data = result_list(records, "jps-2031-W40", extra_atena := unique_atena())
        start = await platform.end_offsets(JPS_PROCESSING_RESULT.name)
        imported = await import_results(conn, platform.vault(), data, file_name="kekka.csv", out_dir=tmp_path, at=AT)
        outbox_before = await conn.fetchval(
            "SELECT count(*) FROM dispatch.outbox WHERE topic = $1", JPS_PROCESSING_RESULT.name
        )
        again = await import_results(conn, platform.vault(), data, file_name="kekka-again.csv", out_dir=tmp_path, at=AT)
        outbox_after = await conn.fetchval(
            "SELECT count(*) FROM dispatch.outbox WHERE topic = $1", JPS_PROCESSING_RESULT.name
        )
    finally:
        await conn.close()

    assert imported.new
    assert imported.counts == {"matched": 1, "mismatched": 1, "missing": 1, "unexpected": 1}
    assert imported.published == 4
    assert (again.new, again.counts) == (False, imported.counts)
    assert outbox_after == outbox_before

    events = await platform.read_from(JPS_PROCESSING_RESULT.name, start, until=lambda rs: len(rs) >= 4)
    bodies = [json.loads(r.value) for r in events]
    mine = {b["reconciliation"]: b for b in bodies if b["list_id"] == imported.list_id}
    assert set(mine) == {"matched", "mismatched", "missing", "unexpected"}
    assert mine["mismatched"]["mismatched_fields"] == ["lost_on"]
    assert mine["mismatched"]["jps_outcome"] == "returned"
    assert mine["mismatched"]["jps_result_code"] == "E21"
    assert mine["missing"]["report_id"] == records[2]["report_id"]
    assert mine["missing"]["jps_outcome"] == "none"
    assert mine["unexpected"]["atena_number"] == extra_atena
    assert mine["matched"]["processed_on"] == "2031-03-14"  # 和暦 9130314
    assert {r.key.decode() for r in events if json.loads(r.value)["list_id"] == imported.list_id} == {
        b["atena_number"] for b in mine.values()
    }

    assert imported.report_text is not None
    assert imported.pdf_path is not None
    text = pdf_text(imported.pdf_path)
    for expected in ("処理結果一覧表 突合結果", "一致", "不一致", "記載なし", "送付外", "lost_on", "令和13年3月10日"):
        assert expected in text, expected
    published = "".join(r.value.decode() for r in events)
    for number in numbers.values():
        assert number not in text
        assert number not in imported.report_text
        assert number not in published
    captured = capfd.readouterr()
    for number in numbers.values():
        assert number not in captured.out
        assert number not in captured.err


def cli(platform: Platform, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **platform.service_env("transfer_dispatch"),
        "JPS_MEDIUM_KEY": MEDIUM_KEY,
        "JPS_OUTPUT_DIR": str(tmp_path),
        "LOG_LEVEL": "DEBUG",
    }
    return subprocess.run(
        [sys.executable, "-m", "transfer_dispatch", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_the_commands_write_and_open_a_medium_and_never_print_a_my_number(
    platform: Platform, dispatch: None, tmp_path: Path
) -> None:
    week = IsoWeek.parse("2031-W45")
    _reports, numbers = await a_week_of_reports(platform, week)
    weekly = cli(platform, tmp_path, "jps-weekly", "--week", str(week))
    assert weekly.returncode == 0, weekly.stderr
    assert "batch=jps-2031-W45 records=3" in weekly.stdout
    logged = [json.loads(line) for line in weekly.stderr.splitlines() if line.startswith("{")]  # logs: stderr
    assert not [line for line in weekly.stdout.splitlines() if line.startswith("{")]  # stdout: the report
    assert any(e["event"] == "jps medium written" and e["batch_id"] == "jps-2031-W45" for e in logged)
    rerun = cli(platform, tmp_path, "jps-weekly", "--week", str(week))
    assert "batch=jps-2031-W45 already sent" in rerun.stdout
    plain = tmp_path / "plain.dat"
    opened = cli(platform, tmp_path, "jps-decrypt", str(tmp_path / "jps-2031-W45.dat.enc"), "--out", str(plain))
    assert opened.returncode == 0, opened.stderr
    assert "records=3" in opened.stdout
    assert {r["my_number"] for r in parse_file(plain.read_bytes()).records} == set(numbers.values())
    for run in (weekly, rerun, opened):
        for number in numbers.values():
            assert number not in run.stdout
            assert number not in run.stderr


async def test_a_my_number_that_does_not_open_is_left_out_counted_and_not_logged(
    platform: Platform, dispatch: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    week = IsoWeek.parse("2031-W50")
    atena, other, number = unique_atena(), unique_atena(), valid_my_number()
    moved = report(platform, atena, JpsReportKind.QUALIFICATION_ACQUISITION, week.first_day, number)
    # Sealed for another person: the 宛名番号 is the associated data, so it does not open for this one.
    misplaced = moved.model_copy(update={"my_number_sealed": platform.vault().seal(MyNumber(number), other)})
    await platform.publish(
        PERSON_CHANGED, [person_changed(atena, PersonChangeKind.MOVED_IN_FROM_ABROAD, date(2031, 1, 5), birth=BORN)]
    )
    await platform.publish(JPS_REPORT_DUE, [misplaced])
    await kept(platform, [misplaced])
    conn = await platform.connect_as("transfer_dispatch")
    try:
        result = await run_weekly_report(conn, provision(platform, tmp_path), week, at=AT)
    finally:
        await conn.close()
    assert result.files is not None
    assert result.manifest is not None
    assert result.manifest["records_without_my_number"] == 1
    [record] = parse_file(open_sealed(result.files.sealed.read_bytes(), MediumKey.parse(MEDIUM_KEY))).records
    assert record["my_number"] == ""
    assert record["atena_number"] == atena
    captured = capfd.readouterr()
    assert number not in captured.out + captured.err
