"""老齢福祉年金受給者一覧 (the source of 移転3): reading the recipient list the city receives as CSV.

Columns (a header row, English or Japanese names): 宛名番号 ``atena_number``, 証書記号
``certificate_symbol``, 証書番号 ``certificate_number``, 支給区分 ``payment_category`` and, optionally,
受給状態 ``status`` (受給中 / 消滅: a recipient whose right ended leaves the 移転3 population).
A list with any bad line is refused whole, each problem named by its line number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from kokunen_contracts.identifiers import AtenaNumber
from kokunen_contracts.transfer import CertificateNumber, CertificateSymbol, WelfarePensionPaymentCategory
from pydantic import TypeAdapter, ValidationError

HEADER_NAMES = {
    "宛名番号": "atena_number",
    "証書記号": "certificate_symbol",
    "証書番号": "certificate_number",
    "支給区分": "payment_category",
    "受給状態": "status",
}
PAYMENT_CATEGORY_NAMES = {
    "全額支給": WelfarePensionPaymentCategory.FULL,
    "一部支給停止": WelfarePensionPaymentCategory.PARTIALLY_SUSPENDED,
    "全額支給停止": WelfarePensionPaymentCategory.SUSPENDED,
}
ACTIVE_NAMES = {"受給中": True, "active": True, "": True, "消滅": False, "ended": False}
REQUIRED = ("atena_number", "certificate_symbol", "certificate_number", "payment_category")

_atena = TypeAdapter(AtenaNumber)
_symbol = TypeAdapter(CertificateSymbol)
_number = TypeAdapter(CertificateNumber)


class RecipientListError(ValueError):
    """The list cannot be imported; ``problems`` names each bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
        self.problems = problems


@dataclass(frozen=True)
class WelfarePensionRecipient:
    atena_number: str  # 宛名番号
    certificate_symbol: str  # 証書記号
    certificate_number: str  # 証書番号
    payment_category: WelfarePensionPaymentCategory  # 支給区分
    active: bool  # 受給中

    def row(self) -> tuple[str, str, str, str, bool]:
        return (
            self.atena_number,
            self.certificate_symbol,
            self.certificate_number,
            self.payment_category.value,
            self.active,
        )


def parse_recipient_list(text: str) -> list[WelfarePensionRecipient]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [HEADER_NAMES.get((c or "").strip(), (c or "").strip()) for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RecipientListError([f"header: missing column(s) {missing}"])
    reader.fieldnames = columns
    recipients: list[WelfarePensionRecipient] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        try:
            atena = _atena.validate_python(values["atena_number"])
            category_text = values["payment_category"]
            category = PAYMENT_CATEGORY_NAMES.get(category_text) or WelfarePensionPaymentCategory(category_text)
            status = values.get("status", "")
            if status not in ACTIVE_NAMES:
                raise ValueError(f"受給状態 {status!r} is neither 受給中 nor 消滅")
            recipient = WelfarePensionRecipient(
                atena_number=atena,
                certificate_symbol=_symbol.validate_python(values["certificate_symbol"]),
                certificate_number=_number.validate_python(values["certificate_number"]),
                payment_category=category,
                active=ACTIVE_NAMES[status],
            )
        except (ValidationError, ValueError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            problems.append(f"line {line}: {reason}")
            continue
        if recipient.atena_number in seen:
            problems.append(f"line {line}: 宛名番号 already listed on line {seen[recipient.atena_number]}")
            continue
        seen[recipient.atena_number] = line
        recipients.append(recipient)
    if problems:
        raise RecipientListError(problems)
    return recipients
