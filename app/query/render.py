"""Rendering of read results: content negotiation, CSV, JSON bytes, ``Link`` headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
from fastapi import Request, Response

from app.query.cache import JsonValue

CSV = "text/csv"
JSON = "application/json"
_encoder = msgspec.json.Encoder()


def negotiate(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type the ``Accept`` header prefers (q-values honoured); the first
    offered one for a missing header, ``*/*`` or nothing acceptable."""
    if not accept:
        return offered[0]
    best, best_q = offered[0], -1.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        for rank, candidate in enumerate(offered):
            specific = media == candidate
            wildcard = media == "*/*" or (media.endswith("/*") and candidate.startswith(media[:-1]))
            if not (specific or wildcard) or q <= 0:
                continue
            # Prefer higher q, then an exact match over a wildcard, then the server's order.
            score = q + (0.001 if specific else 0.0) - rank * 1e-6
            if score > best_q:
                best, best_q = candidate, score
    return best


def json_bytes(value: object) -> bytes:
    return _encoder.encode(value)


def csv_text(page: Mapping[str, JsonValue]) -> str:
    """A page's ``columns`` as a header row, then one row per item of ``items``; nested values as
    JSON, None as an empty cell."""
    columns = page.get("columns")
    items = page.get("items")
    if not isinstance(columns, list) or not isinstance(items, list):
        raise TypeError("not a page with columns and items")
    names = [str(c) for c in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for item in items:
        if isinstance(item, Mapping):
            writer.writerow([_cell(item.get(column)) for column in names])
    return out.getvalue()


def _cell(value: JsonValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value) if not isinstance(value, float) else repr(value)
    return _encoder.encode(value).decode()


def next_link(url: str, cursor: str) -> str:
    """``<url with cursor=...>; rel="next"`` for a ``Link`` header."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "cursor"]
    query.append(("cursor", cursor))
    target = urlunsplit(("", "", parts.path, urlencode(query), ""))
    return f'<{target}>; rel="next"'


def json_response(body: object, request: Request) -> Response:
    """``body`` as JSON; a ``Link`` to the next page when it carries a ``next_cursor``."""
    response = Response(json_bytes(body), media_type=JSON)
    link_next_page(response, body, request)
    return response


def link_next_page(response: Response, body: object, request: Request) -> None:
    next_cursor = body.get("next_cursor") if isinstance(body, Mapping) else None
    if isinstance(next_cursor, str):
        response.headers["Link"] = next_link(str(request.url), next_cursor)
