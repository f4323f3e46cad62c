"""The bulk path's hand-written fast routines agree with the reference ones they stand in for."""

from __future__ import annotations

import random
import uuid

from kokunen_common.ids import derived_id
from kokunen_contracts.identifiers import my_number_check_digit
from residency_sync.adapters.legacy_file import REASON_CODES, derived_hex, my_number_is_valid
from residency_sync.domain.changes import snapshot_flags


def test_the_fast_check_digit_agrees_with_the_reference() -> None:
    rnd = random.Random(8)
    for _ in range(20_000):
        base = f"{rnd.randrange(10**11):011d}"
        digit = my_number_check_digit(base)
        assert my_number_is_valid(base + str(digit))
        assert not my_number_is_valid(base + str((digit + rnd.randrange(1, 10)) % 10))
    assert not my_number_is_valid("１２３４５６７８９０１８")  # full-width digits
    assert not my_number_is_valid("12345678901")


def test_the_fast_derived_ids_are_the_derived_ids() -> None:
    for _ in range(1000):
        cause = uuid.uuid4()
        line = random.randrange(1, 2_000_000)
        raw, text = derived_hex(cause.bytes, str(line))
        assert uuid.UUID(text) == derived_id(cause, line)
        assert uuid.UUID(derived_hex(raw, "person-changed")[1]) == derived_id(derived_id(cause, line), "person-changed")


def test_reason_codes_take_the_contract_values_and_unambiguous_japanese_labels() -> None:
    assert REASON_CODES["死亡"].value == "death"
    assert REASON_CODES["death"].value == "death"
    assert "帰化" not in REASON_CODES  # 記載 or 消除? the file must say
    assert REASON_CODES["帰化(消除)"].value == "naturalisation_removal"


def test_a_full_line_with_a_removal_is_not_resident_unless_nationality_changes() -> None:
    assert snapshot_flags(None) == (True, True)
    assert snapshot_flags("death") == (False, True)
    assert snapshot_flags("move_out_abroad") == (False, False)
    assert snapshot_flags("naturalisation_removal") == (True, True)


def test_a_line_with_undecodable_bytes_or_nul_is_rejected_by_itself() -> None:
    import pytest
    from residency_sync.adapters.legacy_file import WIDTH, RowRejected, check_shape

    check_shape(["x"] * WIDTH)
    for broken in ("\udc82", "\x00"):
        with pytest.raises(RowRejected, match="文字コード"):
            check_shape(["x"] * (WIDTH - 1) + [f"a{broken}b"])
    with pytest.raises(RowRejected, match="columns"):
        check_shape(["x"] * (WIDTH - 1))
