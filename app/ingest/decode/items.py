"""Typed bulk decode of a JSON array, falling back to item-by-item only when something is off."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from msgspec import Raw

from app.ingest.types import PointError

T = TypeVar("T")

_raw_list = msgspec.json.Decoder(list[Raw])
_any_decoder = msgspec.json.Decoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


class NotAList(ValueError):
    pass


def decode_items(
    raw: Raw | bytes | None,
    kind: type[T],
    *,
    section: str,
    name: str | None,
    errors: list[PointError],
) -> tuple[list[T], list[int] | None, int]:
    """Decode ``raw`` (a JSON array) as ``list[kind]``.

    Returns (items, their indexes in the array or None when all decoded, received count). Items
    that do not fit ``kind`` are reported in ``errors`` with their index and left out.
    """
    if raw is None or (len(raw) <= 8 and bytes(raw).strip() == b"null"):
        return [], None, 0
    try:
        items: list[T] = _decoder(list[kind]).decode(raw)  # type: ignore[valid-type]
    except msgspec.ValidationError:
        pass
    else:
        return items, None, len(items)
    try:
        parts = _raw_list.decode(raw)
    except msgspec.ValidationError as exc:
        raise NotAList(decode_error_reason(exc)[1]) from None
    kept: list[T] = []
    indexes: list[int] = []
    one = _decoder(kind)
    for index, part in enumerate(parts):
        try:
            kept.append(one.decode(part))
        except msgspec.ValidationError as exc:
            field_name, reason = decode_error_reason(exc)
            errors.append(PointError(section, name, index, field_name, reason))
        else:
            indexes.append(index)
    return kept, indexes, len(parts)


def decode_any(raw: Raw | bytes) -> Any:
    return _any_decoder.decode(raw)


def decode_error_reason(exc: Exception) -> tuple[str | None, str]:
    """(field, reason) from a msgspec validation error such as 'Expected `float`... - at `$.qty`'."""
    message = str(exc)
    field_name = None
    marker = " - at `$."
    if marker in message:
        message, _, path = message.partition(marker)
        field_name = path.rstrip("`")
    return field_name, message
