"""The electronic medium (電子媒体) of a 進達: the fixed-length file sealed with AES-256-GCM, written beside
its manifest and printed lists.

Sealed form: ``KJPS`` ‖ version (1 byte) ‖ key-id length (1 byte) ‖ key id ‖ nonce (12 bytes) ‖
ciphertext+tag. The prefix up to the nonce is the associated data, so the key id cannot be swapped.
The key (``JPS_MEDIUM_KEY`` = ``<key id>:<base64 32-byte key>``) is agreed with the pension office and is
not the key of My Number at rest: the medium leaves the city, the vault's keys do not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MAGIC = b"KJPS"
VERSION = 1
NONCE_BYTES = 12


class MediumError(ValueError):
    """The medium does not open: wrong key, tampered, or not a medium file."""


class JpsSettings(BaseSettings):
    """Settings of the JPS provision (read from the service's environment)."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", case_sensitive=False, use_attribute_docstrings=True
    )

    jps_medium_key: SecretStr | None = None
    """``<key id>:<base64 32-byte key>``: the AES-256-GCM key agreed with the pension office."""
    jps_output_dir: Path = Field(default=Path("jps-out"))
    """Where the media, manifests and printed lists are written."""
    jps_sender_code: str = "111007"
    """全国地方公共団体コード of the sending city (さいたま市), in the medium's header record."""
    jps_sender_name: str = "さいたま市長"
    """Sender printed on the 送付書."""
    jps_recipient: str = "日本年金機構 浦和年金事務所長"
    """Addressee printed on the 送付書."""


@dataclass(frozen=True)
class MediumKey:
    key_id: str
    key: bytes

    @classmethod
    def parse(cls, text: str) -> MediumKey:
        key_id, sep, material = text.strip().partition(":")
        if not sep or not key_id or len(key_id.encode()) > 255:
            raise MediumError("JPS_MEDIUM_KEY is <key id>:<base64 32-byte key>")
        try:
            key = base64.b64decode(material, validate=True)
        except ValueError:
            raise MediumError("JPS_MEDIUM_KEY's key is not valid base64") from None
        if len(key) != 32:
            raise MediumError("JPS_MEDIUM_KEY's key must be 32 bytes (AES-256)")
        return cls(key_id, key)

    @classmethod
    def from_settings(cls, settings: JpsSettings) -> MediumKey:
        if settings.jps_medium_key is None:
            raise MediumError("set JPS_MEDIUM_KEY (<key id>:<base64 32-byte key>) to write or read a JPS medium")
        return cls.parse(settings.jps_medium_key.get_secret_value())


def _prefix(key_id: str) -> bytes:
    encoded = key_id.encode()
    return MAGIC + bytes([VERSION, len(encoded)]) + encoded


def seal(plain: bytes, key: MediumKey) -> bytes:
    prefix = _prefix(key.key_id)
    nonce = os.urandom(NONCE_BYTES)
    return prefix + nonce + AESGCM(key.key).encrypt(nonce, plain, prefix)


def open_sealed(sealed: bytes, key: MediumKey) -> bytes:
    if not sealed.startswith(MAGIC) or len(sealed) < 6:
        raise MediumError("not a JPS medium file")
    if sealed[4] != VERSION:
        raise MediumError(f"medium version {sealed[4]} is not supported")
    length = sealed[5]
    key_id = sealed[6 : 6 + length].decode()
    if key_id != key.key_id:
        raise MediumError(f"the medium is sealed with key {key_id!r}, not {key.key_id!r}")
    prefix = sealed[: 6 + length]
    nonce = sealed[6 + length : 6 + length + NONCE_BYTES]
    try:
        return AESGCM(key.key).decrypt(nonce, sealed[6 + length + NONCE_BYTES :], prefix)
    except InvalidTag:
        raise MediumError("the medium does not open with this key (wrong key or tampered)") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class WrittenMedium:
    sealed: Path
    manifest: Path
    pdf: Path | None


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside, then rename: a reader never sees half a medium."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_medium(
    out_dir: Path, batch_id: str, sealed: bytes, manifest: dict[str, Any], pdf: bytes | None
) -> WrittenMedium:
    sealed_path = out_dir / f"{batch_id}.dat.enc"
    manifest_path = out_dir / f"{batch_id}.manifest.json"
    write_atomically(sealed_path, sealed)
    write_atomically(manifest_path, (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode())
    pdf_path = None
    if pdf is not None:
        pdf_path = out_dir / f"{batch_id}.pdf"
        write_atomically(pdf_path, pdf)
    return WrittenMedium(sealed_path, manifest_path, pdf_path)
