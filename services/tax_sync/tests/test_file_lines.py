"""Lines of the annual file checked one by one: each bad-input class gets its specific reason, the
fast path and the careful path agree, and the encoding is detected."""

from __future__ import annotations

from pathlib import Path

import pytest
from kokunen_testing.tax_files import record, synthetic_lines, write_file
from tax_sync.adapters.annual_file import FileRejected, _fast, check_cells, inspect, read_header
from tax_sync.adapters.annual_file import format_line as csv_line
from tax_sync.domain import AssessmentError
from tax_sync.domain.fields import FIELDS, INDEX, JAPANESE, NAMES


def cells(**changes: str) -> list[str]:
    values = csv_line(record("1000000001")).split(",")
    for name, value in changes.items():
        values[INDEX[name]] = value
    return values


def test_a_good_line_passes_both_paths_unchanged() -> None:
    line = ",".join(cells())
    assert _fast(line) == line
    assert check_cells(cells()) == line


@pytest.mark.parametrize(
    ("changes", "error_class", "says"),
    [
        ({"general_dependants": "-1"}, "negative_count", "一般扶養数 (general_dependants) is a negative count"),
        ({"young_dependants": "-3"}, "negative_count", "年少扶養数"),
        ({"total_income": "1500000.5"}, "non_integer_yen", "合計所得金額 (total_income) is not whole yen"),
        ({"medical_expense_deduction": "120,000"}, "non_integer_yen", "医療費控除"),
        ({"social_insurance_deduction": "27万"}, "non_integer_yen", "社会保険料控除"),
        ({"public_pension_income": "１２０００"}, "non_integer_yen", "公的年金収入"),  # full-width digits
        ({"tax_year": "2025"}, "unknown_year", "must be 所得年 (income_year) + 1"),
        ({"income_year": "1998", "tax_year": "1999", "assessed_on": "1999-06-10"}, "unknown_year", "not known"),
        ({"income_year": "R7"}, "unknown_year", "is not a year"),
        ({"assessed_on": "2025-11-30"}, "unknown_year", "has not ended"),
        ({"atena_number": ""}, "missing_atena", "宛名番号 (atena_number) is missing"),
        ({"atena_number": "12-34"}, "invalid_value", "宛名番号"),
        ({"assessed_on": "2026-02-30"}, "invalid_value", "is not a date"),
        ({"spouse_deduction": "7"}, "invalid_value", "控除対象配偶者"),
        ({"single_parent": "yes"}, "invalid_value", "ひとり親"),
        ({"net_loss": "-5"}, "invalid_value", "純損失 (net_loss) must not be negative"),
    ],
)
def test_each_bad_field_is_refused_with_its_specific_reason(
    changes: dict[str, str], error_class: str, says: str
) -> None:
    line = cells(**changes)
    assert _fast(",".join(line)) is None
    with pytest.raises(AssessmentError) as caught:
        check_cells(line)
    assert caught.value.error_class == error_class
    assert says in caught.value.reason
    for value in changes.values():
        if len(value) > 2:
            assert value not in caught.value.reason  # the rule, never the value


def test_a_row_with_the_wrong_number_of_columns_is_malformed() -> None:
    with pytest.raises(AssessmentError) as caught:
        check_cells(cells()[:-2])
    assert caught.value.error_class == "malformed"
    assert f"expected {len(FIELDS)} columns, found {len(FIELDS) - 2}" in caught.value.reason


def test_a_negative_total_income_is_a_loss_not_an_error() -> None:
    line = cells(total_income="-250000")
    assert check_cells(line) == ",".join(line)
    assert _fast(",".join(line)) == ",".join(line)


def test_the_header_may_be_japanese_or_english_but_must_match() -> None:
    assert read_header(",".join(JAPANESE)) == len(FIELDS)
    assert read_header(",".join(NAMES)) == len(FIELDS)
    # The older layout, without the last (optional) column: 16〜18歳の扶養親族の数 unknown.
    assert read_header(",".join(JAPANESE[:-1])) == len(FIELDS) - 1
    assert read_header(",".join(NAMES[:-1])) == len(FIELDS) - 1
    with pytest.raises(FileRejected):
        read_header(",".join(JAPANESE[:-2]))
    with pytest.raises(FileRejected):
        read_header(",".join((*JAPANESE[:-1], "備考")))


@pytest.mark.parametrize(
    ("given", "staged"),
    [
        pytest.param(["1"], "1", id="given"),
        pytest.param([""], "", id="empty-cell-unknown"),
        pytest.param([], "", id="older-layout-unknown"),
    ],
)
def test_the_count_of_16_to_18_year_olds_is_optional(given: list[str], staged: str) -> None:
    line = cells(general_dependants="2")[:-1] + given
    columns = len(FIELDS) - 1 + len(given)
    expected = ",".join([*cells(general_dependants="2")[:-1], staged])
    assert check_cells(line, columns) == expected
    padding = "," * (len(FIELDS) - columns)
    assert _fast(",".join(line) + padding) == expected


@pytest.mark.parametrize("value", ["3", "-1", "x"])
def test_a_count_of_16_to_18_year_olds_beyond_the_general_dependants_or_not_a_count_is_refused(value: str) -> None:
    line = cells(general_dependants="2", general_dependants_aged_16_to_18=value)
    assert _fast(",".join(line)) is None
    with pytest.raises(AssessmentError) as caught:
        check_cells(line)
    assert caught.value.error_class == "invalid_value"
    assert "一般扶養数のうち16歳以上19歳未満" in caught.value.reason


def test_an_older_layout_line_with_the_new_column_is_malformed() -> None:
    with pytest.raises(AssessmentError) as caught:
        check_cells(cells(), len(FIELDS) - 1)
    assert f"expected {len(FIELDS) - 1} columns, found {len(FIELDS)}" in caught.value.reason


def test_the_fast_path_accepts_what_the_careful_path_accepts(tmp_path: Path) -> None:
    for line in synthetic_lines(2000):
        assert _fast(line) == line
        assert check_cells(line.split(",")) == line


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_the_encoding_is_detected(tmp_path: Path, encoding: str) -> None:
    path = write_file(tmp_path / "f.csv", synthetic_lines(10), encoding=encoding)
    facts = inspect(path)
    assert facts.encoding.removesuffix("-sig") == encoding
    assert len(facts.digest) == 64
