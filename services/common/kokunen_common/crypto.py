"""My Number at rest and in transit between our services: AES-256-GCM with key ids, and a keyed hash.

- ``seal``/``open`` give ``<key id>:<base64url(nonce ‖ ciphertext+tag)>``; the 宛名番号 is bound as
  associated data, so a sealed number copied onto another person's record does not open.
- Several keys may be configured; new seals use the active one and old ones still open, so keys
  rotate without a flag day (re-seal in the background, then retire the old key).
- ``lookup_hash`` is HMAC-SHA256 with a separate key: equality search without decrypting, and
  useless to anyone without the key (a plain hash of 10^11 possible numbers is not).
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from kokunen_contracts.identifiers import MyNumber

_NONCE_BYTES = 12


class KeyConfigurationError(ValueError):
    """The My Number keys are missing or malformed (the message names no key material)."""


class SealError(ValueError):
    """A sealed My Number does not open: wrong key id, wrong person, or tampered."""


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class MyNumberVault:
    keys: dict[str, bytes]
    active_key_id: str
    hash_key: bytes
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.active_key_id not in self.keys:
            raise KeyConfigurationError("the active My Number key id is not among the configured keys")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise KeyConfigurationError(f"My Number key {key_id!r} must be 32 bytes (AES-256)")
            if ":" in key_id or not key_id:
                raise KeyConfigurationError("a key id must be non-empty and contain no ':'")
        if len(self.hash_key) < 32:
            raise KeyConfigurationError("the My Number hash key must be at least 32 bytes")
        # Cipher objects built once: building an AESGCM per call cost more than the encryption (bulk loads).
        object.__setattr__(self, "_ciphers", {key_id: AESGCM(key) for key_id, key in self.keys.items()})

    @classmethod
    def from_config(cls, keys: str, active_key_id: str | None, hash_key: str) -> MyNumberVault:
        parsed: dict[str, bytes] = {}
        for item in keys.split(","):
            key_id, sep, material = item.strip().partition(":")
            if not sep:
                raise KeyConfigurationError("MYNUMBER_KEYS entries are <key id>:<base64 key>")
            try:
                parsed[key_id] = base64.b64decode(material, validate=True)
            except ValueError:
                raise KeyConfigurationError(f"My Number key {key_id!r} is not valid base64") from None
        try:
            hash_bytes = base64.b64decode(hash_key, validate=True)
        except ValueError:
            raise KeyConfigurationError("MYNUMBER_HASH_KEY is not valid base64") from None
        return cls(keys=parsed, active_key_id=active_key_id or next(iter(parsed)), hash_key=hash_bytes)

    def seal(self, number: MyNumber, atena_number: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.active_key_id].encrypt(
            nonce, number.reveal().encode("ascii"), atena_number.encode("ascii")
        )
        return f"{self.active_key_id}:{_b64encode(nonce + sealed)}"

    def open(self, sealed: str, atena_number: str) -> MyNumber:
        key_id, sep, body = sealed.partition(":")
        if not sep or key_id not in self.keys:
            raise SealError("sealed My Number names an unknown key id")
        raw = _b64decode(body)
        try:
            clear = self._ciphers[key_id].decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], atena_number.encode("ascii"))
        except InvalidTag:
            raise SealError("sealed My Number does not open for this person (wrong key or tampered)") from None
        return MyNumber(clear.decode("ascii"))

    def key_id_of(self, sealed: str) -> str:
        return sealed.partition(":")[0]

    def lookup_hash(self, number: MyNumber) -> bytes:
        return hmac.digest(self.hash_key, number.reveal().encode("ascii"), "sha256")


def generate_key() -> str:
    """A fresh base64 key (for operators: ``kokunen-admin keys new``)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")
