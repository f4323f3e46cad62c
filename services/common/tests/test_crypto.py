"""My Number at rest: AES-256-GCM with key ids (rotation), bound to the person; a keyed lookup hash."""

from __future__ import annotations

import base64
import os

import pytest
from kokunen_common.crypto import KeyConfigurationError, MyNumberVault, SealError
from kokunen_contracts.identifiers import MyNumber

NUMBER = MyNumber("123456789018")


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def vault(keys: str, active: str) -> MyNumberVault:
    return MyNumberVault.from_config(keys, active, HASH_KEY)


HASH_KEY = key()
K1, K2 = key(), key()


def test_a_sealed_number_opens_for_the_same_person_only() -> None:
    v = vault(f"k1:{K1}", "k1")
    sealed = v.seal(NUMBER, "0001234567")
    assert "123456789018" not in sealed
    assert sealed.startswith("k1:")
    assert v.open(sealed, "0001234567") == NUMBER
    with pytest.raises(SealError, match="does not open for this person"):
        v.open(sealed, "0009999999")


def test_sealing_twice_gives_different_ciphertexts() -> None:
    v = vault(f"k1:{K1}", "k1")
    assert v.seal(NUMBER, "1") != v.seal(NUMBER, "1")


def test_keys_rotate_old_seals_still_open_new_seals_use_the_active_key() -> None:
    old = vault(f"k1:{K1}", "k1").seal(NUMBER, "42")
    rotated = vault(f"k1:{K1},k2:{K2}", "k2")
    assert rotated.open(old, "42") == NUMBER
    assert rotated.key_id_of(rotated.seal(NUMBER, "42")) == "k2"
    retired = vault(f"k2:{K2}", "k2")
    with pytest.raises(SealError, match="unknown key id"):
        retired.open(old, "42")


def test_a_tampered_seal_does_not_open() -> None:
    v = vault(f"k1:{K1}", "k1")
    sealed = v.seal(NUMBER, "7")
    key_id, body = sealed.split(":")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SealError):
        v.open(f"{key_id}:{flipped}", "7")


def test_the_lookup_hash_is_stable_and_depends_on_the_key() -> None:
    a = MyNumberVault.from_config(f"k1:{K1}", "k1", HASH_KEY)
    b = MyNumberVault.from_config(f"k1:{K1}", "k1", key())
    assert a.lookup_hash(NUMBER) == a.lookup_hash(MyNumber("123456789018"))
    assert a.lookup_hash(NUMBER) != b.lookup_hash(NUMBER)
    assert a.lookup_hash(NUMBER) != a.lookup_hash(MyNumber("000000000019"))


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ("k1", "k1", "<key id>:<base64 key>"),
        ("k1:!!notbase64!!", "k1", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "k1", "32 bytes"),
        (f"k1:{K1}", "k9", "active My Number key id"),
    ],
)
def test_bad_key_configuration_is_refused_without_echoing_key_material(keys: str, active: str, message: str) -> None:
    with pytest.raises(KeyConfigurationError, match=message) as caught:
        vault(keys, active)
    assert K1 not in str(caught.value)
