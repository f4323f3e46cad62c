"""The 進達 medium's fixed-length CP932 records, the week, the policy's fields, the sealed medium."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.jps.adapters.medium import MediumError, MediumKey, open_sealed, seal
from transfer_dispatch.jps.domain import layout
from transfer_dispatch.jps.domain.batch import InquiryTarget, IsoWeek, jps_record, weekly_batch_id


def report(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "report_id": uuid.UUID("d38e4475-a2e1-4495-8fc8-7382f4b48101"),
        "report_kind": "qualification_acquisition",
        "received_on": date(2026, 11, 17),
        "atena_number": "0001234567",
        "basic_pension_number": "1234-567890",
        "insured_category": "category_1",
        "acquired_on": date(2026, 11, 1),
        "acquisition_reason": "moved_in_from_abroad",
        "lost_on": None,
        "loss_reason": None,
        "exemption_kind": None,
        "exemption_from": None,
        "exemption_to": None,
        "pension_code": None,
        "replaces_report_id": None,
        "screening_outcome": None,
    }
    values.update(overrides)
    return values


PERSON = {
    "name": "浦和 花子",
    "name_kana": "ウラワ ハナコ",
    "sex": "female",
    "birth_date": date(1989, 1, 8),
    "postal_code": "330-0063",
    "address": "埼玉県さいたま市浦和区高砂三丁目15番1号",
}


def test_every_column_of_a_data_record_is_a_field_of_the_jps_policy() -> None:
    policy = load_policies().get("jps")
    assert layout.data_fields() <= set(policy.fields)
    assert set(policy.fields) <= layout.data_fields()  # and the policy lists nothing the file does not carry


@pytest.mark.parametrize(("outcome", "code"), [("passed", "1"), ("failed", "2"), ("income_unknown", "3"), (None, "")])
def test_an_exemption_application_carries_the_city_s_screening_result(outcome: str | None, code: str) -> None:
    applied = report(
        report_kind="exemption_application",
        exemption_kind="全額免除",
        exemption_from=date(2026, 7, 1),
        exemption_to=date(2027, 6, 30),
        screening_outcome=outcome,
    )
    payload = load_policies().get("jps").payload(jps_record(applied, PERSON, None))
    [record] = layout.parse_file(layout.build_file({"batch_id": "jps-2026-W47"}, [payload])).records
    assert (record["report_kind"], record["exemption_kind"], record["screening_outcome"]) == ("10", "01", code)


def test_records_are_600_bytes_of_cp932_and_read_back() -> None:
    payload = load_policies().get("jps").payload(jps_record(report(), PERSON, "123456789018"))
    data = layout.build_file({"batch_id": "jps-2026-W47", "period": "2026-W47"}, [payload])
    assert len(data) == 3 * layout.RECORD_LENGTH
    parsed = layout.parse_file(data)
    record = parsed.records[0]
    assert record["name"] == "浦和 花子"
    assert record["birth_date_wareki"] == "7010108"
    assert record["birth_date"] == "19890108"
    assert record["basic_pension_number"] == "1234567890"
    assert record["my_number"] == "123456789018"
    assert record["report_kind"] == "01"
    assert record["lost_on"] == ""
    assert parsed.header["record_length"] == "0600"
    assert parsed.trailer["record_count"] == "0000001"


def test_text_is_cut_on_a_character_boundary_and_unwritable_characters_become_geta() -> None:
    assert layout.cp932_text("𠮷田", 6) == "〓田".encode("cp932") + b"  "
    cut = layout.cp932_text("あ" * 40, 59)  # 59 bytes: 29 whole characters and a space, never half of one
    assert cut == ("あ" * 29).encode("cp932") + b" "
    cut.decode("cp932")


@given(st.text(min_size=0, max_size=80))
def test_any_name_fits_its_column_and_decodes(name: str) -> None:
    encoded = layout.cp932_text(name, 60)
    assert len(encoded) == 60
    encoded.decode("cp932")


def test_a_half_width_column_refuses_full_width_text() -> None:
    with pytest.raises(layout.LayoutError, match="pension_code"):
        layout.encode(layout.DATA, {"pension_code": "一一五〇"})


def test_iso_weeks_and_batch_ids() -> None:
    week = IsoWeek.parse("2026-W47")
    assert (week.first_day, week.last_day) == (date(2026, 11, 16), date(2026, 11, 22))
    assert IsoWeek.of(date(2026, 11, 22)) == week
    assert weekly_batch_id(week, 0) == "jps-2026-W47"
    assert weekly_batch_id(week, 1) == "jps-2026-W47-s2"
    with pytest.raises(ValueError, match="week"):
        IsoWeek.parse("2026-47")
    with pytest.raises(ValueError, match="not a week"):
        IsoWeek.parse("2026-W54")


def test_inquiry_lines_name_a_pension_number_or_an_atena_number() -> None:
    assert InquiryTarget.parse("1234-567890") == InquiryTarget(basic_pension_number="1234-567890")
    assert InquiryTarget.parse(" 0001234567 ") == InquiryTarget(atena_number="0001234567")
    with pytest.raises(ValueError, match="基礎年金番号"):
        InquiryTarget.parse("abc")


def test_the_sealed_medium_opens_only_with_its_key_and_untampered() -> None:
    key = MediumKey.parse("m1:" + base64.b64encode(os.urandom(32)).decode())
    sealed = seal(b"plain records", key)
    assert b"plain records" not in sealed
    assert open_sealed(sealed, key) == b"plain records"
    other = MediumKey.parse("m1:" + base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(MediumError, match="does not open"):
        open_sealed(sealed, other)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(MediumError):
        open_sealed(tampered, key)


@given(
    extra=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12).filter(
            lambda k: k not in load_policies().get("jps").fields
        ),
        st.text(alphabet="ZQXJ", min_size=8, max_size=8),
        max_size=5,
    )
)
def test_no_field_outside_the_jps_policy_reaches_the_medium(extra: dict[str, str]) -> None:
    """Whatever else a record holds (e.g. a phone number, a note), only the policy's fields are written."""
    policy = load_policies().get("jps")
    payload = policy.payload({**jps_record(report(), PERSON, "123456789018"), **extra})
    assert set(payload) == set(policy.fields)
    data = layout.build_file({"batch_id": "jps-2026-W47"}, [payload])
    for value in extra.values():
        assert value.encode() not in data
