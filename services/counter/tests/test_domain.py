"""The counter's rules without I/O: search input, 処理事由, roles, the qualification history as recorded on a
moment, what a page shows, and the CSV export that never carries a person under 処理停止."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from counter.adapters.web import export_csv
from counter.domain.display import ADDRESS_WITHHELD, both_dates, dependants_text, show_person
from counter.domain.qualification import QualificationEvent, current_period, history
from counter.domain.reasons import ReasonRefused, require_reason
from counter.domain.search import SearchKind, SearchRefused, kana_key, parse_search
from counter.domain.staff import Permission, Role, Staff, roles_from_claims
from kokunen_common.hash_chain import verify_chain


def test_each_way_of_searching_is_recognised_and_normalised() -> None:
    assert parse_search("０００１２３", "", "", "").atena_number == "000123"  # 全角 digits accepted
    assert parse_search("", "", "", "1234567890").basic_pension_number == "1234-567890"
    query = parse_search("", "ｳﾗﾜ　はなこ", "昭和60年6月15日", "")
    assert query.kind is SearchKind.KANA_BIRTH
    assert (query.kana_key, query.birth_date) == ("ウラワハナコ", date(1985, 6, 15))
    assert parse_search("", "ウラワ ハナコ", "S60.6.15", "").birth_date == date(1985, 6, 15)
    assert parse_search("", "ウラワ ハナコ", "1985-06-15", "").birth_date == date(1985, 6, 15)
    assert kana_key("ヤマダ・タロウ") == "ヤマダタロウ"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (("", "", "", ""), "atena_number", "いずれかを入力"),
        (("123", "", "", "1234-567890"), "atena_number", "1種類だけ"),
        (("12a", "", "", ""), "atena_number", "半角数字15桁以内"),
        (("1" * 61, "", "", ""), "atena_number", "入力が長すぎます"),
        (("", "", "", "12-34"), "basic_pension_number", "1234-567890 の形"),
        (("", "Yamada", "1985-06-15", ""), "kana_name", "カタカナまたはひらがな"),
        (("", "ヤマダ", "", ""), "birth_date", "生年月日を入力"),
        (("", "ヤマダ", "平成31年5月1日", ""), "birth_date", "期間外"),
        (("", "ヤマダ", "1985-02-30", ""), "birth_date", "存在しない日付"),
    ],
)
def test_bad_search_input_is_refused_beside_the_field(fields: tuple[str, ...], field: str, message: str) -> None:
    with pytest.raises(SearchRefused) as refused:
        parse_search(*fields)
    assert message in refused.value.errors[field]


def test_a_reason_needs_a_listed_code_and_words() -> None:
    assert require_reason("02", " 本人来庁 ").text == "本人来庁"
    for code, text, field in (("", "x", "reason_code"), ("77", "x", "reason_code"), ("02", " ", "reason_text"),
                              ("02", "x" * 201, "reason_text"), ("02", "a\x00b", "reason_text")):  # fmt: skip
        with pytest.raises(ReasonRefused) as refused:
            require_reason(code, text)
        assert refused.value.field == field


def test_roles_come_only_from_known_claims_and_grant_what_the_policy_says() -> None:
    assert roles_from_claims(["viewer", "admin", 3, "auditor"]) == (Role.AUDITOR, Role.VIEWER)
    viewer = Staff("s", "n", "d", (Role.VIEWER,))
    handler = Staff("s", "n", "d", (Role.MY_NUMBER_HANDLER,))
    auditor = Staff("s", "n", "d", (Role.AUDITOR,))
    operator = Staff("s", "n", "d", (Role.OPERATOR,))
    assert viewer.may(Permission.INQUIRE)
    assert not viewer.may(Permission.REVEAL_MY_NUMBER)
    assert handler.may(Permission.REVEAL_MY_NUMBER)
    assert auditor.may(Permission.READ_ACCESS_LOG)
    assert not auditor.may(Permission.INQUIRE)
    assert not any(operator.may(p) for p in Permission)


def event(kind: str, period: uuid.UUID, at: int, *, acquired: date, lost: date | None = None,
          replaces: uuid.UUID | None = None, event_id: uuid.UUID | None = None) -> QualificationEvent:  # fmt: skip
    return QualificationEvent(
        event_id or uuid.uuid4(), kind, period, "category_1", acquired, "reached_20", lost,
        "moved_abroad" if lost else None, replaces, datetime(2026, 1, at, tzinfo=UTC),
    )  # fmt: skip


def test_the_history_as_recorded_on_a_day_ignores_what_was_learned_later() -> None:
    period = uuid.uuid4()
    acquired = event("acquired", period, 1, acquired=date(2010, 4, 1))
    lost = event("lost", period, 10, acquired=date(2010, 4, 1), lost=date(2025, 3, 1))
    reopened = event("cancelled", period, 20, acquired=date(2010, 4, 1), replaces=lost.event_id)
    now = history([acquired, lost, reopened])
    assert [p.lost_on for p in now] == [None]
    assert current_period(now, date(2026, 1, 1)) is not None
    then = history([acquired, lost, reopened], recorded_by=datetime(2026, 1, 15, tzinfo=UTC))
    assert [p.lost_on for p in then] == [date(2025, 3, 1)]
    assert current_period(then, date(2026, 1, 1)) is None
    assert history([acquired, lost], recorded_by=datetime(2025, 12, 31, tzinfo=UTC)) == []


def test_a_cancellation_repeating_the_period_as_it_stood_removes_it() -> None:
    period = uuid.uuid4()
    acquired = event("acquired", period, 1, acquired=date(2010, 4, 1))
    void = event("cancelled", period, 2, acquired=date(2010, 4, 1), replaces=acquired.event_id)
    assert history([acquired, void]) == []


def test_the_address_under_processing_suspension_is_shown_only_to_the_roles_the_policy_allows() -> None:
    row = {"atena_number": "1", "name": "岩槻 桜", "name_kana": None, "birth_date": date(1992, 8, 20), "sex": "female",
           "address": {"text": "さいたま市岩槻区"}, "suspended": True}  # fmt: skip
    assert show_person(row, Staff("s", "n", "d", (Role.VIEWER,))).address == ADDRESS_WITHHELD
    assert show_person(row, Staff("s", "n", "d", (Role.SUPERVISOR,))).address == "さいたま市岩槻区"
    assert both_dates(date(2019, 5, 1)) == "令和元年5月1日 (2019-05-01)"


def test_the_export_leaves_a_suspended_person_by_number_only_and_defuses_formulas() -> None:
    entry = {
        "seq": 1, "logged_at": datetime(2026, 12, 5, tzinfo=UTC), "staff_id": "s", "staff_name": "n",
        "department": "d", "terminal": "t", "reason_code": "02", "reason_text": "=HYPERLINK(1)", "action": "search",
        "atena_number": None, "query": "q", "result_count": 2, "my_number_shown": False,
        "shown": {"persons": [
            {"宛名番号": "1", "氏名": "岩槻 桜", "生年月日": "1992-08-20", "性別": "女", "住所": "", "処理停止": True},
            {"宛名番号": "2", "氏名": "浦和 花子", "生年月日": "1990-04-02", "性別": "女", "処理停止": False},
        ]},
    }  # fmt: skip
    text = export_csv([entry])
    assert "1 (処理停止)" in text
    assert "岩槻" not in text
    assert "浦和 花子" in text
    assert "'=HYPERLINK(1)" in text


def test_the_chain_names_an_edited_row() -> None:
    from kokunen_common.hash_chain import GENESIS, entry_hash

    fields = ("seq", "text", "shown")
    entries, previous = [], GENESIS
    for seq in (1, 2, 3):
        entry = {"seq": seq, "text": f"t{seq}", "shown": {"persons": [{"宛名番号": str(seq)}]}, "prev_hash": previous}
        entry["entry_hash"] = previous = entry_hash(previous, entry, fields)
        entries.append(entry)
    assert verify_chain(entries, fields) == []
    entries[1]["shown"] = {"persons": [{"宛名番号": "9"}]}
    assert [b.seq for b in verify_chain(entries, fields)] == [2]  # the edited row, named


def test_the_database_puts_the_seq_into_the_same_canonical_form_python_hashes() -> None:
    """The append function hashes head + the seq's digits + tail (the seq is drawn under the lane's lock): that must
    be exactly the canonical form the verifier recomputes, whatever the values (a seq-like text included)."""
    from kokunen_common.hash_chain import _around_seq, canonical

    fields = ("seq", "logged_at", "text", "shown", "count")
    entry = {"logged_at": datetime(2026, 12, 5, 7, 1, 2, 345678, tzinfo=UTC), "text": '"seq":1, 改ざん\n',
             "shown": {"persons": [{"宛名番号": "0001", "氏名": "浦和 花子"}]}, "count": None}  # fmt: skip
    head, tail, row = _around_seq(entry, fields)
    for seq in (1, 42, 9_007_199_254_740_993):
        assert head + str(seq).encode() + tail == canonical({**entry, "seq": seq}, fields)
    assert json.loads(row)["text"] == entry["text"]  # the row's JSON the function inserts from


def test_the_lanes_verify_together_and_name_the_first_broken_row_of_the_table() -> None:
    from kokunen_common.hash_chain import GENESIS, entry_hash, verify_lanes

    fields = ("seq", "text")
    heads: dict[int, bytes] = {}
    entries = []
    for seq, lane in enumerate([0, 1, 0, 2, 1, 1, 0, 2], start=1):  # lanes interleave; seq rises along each
        entry = {"seq": seq, "lane": lane, "text": f"t{seq}", "prev_hash": heads.get(lane, GENESIS)}
        entry["entry_hash"] = heads[lane] = entry_hash(entry["prev_hash"], entry, fields)
        entries.append(entry)
    assert verify_lanes(entries, fields, lanes=3) == []

    edited = [dict(e) for e in entries]
    edited[4]["text"] = "改ざん"  # seq 5 (lane 1)
    edited[6]["text"] = "改ざん"  # seq 7 (lane 0)
    assert [b.seq for b in verify_lanes(edited, fields, lanes=3)] == [5, 7]

    removed = [e for e in entries if e["seq"] != 3]  # a middle row of lane 0: the next row of lane 0 says so
    assert [(b.seq, b.problem.startswith("previous-hash")) for b in verify_lanes(removed, fields, lanes=3)] == [
        (7, True)
    ]
    moved = [dict(e) for e in entries]
    moved[3]["lane"] = 1  # seq 4 put into another lane: both lanes break
    assert [b.seq for b in verify_lanes(moved, fields, lanes=3)][:2] == [4, 5]
    outside = [dict(e) for e in entries]
    outside[0]["lane"] = 7
    assert "not one of the 3 lanes" in verify_lanes(outside, fields, lanes=3)[0].problem


def test_the_dependants_say_how_many_general_ones_are_16_to_18_or_that_the_tax_system_did_not_say() -> None:
    figures = {"general_dependants": 2, "elderly_dependants": 1, "specified_dependants": 0, "young_dependants": 3}
    # 16〜18歳 are deducted like 特定扶養親族 (63万円): staff must see whether the count is known.
    assert dependants_text({**figures, "general_dependants_aged_16_to_18": 1}) == (
        "一般 2 (うち16〜18歳 1)・老人 1・特定 0・年少 3"
    )
    assert dependants_text({**figures, "general_dependants_aged_16_to_18": None}) == (
        "一般 2 (うち16〜18歳 不明)・老人 1・特定 0・年少 3"
    )
    assert dependants_text(figures) == "一般 2 (うち16〜18歳 不明)・老人 1・特定 0・年少 3"  # a record from before it
    assert dependants_text({**figures, "general_dependants": 0}) == "一般 0・老人 1・特定 0・年少 3"
