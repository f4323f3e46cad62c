"""提供1 end to end, on the real broker and database: a resident moves in from abroad → residency_sync seals
the My Number → eligibility records 資格取得 (国民年金法8条2号) and announces the report due to JPS →
transfer_dispatch keeps it with the person's details → the weekly 進達 medium carries the clear My Number
(opened with the shared key, 番号法19条: JPS alone) and the printed list carries the name but no number.
"""

from __future__ import annotations

import base64
import os
from datetime import date
from pathlib import Path

import pytest
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import Address, ChangeReason, PersonName
from kokunen_testing.factories import change, resident
from kokunen_testing.pdf import pdf_text
from kokunen_testing.platform import Platform, eventually, unique_atena
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.jps.adapters.medium import JpsSettings, MediumKey, open_sealed
from transfer_dispatch.jps.domain.batch import IsoWeek
from transfer_dispatch.jps.domain.layout import parse_file
from transfer_dispatch.jps.service import Provision, run_weekly_report

pytestmark = pytest.mark.integration


async def test_a_move_in_from_abroad_reaches_the_weekly_jps_medium_with_its_my_number(
    platform: Platform, tmp_path: Path
) -> None:
    atena = unique_atena()
    person = resident(atena, birth_date=date(1990, 2, 3), name=PersonName(name="与野 𠮷太郎", kana="ヨノ キチタロウ"))
    moved_in = change(
        ChangeReason.MOVE_IN_FROM_ABROAD,
        person.model_copy(update={"moved_in_from": Address(text="Seoul", country_code="KR")}),
        date(2026, 10, 1),
    )
    key = MediumKey.parse("flow:" + base64.b64encode(os.urandom(32)).decode())
    async with platform.build("residency_sync"), platform.build("eligibility"), platform.build("transfer_dispatch"):
        await platform.publish(RESIDENT_CHANGED, [moved_in])
        dispatch = await platform.connect_as("transfer_dispatch")
        try:
            report = await eventually(
                lambda: dispatch.fetchrow(
                    """SELECT r.* FROM dispatch.jps_report r JOIN dispatch.jps_person p USING (atena_number)
                       WHERE r.atena_number = $1""",
                    atena,
                ),
                timeout_s=60,
            )
            assert report["report_kind"] == "qualification_acquisition"
            assert report["my_number_sealed"] is not None
            week = IsoWeek.of(report["received_on"])
            provision = Provision(load_policies(), platform.vault(), key, JpsSettings(), tmp_path)
            result = await run_weekly_report(dispatch, provision, week)
        finally:
            await dispatch.close()

    assert result.new
    assert result.batch_id is not None
    assert result.batch_id.startswith(f"jps-{week}")
    assert result.files is not None
    assert result.files.pdf is not None
    records = parse_file(open_sealed(result.files.sealed.read_bytes(), key)).records
    [ours] = [r for r in records if r["atena_number"] == atena]
    assert person.my_number is not None
    assert ours["my_number"] == person.my_number.reveal()
    assert ours["name"] == "与野 〓太郎"  # 𠮷 is not in CP932: the medium writes ゲタ
    assert (ours["acquired_on"], ours["acquisition_reason"], ours["insured_category"]) == ("20261001", "02", "1")
    text = pdf_text(result.files.pdf)
    assert "与野" in text
    assert person.my_number.reveal() not in text
