"""The stages agree on what a body holds."""

from __future__ import annotations

from app.ingest.decode import envelope
from app.ingest.normalise import events


def test_every_event_section_the_envelope_knows_has_its_normaliser() -> None:
    assert tuple(events.SECTIONS) == envelope.EVENT_SECTIONS
