"""Every 異動事由 of the resident-record standard through residency_sync on the real broker and database:
what lands in the addressee slice and which normalised person change the other services are told.

One table, one person per case; the cases travel together in rounds (domain brief §2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from kokunen_contracts.residency import (
    Address,
    BecameResident,
    ChangeReason,
    HouseholderInfo,
    PersonName,
    ResidenceStatus,
    ResidentChanged,
    ResidentClass,
)
from kokunen_contracts.residency import ChangeReason as R
from kokunen_testing.factories import change, resident, saitama_address, valid_my_number
from kokunen_testing.platform import Platform, unique_atena

from .conftest import announced, current, publish_in_rounds, versions

pytestmark = pytest.mark.integration

TODAY = date.today()
FUTURE = TODAY + timedelta(days=30)
ABROAD = Address(text="1600 Amphitheatre Parkway, Mountain View, CA", country_code="US")
KAWAGUCHI = Address(text="埼玉県川口市本町1丁目1番1号", prefecture="埼玉県", municipality="川口市")
PERMANENT = ResidenceStatus(status="永住者")
MEDICAL_STAY = ResidenceStatus(status="特定活動", designated_activity="医療滞在")
FOREIGN = {"resident_class": ResidentClass.FOREIGN, "nationality": "CN", "residence_status": PERMANENT}
Step = tuple[ChangeReason, date, dict[str, Any]]


@dataclass
class Case:
    name: str
    steps: list[Step]
    kinds: list[str]
    is_resident: bool = True
    lives_in_japan: bool = True
    check: dict[str, Any] = field(default_factory=dict)  # columns of the current version


ENTERED = (R.DOMESTIC_MOVE_IN, date(2020, 4, 1), {})
CASES = [
    # --- 記載 ---
    Case("国内転入", [(R.DOMESTIC_MOVE_IN, date(2026, 4, 1), {"moved_in_from": KAWAGUCHI})], ["moved_in_domestic"]),
    Case(
        "国外転入",
        [(R.MOVE_IN_FROM_ABROAD, date(2026, 4, 1), {"moved_in_from": ABROAD})],
        ["moved_in_from_abroad"],
    ),
    Case("出生", [(R.BIRTH, date(2026, 10, 1), {"birth_date": date(2026, 10, 1), "relationship": "子"})], ["born"]),
    Case("職権記載", [(R.EX_OFFICIO_ENTRY, date(2026, 5, 1), {})], ["entered_ex_officio"]),
    Case(
        "帰化 (外国人住民の消除 + 日本人住民の記載): one person continues",
        [
            (R.MOVE_IN_FROM_ABROAD, date(2020, 4, 1), FOREIGN),
            (R.NATURALISATION_REMOVAL, date(2026, 3, 1), FOREIGN),
            (R.NATURALISATION_ENTRY, date(2026, 3, 1), {"nationality": "JP"}),
        ],
        ["moved_in_from_abroad", "nationality_changed"],
        check={"resident_class": "japanese", "nationality": "JP"},
    ),
    Case(
        "国籍喪失 (日本人住民の消除 + 外国人住民の記載): one person continues",
        [
            ENTERED,
            (R.NATIONALITY_LOSS_REMOVAL, date(2026, 3, 1), {}),
            (R.NATIONALITY_LOSS_ENTRY, date(2026, 3, 1), FOREIGN),
        ],
        ["moved_in_domestic", "nationality_changed"],
        check={"resident_class": "foreign", "nationality": "CN"},
    ),
    # --- 消除 ---
    Case(
        "国内転出, future-dated (転出予定日)",
        [ENTERED, (R.DOMESTIC_MOVE_OUT, FUTURE, {"moved_out_to": KAWAGUCHI})],
        ["moved_in_domestic", "moved_out_domestic"],
        is_resident=False,
        check={"effective_date": FUTURE},
    ),
    Case(
        "国外転出",
        [ENTERED, (R.MOVE_OUT_ABROAD, date(2026, 8, 31), {"moved_out_to": ABROAD})],
        ["moved_in_domestic", "moved_out_abroad"],
        is_resident=False,
        lives_in_japan=False,
    ),
    Case("死亡", [ENTERED, (R.DEATH, date(2026, 9, 30), {})], ["moved_in_domestic", "died"], is_resident=False),
    Case(
        "職権消除: not a death nor a move abroad",
        [ENTERED, (R.EX_OFFICIO_REMOVAL, date(2026, 7, 1), {})],
        ["moved_in_domestic", "removed_ex_officio"],
        is_resident=False,
        lives_in_japan=True,
    ),
    # --- 修正 ---
    Case(
        "転居 between wards: same 宛名番号, new 世帯番号",
        [ENTERED, (R.MOVE_WITHIN_CITY, date(2026, 6, 1), {"household_number": "7700000001", "ward": "大宮区"})],
        ["moved_in_domestic", "moved_within_city"],
        check={"household_number": "7700000001"},
    ),
    Case(
        "職権修正",
        [ENTERED, (R.EX_OFFICIO_AMENDMENT, date(2026, 6, 1), {"sex": "male"})],
        ["moved_in_domestic", "identity_amended"],
        check={"sex": "male"},
    ),
    Case(
        "誤記修正",
        [ENTERED, (R.CLERICAL_CORRECTION, date(2026, 6, 1), {"birth_date": date(1985, 6, 16)})],
        ["moved_in_domestic", "identity_amended"],
        check={"birth_date": date(1985, 6, 16)},
    ),
    Case(
        "個人番号の変更",
        [ENTERED, (R.MY_NUMBER_CHANGE, date(2026, 6, 1), {"my_number": "NEW"})],
        ["moved_in_domestic", "identity_amended"],
    ),
    Case(
        "氏名の変更",
        [ENTERED, (R.NAME_CHANGE, date(2026, 6, 1), {"name": PersonName(name="大宮 花子", kana="オオミヤ ハナコ")})],
        ["moved_in_domestic", "name_changed"],
        check={"name": "大宮 花子"},
    ),
    Case(
        "世帯分離",
        [ENTERED, (R.HOUSEHOLD_SEPARATION, date(2026, 6, 1), {"household_number": "7700000002"})],
        ["moved_in_domestic", "household_changed"],
        check={"household_number": "7700000002"},
    ),
    Case(
        "世帯合併",
        [ENTERED, (R.HOUSEHOLD_MERGER, date(2026, 6, 1), {"household_number": "7700000003", "relationship": "妻"})],
        ["moved_in_domestic", "household_changed"],
        check={"relationship": "妻"},
    ),
    Case(
        "世帯変更",
        [ENTERED, (R.HOUSEHOLD_CHANGE, date(2026, 6, 1), {"relationship": "子"})],
        ["moved_in_domestic", "household_changed"],
    ),
    Case(
        "世帯主変更",
        [
            ENTERED,
            (
                R.HOUSEHOLDER_CHANGE,
                date(2026, 6, 1),
                {"relationship": "妻", "householder": HouseholderInfo(name="浦和 太郎")},
            ),
        ],
        ["moved_in_domestic", "household_changed"],
    ),
    Case(
        "旧氏の記載",
        [ENTERED, (R.FORMER_SURNAME, date(2026, 6, 1), {"name": PersonName(name="浦和 花子", former_surname="与野")})],
        ["moved_in_domestic", "name_changed"],
        check={"former_surname": "与野"},
    ),
    Case(
        "通称の記載",
        [
            (R.MOVE_IN_FROM_ABROAD, date(2020, 4, 1), FOREIGN),
            (R.ALIAS, date(2026, 6, 1), {**FOREIGN, "alias": "李 花"}),
        ],
        ["moved_in_from_abroad", "name_changed"],
        check={"alias": "李 花"},
    ),
    Case(
        "在留資格等の変更 (法務省通知)",
        [
            (R.MOVE_IN_FROM_ABROAD, date(2020, 4, 1), FOREIGN),
            (R.RESIDENCE_STATUS_CHANGE, date(2026, 6, 1), {**FOREIGN, "residence_status": MEDICAL_STAY}),
        ],
        ["moved_in_from_abroad", "identity_amended"],
    ),
]


def stream_of(case: Case, atena: str) -> list[ResidentChanged]:
    my_number = valid_my_number()
    out = []
    for reason, on, extra in case.steps:
        options = dict(extra)
        if options.pop("my_number", None) == "NEW":
            my_number = valid_my_number()
        ward = options.pop("ward", None)
        if ward:
            options["current_address"] = saitama_address(ward, "桜木町一丁目7番5号")
        if reason.category.value == "entry" and "became_resident" not in options:
            options["became_resident"] = BecameResident(reason=reason, on=on)
        out.append(change(reason, resident(atena, my_number=my_number, **options), on))
    return out


async def test_every_change_reason_lands_in_the_slice_and_is_announced(residency: Platform) -> None:
    atenas = {case.name: unique_atena() for case in CASES}
    streams = [stream_of(case, atenas[case.name]) for case in CASES]
    await publish_in_rounds(residency, streams)
    vault = residency.vault()

    for case, stream in zip(CASES, streams, strict=True):
        atena = atenas[case.name]
        stored = await versions(residency, atena)
        assert [v["reason"] for v in stored] == [c.reason.value for c in stream], case.name
        now = await current(residency, atena)
        assert now is not None, case.name
        assert now["change_id"] == stream[-1].change_id, case.name
        assert (now["is_resident"], now["lives_in_japan"]) == (case.is_resident, case.lives_in_japan), case.name
        for column, value in case.check.items():
            assert now[column] == value, (case.name, column)
        # My Number: sealed for this person, found by its keyed hash, never in clear.
        last = stream[-1].resident.my_number
        assert last is not None
        assert vault.open(now["my_number_sealed"], atena) == last, case.name
        assert now["person_hash"] == vault.lookup_hash(last), case.name
        assert last.reveal() not in str(now), case.name

        events = await announced(residency, atena)
        assert [e["kind"] for e in events] == case.kinds, case.name
        final = events[-1]
        assert final["source_change_id"] == stream[-1].change_id, case.name
        assert (final["is_resident"], final["lives_in_japan"]) == (case.is_resident, case.lives_in_japan), case.name
        assert all(last.reveal() not in str(e) for e in events), case.name
        for event in events:
            # Minimised: no 世帯主氏名, 筆頭者 or 通称 leave residency; of the household only the 続柄 and the
            # 世帯主's 宛名番号 do (exemption screening examines the spouse's and the householder's income).
            assert not {"householder", "family_register_head", "alias"} & set(event), case.name
            assert event["relationship"], case.name
        if stream[-1].cancels_change_id is None:  # a cancellation announces the state it restores
            assert final["relationship"] == stream[-1].resident.relationship, case.name

    moved_abroad = (await announced(residency, atenas["国外転出"]))[-1]
    assert moved_abroad["address"]["country_code"] == "US"  # the 転出先, not the old address
    changed = [await versions(residency, atenas["個人番号の変更"])]
    assert changed[0][0]["my_number_hash"] != changed[0][1]["my_number_hash"]
