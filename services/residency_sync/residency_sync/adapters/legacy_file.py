"""The legacy file feed (連携基盤のファイル連携): full and daily differential extracts as CSV, in UTF-8 or in
Shift_JIS / CP932 as Japanese municipal systems still write them.

One header row names the columns (``COLUMNS``, the ＜宛名＞ of 別添2 plus the change's 異動事由, 異動番号,
取消対象異動番号, 異動日 and 処理日); every later line is one resident. Two readers:

- ``change_from_row``: a differential line as a ``ResidentChanged`` (the contract model, fully validated);
- ``FullRowReader``: a full-extract line as flat staging values, checked by hand and sealed with cached keys,
  because a city's full extract is a million lines and the pydantic model costs more than the database.

Both reject a bad line with ``RowRejected`` naming the column and the rule, never the value.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import os
import re
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from operator import mul
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from kokunen_common.crypto import MyNumberVault
from kokunen_common.errors import describe_validation_error
from kokunen_contracts.residency import (
    CHANGE_REASON_JA,
    ChangeReason,
    ResidentChanged,
    ResidentClass,
)
from pydantic import ValidationError

from ..domain.changes import snapshot_flags

COLUMNS = (
    "異動事由",
    "異動番号",
    "取消対象異動番号",
    "異動日",
    "処理日",
    "宛名番号",
    "個人番号",
    "世帯番号",
    "氏名",
    "氏名カナ",
    "旧氏",
    "生年月日",
    "性別",
    "続柄",
    "住民区分",
    "世帯主宛名番号",
    "世帯主氏名",
    "住民となった事由",
    "住民となった年月日",
    "現住所",
    "現住所郵便番号",
    "現住所区",
    "現住所団体コード",
    "前住所",
    "転入元住所",
    "転入元国",
    "転出先住所",
    "転出先国",
    "筆頭者",
    "消除事由",
    "消除日",
    "国籍",
    "通称",
    "処理停止事由",
    "在留資格",
    "在留期間満了日",
)
C = {name: i for i, name in enumerate(COLUMNS)}
WIDTH = len(COLUMNS)

_UNIQUE_JA: dict[str, list[ChangeReason]] = {}
for _reason, _label in CHANGE_REASON_JA.items():
    _UNIQUE_JA.setdefault(_label, []).append(_reason)
REASON_CODES: dict[str, ChangeReason] = {r.value: r for r in ChangeReason}
REASON_CODES.update({label: reasons[0] for label, reasons in _UNIQUE_JA.items() if len(reasons) == 1})
# 帰化 and 国籍喪失 are each a 消除 and a 記載 of the same person: the file says which half.
REASON_CODES.update(
    {
        "帰化(記載)": ChangeReason.NATURALISATION_ENTRY,
        "帰化(消除)": ChangeReason.NATURALISATION_REMOVAL,
        "国籍喪失(記載)": ChangeReason.NATIONALITY_LOSS_ENTRY,
        "国籍喪失(消除)": ChangeReason.NATIONALITY_LOSS_REMOVAL,
    }
)
SEX_CODES = {"男": "male", "女": "female", "1": "male", "2": "female", "male": "male", "female": "female"}
CLASS_CODES = {
    "日本人住民": "japanese",
    "外国人住民": "foreign",
    "住登外者": "non_resident",
    **{c.value: c.value for c in ResidentClass},
}
SAITAMA_WARD = re.compile(r"^埼玉県さいたま市")
_DIGITS = re.compile(r"[0-9]{1,15}")
_MY_NUMBER = re.compile(r"[0-9]{12}")
_POSTAL = re.compile(r"[0-9]{3}-?[0-9]{4}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LG_CODE = re.compile(r"[0-9]{6}")
# Bytes the declared encoding could not decode (surrogateescape), and NUL, which PostgreSQL text cannot hold.
_BROKEN = re.compile("[\x00\udc80-\udcff]")


class RowRejected(ValueError):
    """A line of an extract that cannot be used; the message names the column and rule, never the value."""


class FileRejected(ValueError):
    """A whole file that cannot be read (no header, an encoding that is neither UTF-8 nor CP932)."""


# --- reading --------------------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """UTF-8 (with or without BOM) when the first MiB decodes as UTF-8, else CP932 (the Windows superset
    of Shift_JIS) when it decodes as that; anything else is refused."""
    with path.open("rb") as f:
        sample = f.read(sample_bytes)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if b"\x00" in sample:  # UTF-16/32 or binary: CP932 would decode it into nonsense
        raise FileRejected("文字コードを判別できません (NUL bytes: UTF-16 or binary, not UTF-8 nor Shift_JIS/CP932)")
    for encoding in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=len(sample) < sample_bytes)
        except UnicodeDecodeError:
            continue
        return encoding
    raise FileRejected("文字コードを判別できません (neither UTF-8 nor Shift_JIS/CP932)")


def normalise_encoding(name: str) -> str:
    lowered = name.lower().replace("_", "-")
    if lowered in ("sjis", "shift-jis", "shiftjis", "cp932", "ms932", "windows-31j"):
        return "cp932"  # Shift_JIS files from Windows-based systems use the CP932 extensions (①, ㈱, 髙)
    if lowered in ("utf8", "utf-8"):
        return "utf-8"
    if lowered in ("utf-8-sig",):
        return "utf-8-sig"
    raise FileRejected(f"unsupported encoding {name!r}: use utf-8 or cp932 (Shift_JIS)")


def read_rows(stream: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every data line; checks the header first."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise FileRejected("空のファイルです (the file is empty)")
    if [h.strip() for h in header] != list(COLUMNS):
        missing = [c for c in COLUMNS if c not in header]
        raise FileRejected(f"見出し行が不正です (header does not match the layout; missing: {', '.join(missing)})")
    for fields in reader:
        if fields:
            yield reader.line_num, fields


def open_text(path: Path, encoding: str) -> IO[str]:
    # surrogateescape: a line the encoding cannot decode is rejected by itself (``_BROKEN``), not the file.
    return path.open("r", encoding=encoding, errors="surrogateescape", newline="")


def check_shape(fields: list[str]) -> None:
    if len(fields) != WIDTH:
        raise RowRejected(f"項目数が不正です (expected {WIDTH} columns, got {len(fields)})")
    if _BROKEN.search("\x1f".join(fields)):  # one search per line, not one per field
        raise RowRejected("文字コードが不正です (line is not valid in the file's encoding)")


# --- one line as a contract event (differential extracts) ------------------------------------------


_DATES: dict[str, date] = {}


def parse_date(value: str, column: str) -> date:
    # A city's dates repeat (some 35,000 birth dates for a million people): parse each text once.
    known = _DATES.get(value)
    if known is not None:
        return known
    text = value.strip().replace("/", "-")
    try:
        if len(text) == 8 and text.isdigit():
            parsed = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        else:
            parsed = date.fromisoformat(text)
    except ValueError:
        raise RowRejected(f"{column}: 日付が不正です (not a valid date, YYYY-MM-DD or YYYYMMDD)") from None
    if len(_DATES) > 200_000:
        _DATES.clear()
    _DATES[value] = parsed
    return parsed


def derived_hex(cause: bytes, name: str) -> tuple[bytes, str]:
    """``kokunen_common.ids.derived_id`` (UUID v5) as raw bytes and hex text, without building UUID objects:
    the bulk path needs two per line."""
    return _uuid5_of(hashlib.sha1(cause + name.encode()))  # noqa: S324 (UUID v5 is SHA-1)


def _uuid5_of(sha1: Any) -> tuple[bytes, str]:
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    raw = bytes(digest)
    return raw, raw.hex()


def _opt(value: str) -> str | None:
    value = value.strip()
    return value or None


def _opt_date(value: str, column: str) -> date | None:
    return parse_date(value, column) if value.strip() else None


def _address(text: str, country: str | None = None, **extra: Any) -> dict[str, Any] | None:
    text = text.strip()
    if not text:
        return None
    address: dict[str, Any] = {"text": text, **{k: v for k, v in extra.items() if v}}
    if country:
        address["country_code"] = country
    elif SAITAMA_WARD.match(text):
        address.update(prefecture="埼玉県", municipality="さいたま市")
    return address


def reason_of(code: str, column: str = "異動事由") -> ChangeReason:
    try:
        return REASON_CODES[code.strip()]
    except KeyError:
        raise RowRejected(f"{column}: 未知のコードです (unknown reason code)") from None


def record_dict(f: list[str]) -> dict[str, Any]:
    """The ＜宛名＞ of a line as the contract's ``ResidentRecord`` input."""
    removal_reason = _opt(f[C["消除事由"]])
    became = _opt(f[C["住民となった事由"]])
    householder = _opt(f[C["世帯主氏名"]])
    status = _opt(f[C["在留資格"]])
    suspension = _opt(f[C["処理停止事由"]])
    return {
        "atena_number": f[C["宛名番号"]].strip(),
        "my_number": _opt(f[C["個人番号"]]),
        "household_number": f[C["世帯番号"]].strip(),
        "name": {
            "name": f[C["氏名"]].strip(),
            "kana": _opt(f[C["氏名カナ"]]),
            "former_surname": _opt(f[C["旧氏"]]),
        },
        "birth_date": parse_date(f[C["生年月日"]], "生年月日"),
        "sex": SEX_CODES.get(f[C["性別"]].strip(), f[C["性別"]].strip()),
        "relationship": f[C["続柄"]].strip(),
        "resident_class": CLASS_CODES.get(f[C["住民区分"]].strip(), f[C["住民区分"]].strip()),
        "householder": None
        if householder is None
        else {"atena_number": _opt(f[C["世帯主宛名番号"]]), "name": householder},
        "became_resident": None
        if became is None
        else {
            "reason": reason_of(became, "住民となった事由"),
            "on": parse_date(f[C["住民となった年月日"]], "住民となった年月日"),
        },
        "current_address": _address(
            f[C["現住所"]],
            postal_code=_opt(f[C["現住所郵便番号"]]),
            ward=_opt(f[C["現住所区"]]),
            local_government_code=_opt(f[C["現住所団体コード"]]),
        ),
        "previous_address": _address(f[C["前住所"]]),
        "moved_in_from": _address(f[C["転入元住所"]], _opt(f[C["転入元国"]])),
        "moved_out_to": _address(f[C["転出先住所"]], _opt(f[C["転出先国"]])),
        "family_register_head": _opt(f[C["筆頭者"]]),
        "removal": None
        if removal_reason is None
        else {"reason": reason_of(removal_reason, "消除事由"), "on": parse_date(f[C["消除日"]], "消除日")},
        "nationality": _opt(f[C["国籍"]]),
        "alias": _opt(f[C["通称"]]),
        "processing_suspension": None if suspension is None else {"suspended": True, "reason": suspension},
        "residence_status": None
        if status is None
        else {
            "status": status,
            "period_end": _opt_date(f[C["在留期間満了日"]], "在留期間満了日"),
        },
    }


