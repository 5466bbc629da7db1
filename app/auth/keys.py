"""API key format and hashing.

A key reads ``hae_<key id>_<secret>``: a fixed prefix and shape so secret scanners can recognise a
leaked one, a public 12-character key id used for lookup, and a 256-bit random secret. Only an
Argon2id hash of the secret is stored.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PREFIX = "hae"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KEY_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
KEY_PATTERN = re.compile(r"hae_([0-9a-z]{12})_([0-9A-Za-z]{43})")

# Argon2id at argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4): above the OWASP
# minimum (t=2, m=19 MiB, p=1).
hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16)


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"


def _base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def generate() -> NewKey:
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(12))
    return NewKey(key_id=key_id, secret=_base62(secrets.token_bytes(32), 43))


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(token.strip())
    if match is None:
        return None
    return match.group(1), match.group(2)


def hash_secret(secret: str) -> str:
    return hasher.hash(secret)


# Verifying against this when a key id is unknown makes that path cost the same as a wrong
# secret, so response timing does not reveal which key ids exist.
DUMMY_HASH = hash_secret(_base62(b"\x00" * 32, 43))


def verify(secret_hash: str, secret: str) -> bool:
    try:
        return hasher.verify(secret_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
