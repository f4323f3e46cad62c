"""職員と権限: who is signed in and what their roles allow.

Roles come from the IdP's token claims (the city's directory decides who holds them; the counter never grants
one). What each role may do is this table, in one place, so the pages and the tests read the same policy:

- 閲覧 (viewer), 窓口入力 (clerk), 確認者 (supervisor): person inquiry (照会).
- 窓口入力 (clerk): entering 届出・申請・請求 (the staff id and 部署 on them are the session's).
- 確認者 (supervisor): confirming a 被保険者記録の訂正 entered by someone else (訂正の確認, four eyes).
- 個人番号取扱者 (my_number_handler): person inquiry, and revealing a My Number by an explicit action with its
  own reason (番号法 — 個人番号を取り扱う事務に従事する者に限る).
- 閲覧, 窓口入力, 確認者: the 受付処理簿 of any counter (部署), as a page and a PDF.
- 監査 (auditor): the access log (search, CSV export), and the 開示請求 export — the designated role: a
  disclosure request (個人情報保護法76条) is answered by the 情報公開 担当, not by the counter that keeps the record,
  and the auditor's role already reads who looked at whom; no person inquiry.
- 運用 (operator): running the system; no personal data at all.

処理停止 (DV等支援措置, 住民基本台帳事務における支援措置): the address of a person under it is withheld from every
role except 確認者, who handles the supported person's own requests in person; no role exports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # 閲覧
    CLERK = "clerk"  # 窓口入力
    SUPERVISOR = "supervisor"  # 確認者
    MY_NUMBER_HANDLER = "my_number_handler"  # 個人番号取扱者
    AUDITOR = "auditor"  # 監査
    OPERATOR = "operator"  # 運用

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.VIEWER: "閲覧",
    Role.CLERK: "窓口入力",
    Role.SUPERVISOR: "確認者",
    Role.MY_NUMBER_HANDLER: "個人番号取扱者",
    Role.AUDITOR: "監査",
    Role.OPERATOR: "運用",
}


class Permission(StrEnum):
    INQUIRE = "inquire"  # 照会 (search and view a person)
    REVEAL_MY_NUMBER = "reveal_my_number"  # 個人番号の表示
    SEE_SUSPENDED_ADDRESS = "see_suspended_address"  # 処理停止者の住所
    READ_ACCESS_LOG = "read_access_log"  # アクセスログの検索・出力
    READ_RECEPTION_BOOK = "read_reception_book"  # 受付処理簿
    EXPORT_DISCLOSURE = "export_disclosure"  # 開示請求の出力
    FILE = "file"  # 届出・申請・請求の入力
    CONFIRM_CORRECTION = "confirm_correction"  # 訂正の確認 (入力者とは別の職員)


POLICY: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.INQUIRE, Permission.READ_RECEPTION_BOOK}),
    Role.CLERK: frozenset({Permission.INQUIRE, Permission.READ_RECEPTION_BOOK, Permission.FILE}),
    Role.SUPERVISOR: frozenset(
        {
            Permission.INQUIRE,
            Permission.SEE_SUSPENDED_ADDRESS,
            Permission.READ_RECEPTION_BOOK,
            Permission.CONFIRM_CORRECTION,
        }
    ),
    Role.MY_NUMBER_HANDLER: frozenset({Permission.INQUIRE, Permission.REVEAL_MY_NUMBER}),
    Role.AUDITOR: frozenset({Permission.READ_ACCESS_LOG, Permission.EXPORT_DISCLOSURE}),
    Role.OPERATOR: frozenset(),
}

PERMISSION_LABELS = {
    Permission.INQUIRE: "照会",
    Permission.REVEAL_MY_NUMBER: "個人番号の表示",
    Permission.SEE_SUSPENDED_ADDRESS: "処理停止者の住所の表示",
    Permission.READ_ACCESS_LOG: "アクセスログの閲覧",
    Permission.READ_RECEPTION_BOOK: "受付処理簿の閲覧",
    Permission.EXPORT_DISCLOSURE: "開示請求の出力",
    Permission.FILE: "届出・申請の入力",
    Permission.CONFIRM_CORRECTION: "訂正の確認",
}


def roles_from_claims(values: Iterable[object]) -> tuple[Role, ...]:
    """The roles a token names that the counter knows; unknown ones are ignored (they grant nothing)."""
    known = {r.value: r for r in Role}
    return tuple(sorted({known[v] for v in values if isinstance(v, str) and v in known}))


@dataclass(frozen=True)
class Staff:
    """A signed-in staff member (職員) as the IdP described them."""

    staff_id: str
    name: str
    department: str  # 部署
    roles: tuple[Role, ...]

    def may(self, permission: Permission) -> bool:
        return any(permission in POLICY[role] for role in self.roles)

    @property
    def role_labels(self) -> str:
        return "・".join(r.label for r in self.roles) or "権限なし"