def change_from_row(fields: list[str], *, event_id: uuid.UUID, recorded_at: datetime) -> ResidentChanged:
    """A differential line as the event the upstream would have published."""
    check_shape(fields)
    reason = reason_of(fields[C["異動事由"]])
    try:
        return ResidentChanged.model_validate(
            {
                "event_id": event_id,
                "effective_date": parse_date(fields[C["異動日"]], "異動日"),
                "recorded_at": recorded_at,
                "change_id": fields[C["異動番号"]].strip(),
                "reason": reason,
                "processed_on": parse_date(fields[C["処理日"]], "処理日"),
                "cancels_change_id": _opt(fields[C["取消対象異動番号"]]),
                "resident": record_dict(fields),
            }
        )
    except ValidationError as exc:
        raise RowRejected(describe_validation_error(exc)) from None


# --- one line as staging values (full extracts) ----------------------------------------------------

STAGING_COLUMNS = (
    "line",
    "event_id",
    "published_event_id",
    "change_id",
    "effective_date",
    "processed_on",
    "atena_number",
    "household_number",
    "name",
    "name_kana",
    "former_surname",
    "birth_date",
    "sex",
    "relationship",
    "resident_class",
    "householder_atena",
    "householder_name",
    "became_reason",
    "became_on",
    "address_text",
    "address_postal",
    "address_ward",
    "address_lg_code",
    "previous_address",
    "moved_in_from_text",
    "moved_in_from_country",
    "moved_out_to_text",
    "moved_out_to_country",
    "family_register_head",
    "removal_reason",
    "removal_on",
    "nationality",
    "alias",
    "suspension_reason",
    "residence_status",
    "residence_period_end",
    "my_number_sealed",
    "my_number_key_id",
    "my_number_hash",
    "is_resident",
    "lives_in_japan",
)


