"""Recipient policies as data: nothing outside a policy leaves, and 移転1–4 never carry My Number."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kokunen_contracts.registry import NHI_QUALIFICATION_TRANSFER, TopicSpec
from kokunen_contracts.transfer import SENT_FIELD_LABELS, TRANSFER_RECORD_METADATA
from kokunen_testing.factories import valid_my_number
from transfer_dispatch.domain.policy import PolicyError, UnknownRecipient, load_policies, parse_policies
from transfer_dispatch.domain.records import FieldNotInPolicy, SentAbout, TransferBuilder, transfer_recorded

BOOK = load_policies()
TRANSFERS = sorted(p.id for p in BOOK.policies.values() if p.kind == "transfer")

# A value every policy field accepts, by field name (the contracts validate them).
VALUES = {
    "basic_pension_number": st.from_regex(r"\A[0-9]{4}-[0-9]{6}\Z"),
    "atena_number": st.from_regex(r"\A[0-9]{10}\Z"),
    "insured_category": st.sampled_from(["category_1", "category_2", "category_3", "voluntary"]),
    "acquired_on": st.dates(date(1960, 1, 1), date(2040, 12, 31)),
    "lost_on": st.none() | st.dates(date(1960, 1, 1), date(2040, 12, 31)),
    "acquisition_reason": st.sampled_from(["reached_20", "moved_in_from_abroad", "filed"]),
    "loss_reason": st.none() | st.sampled_from(["death", "moved_abroad", "reached_60"]),
    "certificate_symbol": st.from_regex(r"\A[0-9A-Z]{1,4}\Z"),
    "certificate_number": st.from_regex(r"\A[0-9]{1,10}\Z"),
    "payment_category": st.sampled_from(["full", "partially_suspended", "suspended"]),
}
# What else a source row may hold: none of it may ever leave.
SENSITIVE = {
    "my_number": st.integers(0, 10**6).map(valid_my_number),
    "my_number_sealed": st.text(min_size=8, max_size=40),
    "name": st.text(min_size=1, max_size=12),
    "address": st.text(min_size=1, max_size=30),
    "birth_date": st.dates(),
    "household_number": st.from_regex(r"\A[0-9]{8}\Z"),
}


def test_the_policy_file_is_version_2_and_every_transfer_has_its_topic() -> None:
    assert BOOK.version == 2
    assert TRANSFERS == ["child_allowance", "long_term_care", "nhi", "resident_register"]
    for policy_id in TRANSFERS:
        builder = TransferBuilder.for_recipient(BOOK, policy_id)  # contract and policy agree exactly
        assert not builder.policy.carries_my_number
        assert builder.spec.consumers
        assert all(c.startswith("dept-") for c in builder.spec.consumers)


def test_a_recipient_not_in_the_policies_cannot_be_sent_anything() -> None:
    with pytest.raises(UnknownRecipient, match="cannot be sent anything"):
        TransferBuilder.for_recipient(BOOK, "tax_office")
    with pytest.raises(PolicyError, match="not sent over Kafka"):
        TransferBuilder.for_recipient(BOOK, "jps")


def test_a_field_outside_the_policy_cannot_be_sent() -> None:
    builder = TransferBuilder.for_recipient(BOOK, "child_allowance")
    payload = {"basic_pension_number": "1234-567890", "insured_category": "category_1", "acquired_on": None}
    with pytest.raises(FieldNotInPolicy, match="atena_number"):
        builder.build(
            {**payload, "lost_on": None, "atena_number": "0000000001"},
            record_id=uuid.uuid4(),
            batch_id="b",
            effective_date=date(2026, 10, 1),
            recorded_at=datetime.now(UTC),
        )


def test_a_contract_that_carries_more_than_its_policy_is_refused() -> None:
    # The NHI contract carries 宛名番号 and reasons; the child-allowance policy allows neither.
    narrow = BOOK.get("child_allowance")
    wrong = parse_policies(
        "version: 1\npolicies:\n"
        "  - {id: x, kind: transfer, recipient: r, purpose: p, legal_basis: b, population: q, frequency: monthly,\n"
        f"     carries_my_number: false, topic: {NHI_QUALIFICATION_TRANSFER.name}, fields: {list(narrow.fields)}}}\n"
    ).get("x")
    with pytest.raises(FieldNotInPolicy, match="does not allow"):
        TransferBuilder(wrong, NHI_QUALIFICATION_TRANSFER)


def test_a_transfer_policy_that_lists_my_number_is_refused_when_read() -> None:
    with pytest.raises(PolicyError, match="My Number"):
        parse_policies(
            "version: 1\npolicies:\n"
            "  - {id: x, kind: transfer, recipient: r, purpose: p, legal_basis: b, population: q, "
            "frequency: monthly, carries_my_number: false, topic: null, fields: [atena_number, my_number]}\n"
        )


@st.composite
def source_rows(draw: st.DrawFn, policy_id: str) -> dict[str, object]:
    policy = BOOK.get(policy_id)
    row: dict[str, object] = {f: draw(VALUES[f]) for f in policy.fields}
    if row.get("lost_on") is not None and row.get("acquired_on") is not None:
        row["lost_on"] = max(row["lost_on"], row["acquired_on"])  # type: ignore[type-var]
    if "loss_reason" in row and (row["lost_on"] is None) != (row["loss_reason"] is None):
        row["loss_reason"] = "death" if row["lost_on"] is not None else None
    for name in draw(st.sets(st.sampled_from(sorted(SENSITIVE)))):
        row[name] = draw(SENSITIVE[name])
    # Other fields a row may hold — another policy's fields included — stay behind too.
    for name in draw(st.sets(st.sampled_from(sorted(VALUES)))):
        row.setdefault(name, draw(VALUES[name]))
    return row


@pytest.mark.parametrize("policy_id", TRANSFERS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_field_outside_the_policy_ever_leaves_and_no_my_number(policy_id: str, data: st.DataObject) -> None:
    builder = TransferBuilder.for_recipient(BOOK, policy_id)
    row = data.draw(source_rows(policy_id))
    record = builder.build(
        builder.payload(row),
        record_id=uuid.uuid4(),
        batch_id=f"{policy_id}-2026-10",
        effective_date=date(2026, 10, 1),
        recorded_at=datetime.now(UTC),
    )
    body = json.loads(record.model_dump_json())
    assert set(body) - TRANSFER_RECORD_METADATA == set(builder.policy.fields)
    assert not {"my_number", "my_number_sealed"} & set(body)
    if "my_number" in row:
        assert str(row["my_number"]) not in record.model_dump_json()


def test_every_transfer_topic_is_read_only_by_its_department() -> None:
    specs: list[TopicSpec] = [TransferBuilder.for_recipient(BOOK, p).spec for p in TRANSFERS]
    consumers = [s.consumers for s in specs]
    assert all(len(c) == 1 for c in consumers)
    assert len({c[0] for c in consumers}) == len(specs)  # one principal per department


def test_record_ids_are_uuid5_of_what_they_are_about() -> None:
    from transfer_dispatch.domain.records import RECORD_NAMESPACE, RecordMeta, snapshot_record_id

    expected = uuid.uuid5(RECORD_NAMESPACE, "child_allowance/2026-10/0000000001/1")
    assert snapshot_record_id("child_allowance", "2026-10", "0000000001", 1) == str(expected)
    meta = RecordMeta(str(expected), "b", date(2026, 10, 1), datetime.now(UTC))
    assert meta.event_id == str(uuid.uuid5(expected, "event"))
    assert RecordMeta(expected, "b", date(2026, 10, 1), datetime.now(UTC)).event_id == meta.event_id


def test_every_field_a_policy_sends_has_its_japanese_name_for_the_resident() -> None:
    unnamed = {f for p in BOOK.policies.values() for f in p.fields} - set(SENT_FIELD_LABELS)
    assert not unnamed, f"add to SENT_FIELD_LABELS: {sorted(unnamed)}"


def test_a_transfer_recorded_event_names_fields_and_never_carries_a_value_or_my_number() -> None:
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    jps = BOOK.get("jps")
    without, with_number = transfer_recorded(
        jps,
        [SentAbout("0001234567", uuid.uuid4()), SentAbout("0001234568", uuid.uuid4(), with_my_number=True)],
        batch_id="jps-2026-W48",
        channel="電子媒体",
        at=at,
        day=date(2026, 12, 1),
    )
    assert "my_number" not in without.fields  # the record carried no number: none is claimed
    assert with_number.fields == list(jps.fields)
    assert (without.kind.label, with_number.recipient) == ("提供", jps.recipient)
    nhi = BOOK.get("nhi")
    again = transfer_recorded(nhi, [SentAbout("0001234567", "b16c2253-80cf-4273-8fa6-5160d2926f01")],
                              batch_id="nhi-2026-11", channel="t", at=at, day=date(2026, 12, 1))  # fmt: skip
    twice = transfer_recorded(nhi, [SentAbout("0001234567", "b16c2253-80cf-4273-8fa6-5160d2926f01")],
                              batch_id="nhi-2026-11", channel="t", at=at, day=date(2026, 12, 1))  # fmt: skip
    assert again[0].event_id == twice[0].event_id  # a rerun names the same event
    assert (again[0].kind.label, again[0].fields) == ("移転", list(nhi.fields))
    body = json.loads(again[0].model_dump_json())
    assert not set(body) & (set(nhi.fields) - {"atena_number"})  # field names, never a field's value
