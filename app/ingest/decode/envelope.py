"""The envelope: ``{"data": {"metrics": [...], "workouts": [...], ...}}`` (or the bare inner
object, as some tools save it) into its sections, each left undecoded for its normaliser."""

from __future__ import annotations

import re

import msgspec

from app.errors import InvalidEnvelope, MalformedPayload
from app.ingest.types import Envelope

# The sections of the format (each normalised by its own module in ``normalise``).
EVENT_SECTIONS = (
    "symptoms",
    "ecg",
    "heartRateNotifications",
    "stateOfMind",
    "medications",
    "cycleTracking",
)
SECTIONS = ("metrics", "workouts", *EVENT_SECTIONS)
_top_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
# A JSON \u0000 escape not itself escaped (an odd run of backslashes before the "u").
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
# A surrogate escape: a high one with the low one that completes it, or either alone.
_SURROGATE_ESCAPE = re.compile(
    rb"(\\+)u(?:([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|[dD][c-fC-F][0-9a-fA-F]{2})"
)
NUL_WARNING = (
    "NUL characters (\\u0000) replaced by U+FFFD: PostgreSQL text cannot hold them;"
    " the raw body keeps the original"
)
SURROGATE_WARNING = (
    "unpaired UTF-16 surrogate escapes replaced by U+FFFD: they encode no character;"
    " the raw body keeps the original"
)


def decode(body: bytes) -> Envelope:
    """The body's sections, or MalformedPayload (not JSON) / InvalidEnvelope (not our shape)."""
    body, replaced_nul = _without_nul(body)
    body, replaced_surrogates = _without_lone_surrogates(body)
    try:
        top = _top_decoder.decode(body)
    except RecursionError:
        # msgspec's C decoder stops at the interpreter's recursion limit (~1000 levels) and
        # raises; HAE bodies nest at most ~8 levels. (A byte-by-byte depth scan in Python
        # cost ~100 ns a byte: seconds on a backfill.)
        raise MalformedPayload("JSON nested too deeply", field="$") from None
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            raise InvalidEnvelope("the body must be a JSON object", field="$") from None
        raise MalformedPayload(str(exc), field="$") from None
    if "data" in top:
        try:
            sections = _top_decoder.decode(top["data"])
        except msgspec.ValidationError:
            raise InvalidEnvelope("`data` must be an object", field="data") from None
    elif any(key in top for key in SECTIONS):
        sections = top  # a bare {metrics, workouts, ...} object, as some tools save it
    else:
        raise InvalidEnvelope(
            'expected {"data": {"metrics": [...], "workouts": [...], ...}}', field="data"
        )
    warnings = [NUL_WARNING] * replaced_nul + [SURROGATE_WARNING] * replaced_surrogates
    return Envelope(sections, warnings)


def unknown_sections(envelope: Envelope) -> list[str]:
    """Top-level keys not understood (kept in the raw body, listed in the report)."""
    return sorted(k for k in envelope.sections if k not in SECTIONS)


def _without_nul(body: bytes) -> tuple[bytes, bool]:
    """The body with every NUL escape turned into U+FFFD (valid JSON, storable text)."""
    if b"\\u0000" not in body:  # the common case costs one C-speed scan
        return body, False
    replaced, count = _NUL_ESCAPE.subn(rb"\1\\ufffd", body)
    return replaced, count > 0


def _without_lone_surrogates(body: bytes) -> tuple[bytes, bool]:
    """The body with every unpaired surrogate escape (``\\udc80``) turned into U+FFFD: a
    phone's truncated emoji would otherwise make the whole body unreadable JSON."""
    if b"\\ud" not in body and b"\\uD" not in body:  # the common case: one C-speed scan each
        return body, False
    replaced = False

    def repair(match: re.Match[bytes]) -> bytes:
        nonlocal replaced
        slashes, high, low = match.group(1), match.group(2), match.group(3)
        if len(slashes) % 2 == 0 or (high is not None and low is not None):
            return match.group(0)  # an escaped backslash before "u", or a complete pair
        replaced = True
        return slashes + b"ufffd"

    return _SURROGATE_ESCAPE.sub(repair, body), replaced