def my_number_is_valid(value: str) -> bool:
    """番号法施行令8条 check digit, unrolled: weights 6,5,4,3,2,7,6,5,4,3,2 on the 11 base digits from the left."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return False
    # Σ digit × weight in C (map), minus 48 × Σ weights (= 47 × 48) for the ASCII offset.
    r = (sum(map(mul, value[:11].encode(), _WEIGHTS)) - 2256) % 11
    return ord(value[11]) - 48 == (0 if r <= 1 else 11 - r)


_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


@dataclass
class FullRowReader:
    """Turns full-extract lines into staging tuples: hand-written checks equal to the contract's, My Number
    sealed (AES-256-GCM, 宛名番号 as associated data) and hashed with key objects built once."""

    vault: MyNumberVault
    import_id: uuid.UUID
    processed_on: date

    def __post_init__(self) -> None:
        self._key_id = self.vault.active_key_id
        self._aead = AESGCM(self.vault.keys[self._key_id])
        self._hash = hmac.new(self.vault.hash_key, digestmod="sha256")  # keyed once, copied per number
        self._import_sha1 = hashlib.sha1(self.import_id.bytes)  # noqa: S324 (UUID v5 is SHA-1)
        self._change_prefix = f"F{self.import_id.hex[:16]}-"
        self._nonces = b""
        self._nonce_at = 0

    def _nonce(self) -> bytes:
        # Fresh random nonces drawn from the OS a few thousand at a time: one system call per line cost more
        # than the encryption.
        if self._nonce_at >= len(self._nonces):
            self._nonces, self._nonce_at = os.urandom(12 * 4096), 0
        self._nonce_at += 12
        return self._nonces[self._nonce_at - 12 : self._nonce_at]

    def _seal(self, number: str, atena: str) -> str:
        nonce = self._nonce()
        body = self._aead.encrypt(nonce, number.encode("ascii"), atena.encode("ascii"))
        return f"{self._key_id}:{urlsafe_b64encode(nonce + body).rstrip(b'=').decode('ascii')}"

    def staged(self, line: int, f: list[str]) -> tuple[Any, ...]:
        check_shape(f)
        atena = f[5].strip()
        if not _DIGITS.fullmatch(atena):
            raise RowRejected("宛名番号: 半角数字1〜15桁です (1-15 ASCII digits)")
        household = f[7].strip()
        if not _DIGITS.fullmatch(household):
            raise RowRejected("世帯番号: 半角数字1〜15桁です (1-15 ASCII digits)")
        name = f[8].strip()
        if not name or len(name) > 200:
            raise RowRejected("氏名: 必須です (required, at most 200 characters)")
        birth = parse_date(f[11], "生年月日")
        sex = SEX_CODES.get(f[12].strip())
        if sex is None:
            raise RowRejected("性別: 未知のコードです (unknown sex code)")
        relationship = f[13].strip()
        if not relationship:
            raise RowRejected("続柄: 必須です (required)")
        resident_class = CLASS_CODES.get(f[14].strip())
        if resident_class is None:
            raise RowRejected("住民区分: 未知のコードです (unknown resident class)")
        address = f[19].strip()
        if not address:
            raise RowRejected("現住所: 必須です (required)")
        postal = f[20].strip() or None
        if postal is not None and not _POSTAL.fullmatch(postal):
            raise RowRejected("現住所郵便番号: 形式が不正です (NNN-NNNN)")
        lg_code = f[22].strip() or None
        if lg_code is not None and not _LG_CODE.fullmatch(lg_code):
            raise RowRejected("現住所団体コード: 6桁の数字です (6 digits)")
        became_reason = f[17].strip() or None
        became_on = None
        if became_reason is not None:
            became_reason = reason_of(became_reason, "住民となった事由").value
            became_on = parse_date(f[18], "住民となった年月日")
        removal_reason = f[29].strip() or None
        removal_on = None
        if removal_reason is not None:
            removal_reason = reason_of(removal_reason, "消除事由").value
            removal_on = parse_date(f[30], "消除日")
        in_country = f[25].strip() or None
        out_country = f[27].strip() or None
        nationality = f[31].strip() or None
        for value, column in ((in_country, "転入元国"), (out_country, "転出先国"), (nationality, "国籍")):
            if value is not None and not _COUNTRY.fullmatch(value):
                raise RowRejected(f"{column}: ISO 3166-1 alpha-2 です (two capital letters)")
        status = f[34].strip() or None
        period_end = parse_date(f[35], "在留期間満了日") if status is not None and f[35].strip() else None
        effective = parse_date(f[3], "異動日") if f[3].strip() else (became_on or self.processed_on)
        if birth > effective:
            raise RowRejected("生年月日: 異動日より後です (birth date after the effective date)")
        number = f[6].strip()
        sealed = key_id = digest = None
        if number:
            if not my_number_is_valid(number):
                raise RowRejected("個人番号: 12桁で検査用数字が一致すること (12 digits with a valid check digit)")
            sealed = self._seal(number, atena)
            key_id = self._key_id
            keyed = self._hash.copy()
            keyed.update(number.encode("ascii"))
            digest = keyed.digest()
        is_resident, lives_in_japan = snapshot_flags(removal_reason)
        event_sha1 = self._import_sha1.copy()
        event_sha1.update(str(line).encode())
        event_raw, event_hex = _uuid5_of(event_sha1)
        return (
            line,
            event_hex,
            derived_hex(event_raw, "person-changed")[1],
            f"{self._change_prefix}{line}",
            effective,
            self.processed_on,
            atena,
            household,
            name,
            f[9].strip() or None,
            f[10].strip() or None,
            birth,
            sex,
            relationship,
            resident_class,
            f[15].strip() or None,
            f[16].strip() or None,
            became_reason,
            became_on,
            address,
            postal,
            f[21].strip() or None,
            lg_code,
            f[23].strip() or None,
            f[24].strip() or None,
            in_country,
            f[26].strip() or None,
            out_country,
            f[28].strip() or None,
            removal_reason,
            removal_on,
            nationality,
            f[32].strip() or None,
            f[33].strip() or None,
            status,
            period_end,
            sealed,
            key_id,
            digest,
            is_resident,
            lives_in_japan,
        )
