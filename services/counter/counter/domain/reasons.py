"""処理事由: why a staff member looks at a person. Every search, view and My Number reveal needs one — a code
from this list and the concrete matter in words — and the access log keeps both (特定個人情報保護評価書 Ⅲ:
アクセスログに処理事由を記録する)."""

from __future__ import annotations

from dataclasses import dataclass

REASONS: dict[str, str] = {
    "01": "窓口での届出・申請の受付",
    "02": "本人からの相談・照会への回答",
    "03": "資格記録の確認・調査",
    "04": "免除・納付猶予の審査",
    "05": "日本年金機構・他機関からの照会への回答",
    "06": "個人番号の確認 (番号法に基づく事務)",
    "99": "その他",
}
REASON_TEXT_MAX = 200
AUDIT_REASON_CODE = "90"
AUDIT_REASON_LABEL = "アクセスログの監査 (安全管理措置)"
"""The 処理事由 of an auditor's read of the access log (the page, the CSV, the monthly report): not one a staff
member chooses for an inquiry, so it is not in ``REASONS``."""
REASON_LABELS: dict[str, str] = {**REASONS, AUDIT_REASON_CODE: AUDIT_REASON_LABEL}


class ReasonRefused(ValueError):
    """No valid 処理事由: the message says what is missing, in Japanese, for the field beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Reason:
    code: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.code} {REASON_LABELS[self.code]}"


def require_reason(code: str | None, text: str | None) -> Reason:
    """The 処理事由 of a request, or ``ReasonRefused``: a code from the list and the matter in words."""
    code = (code or "").strip()
    text = (text or "").strip()
    if not code:
        raise ReasonRefused("reason_code", "処理事由を選択してください")
    if code not in REASONS:
        raise ReasonRefused("reason_code", "処理事由の選択肢にない値です")
    if not text:
        raise ReasonRefused("reason_text", "処理事由の具体的な内容を入力してください (例: 受付番号、相談の内容)")
    if len(text) > REASON_TEXT_MAX:
        raise ReasonRefused("reason_text", f"処理事由の内容は{REASON_TEXT_MAX}文字以内で入力してください")
    if any(ord(c) < 0x20 and c not in "\t" for c in text):
        raise ReasonRefused("reason_text", "処理事由の内容に使えない文字 (制御文字) が含まれています")
    return Reason(code, text)


AUDIT_REASON = Reason(AUDIT_REASON_CODE, AUDIT_REASON_LABEL)
