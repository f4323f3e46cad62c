"""アクセスログ: one entry per search, view, My Number reveal and filing — 処理日時, 職員, 部署, 端末,
処理事由, 宛名番号, the 4情報 as shown, the action, and whether a My Number was shown. Append-only and
hash-chained (kokunen_common.hash_chain) in ``LANES`` parallel chains, so that staff requests append side by side;
``counter verify-access-log`` checks every lane and names the first broken row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

LANES = 8
"""Parallel chains of the access log: as many requests append at once (a request holds its lane only from its
row's insert to its commit). Changing it needs no migration: the verifier checks lanes 0 … LANES-1."""
SEQUENCE = "counter.access_log_seq"

LOG_FIELDS = (
    "seq",
    "logged_at",
    "staff_id",
    "staff_name",
    "department",
    "terminal",
    "reason_code",
    "reason_text",
    "action",
    "atena_number",
    "query",
    "result_count",
    "shown",
    "my_number_shown",
)


class Action(StrEnum):
    SEARCH = "search"  # 検索
    VIEW = "view"  # 照会 (個人の表示)
    REVEAL_MY_NUMBER = "reveal_my_number"  # 個人番号の表示
    # An auditor's read is an access to the persons it shows (docs/counter.md): logged like a search.
    AUDIT_SEARCH = "audit_search"  # アクセスログの検索 (監査)
    AUDIT_EXPORT = "audit_export"  # アクセスログのCSV出力 (監査)
    AUDIT_REPORT = "audit_report"  # アクセスログ分析報告 (月次)
    RECEPTION_BOOK = "reception_book"  # 受付処理簿の表示・出力 (the persons it lists)
    DISCLOSURE_EXPORT = "disclosure_export"  # 開示請求の出力
    FILE = "file"  # 届出・申請・請求の受付 (the query column names the kind and 受付番号)
    CORRECTION_QUEUE = "correction_queue"  # 確認待ちの訂正の一覧 (the persons it lists)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.SEARCH: "検索",
    Action.VIEW: "照会",
    Action.REVEAL_MY_NUMBER: "個人番号表示",
    Action.AUDIT_SEARCH: "ログ検索 (監査)",
    Action.AUDIT_EXPORT: "ログ出力 (監査)",
    Action.AUDIT_REPORT: "ログ分析 (監査)",
    Action.RECEPTION_BOOK: "受付処理簿",
    Action.DISCLOSURE_EXPORT: "開示請求の出力",
    Action.FILE: "届出等の受付",
    Action.CORRECTION_QUEUE: "確認待ち一覧",
}


def persons_named(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The 宛名番号 of every person some access-log rows are about (a view's person, each person a search
    showed), once each, in order: who an auditor's read of those rows is an access to."""
    named: dict[str, None] = {}
    for entry in entries:
        if entry.get("atena_number"):
            named[str(entry["atena_number"])] = None
        for person in (entry.get("shown") or {}).get("persons", []):
            if person.get("宛名番号"):
                named[str(person["宛名番号"])] = None
    return list(named)
