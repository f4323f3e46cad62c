"""The weekly report batch (週次の進達) and the inquiry answer (照会回答), as pure rules: which week, which
batch id, what one record holds, and the manifest that travels beside the encrypted file.

The records are built through the jps policy (``RecipientPolicy.payload``), so a field the policy does
not list cannot reach the medium; the manifest carries counts and digests only, no personal data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .layout import ENCODING, RECORD_LENGTH, REPORT_KIND_LABELS

_WEEK = re.compile(r"^(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})$")
_INQUIRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class IsoWeek:
    """週: an ISO 8601 week (Monday to Sunday), the period of one weekly 進達."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        match = _WEEK.match(text)
        if match is None:
            raise ValueError(f"week is YYYY-Www (e.g. 2026-W47), got {text!r}")
        week = cls(int(match["year"]), int(match["week"]))
        try:
            week.first_day  # noqa: B018 — validates the week number for that year
        except ValueError:
            raise ValueError(f"{text} is not a week of {week.year}") from None
        return week

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=6)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def weekly_batch_id(week: IsoWeek, earlier_batches: int) -> str:
    """進達の送付番号: ``jps-2026-W47``; reports received in that week but arriving after its batch go in
    supplementary batches ``jps-2026-W47-s2``, ``-s3`` …"""
    return f"jps-{week}" if earlier_batches == 0 else f"jps-{week}-s{earlier_batches + 1}"


def inquiry_batch_id(inquiry_id: str) -> str:
    """照会回答の送付番号, named by JPS's 照会番号: answering the same inquiry twice names the same batch."""
    if not _INQUIRY_ID.match(inquiry_id):
        raise ValueError("照会番号 is 1–40 characters of A–Z, a–z, 0–9, '-' and '_'")
    return f"jps-inquiry-{inquiry_id}"


@dataclass(frozen=True)
class InquiryTarget:
    """One person JPS asks about: by 基礎年金番号 (NNNN-NNNNNN, with its hyphen) or by 宛名番号 (digits)."""

    basic_pension_number: str | None = None
    atena_number: str | None = None

    @classmethod
    def parse(cls, text: str) -> InquiryTarget:
        value = text.strip()
        if re.fullmatch(r"[0-9]{4}-[0-9]{6}", value):
            return cls(basic_pension_number=value)
        if re.fullmatch(r"[0-9]{1,15}", value):
            return cls(atena_number=value)
        raise ValueError("an inquiry line is a 基礎年金番号 (NNNN-NNNNNN) or a 宛名番号 (digits)")


def jps_record(report: Mapping[str, Any], person: Mapping[str, Any] | None, my_number: str | None) -> dict[str, Any]:
    """Everything the dispatch slice knows for one report, named as the jps policy names it (the
    policy then keeps exactly its own fields). Person details are the latest the slice has."""
    p = person or {}
    return {
        "report_id": str(report["report_id"]),
        "report_kind": report["report_kind"],
        "received_on": report["received_on"],
        "my_number": my_number,
        "basic_pension_number": report["basic_pension_number"] or p.get("basic_pension_number"),
        "atena_number": report["atena_number"],
        "name": p.get("name"),
        "name_kana": p.get("name_kana"),
        "sex": p.get("sex"),
        "birth_date": p.get("birth_date"),
        "postal_code": p.get("postal_code"),
        "address": p.get("address"),
        "insured_category": report["insured_category"],
        "acquired_on": report["acquired_on"],
        "acquisition_reason": report["acquisition_reason"],
        "lost_on": report["lost_on"],
        "loss_reason": report["loss_reason"],
        "exemption_kind": report["exemption_kind"],
        "exemption_from": report["exemption_from"],
        "exemption_to": report["exemption_to"],
        "pension_code": report["pension_code"],
        "replaces_report_id": str(report["replaces_report_id"]) if report["replaces_report_id"] else None,
        "screening_outcome": report["screening_outcome"],
    }


def not_found_record(target: InquiryTarget, asked_on: date) -> dict[str, Any]:
    """照会回答の「該当なし」: the number asked about and nothing else."""
    return {
        "report_id": None,
        "report_kind": "not_found",
        "received_on": asked_on,
        "my_number": None,
        "basic_pension_number": target.basic_pension_number,
        "atena_number": target.atena_number,
        "name": None,
        "name_kana": None,
        "sex": None,
        "birth_date": None,
        "postal_code": None,
        "address": None,
        "insured_category": None,
        "acquired_on": None,
        "acquisition_reason": None,
        "lost_on": None,
        "loss_reason": None,
        "exemption_kind": None,
        "exemption_from": None,
        "exemption_to": None,
        "pension_code": None,
        "replaces_report_id": None,
        "screening_outcome": None,
    }


def counts_by_kind(payloads: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = Counter(str(p["report_kind"]) for p in payloads)
    return {kind: counts[kind] for kind in REPORT_KIND_LABELS if counts[kind]}


def manifest(
    *,
    batch_id: str,
    batch_kind: str,
    period: str,
    payloads: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
    plain_sha256: str,
    sealed_sha256: str,
    key_id: str,
    created_at: datetime,
) -> dict[str, Any]:
    """送付書の電子版: what the medium holds, without any personal data."""
    return {
        "batch_id": batch_id,
        "batch_kind": batch_kind,
        "period": period,
        "record_count": len(payloads),
        "counts_by_kind": counts_by_kind(payloads),
        "record_length": RECORD_LENGTH,
        "encoding": ENCODING,
        "fields": list(fields),
        "plain_sha256": plain_sha256,
        "sealed_sha256": sealed_sha256,
        "cipher": "AES-256-GCM",
        "key_id": key_id,
        "created_at": created_at.isoformat(),
    }
