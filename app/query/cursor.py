"""Opaque page cursors: base64url of a small JSON document.

``{"k": kind, "f": fingerprint, "v": [sort key of the last item]}``. The fingerprint binds the
cursor to the query it came from (metric, bucket, time zone, filters): reused with other
parameters it is refused, instead of silently skipping or repeating rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import msgspec

from app.query.errors import InvalidQuery

_MAX_LENGTH = 2048


def fingerprint(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(kind: str, query: str, values: list[Any]) -> str:
    raw = msgspec.json.encode({"k": kind, "f": query, "v": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str | None, kind: str, query: str) -> list[Any] | None:
    if token is None or token == "":
        return None
    if len(token) > _MAX_LENGTH:
        raise InvalidQuery("`cursor` is not a cursor of this query", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidQuery("`cursor` is not a cursor of this query", field="cursor") from None
    if (
        not isinstance(doc, dict)
        or doc.get("k") != kind
        or doc.get("f") != query
        or not isinstance(doc.get("v"), list)
        or any(isinstance(v, str) and "\x00" in v for v in doc["v"])
    ):
        raise InvalidQuery("`cursor` is not a cursor of this query", field="cursor")
    values: list[Any] = doc["v"]
    return values
