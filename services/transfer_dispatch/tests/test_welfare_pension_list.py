"""老齢福祉年金受給者一覧 (CSV): parsed whole or refused whole, each problem with its line."""

from __future__ import annotations

import pytest
from kokunen_contracts.transfer import WelfarePensionPaymentCategory
from transfer_dispatch.domain.welfare_pension import RecipientListError, parse_recipient_list


def test_japanese_headers_and_names_are_read() -> None:
    text = (
        "宛名番号,証書記号,証書番号,支給区分,受給状態\n"
        "0000000001,A1,123456,全額支給,受給中\n"
        "0000000002,B2,42,一部支給停止,消滅\n"
    )
    first, second = parse_recipient_list(text)
    assert first.payment_category is WelfarePensionPaymentCategory.FULL
    assert first.active
    assert second.payment_category is WelfarePensionPaymentCategory.PARTIALLY_SUSPENDED
    assert not second.active


def test_a_bad_line_refuses_the_whole_list_naming_each_line() -> None:
    text = (
        "atena_number,certificate_symbol,certificate_number,payment_category\n"
        "0000000001,A1,123456,full\n"
        "x,A1,1,full\n"
        "0000000003,A1,1,half\n"
        "0000000001,A1,9,full\n"
    )
    with pytest.raises(RecipientListError) as caught:
        parse_recipient_list(text)
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 3", "line 4", "line 5"]


def test_a_missing_column_is_refused() -> None:
    with pytest.raises(RecipientListError, match="certificate_number"):
        parse_recipient_list("宛名番号,証書記号,支給区分\n0000000001,A1,全額支給\n")
