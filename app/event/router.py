"""Read API of the event sections and HRV beat-to-beat (scope ``read``, always the key's own
user); thin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.auth.dependencies import ReaderDep
from app.errors import KEYED_ROUTE_ERRORS, NotFound, problem_responses
from app.event import specs
from app.event.schemas import DoseDays, EcgRecording, EventPage, HrvPage, MoodDays
from app.event.service import MAX_FILTER_LENGTH, MAX_LIMIT, MAX_VOLTAGES, EventRead, EventService
from app.event.specs import EventSpec
from app.query import render
from app.query.dependencies import CacheDep, EngineDep
from app.query.errors import InvalidQuery

router = APIRouter(prefix="/v1", tags=["events"])

_ERRORS = problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS)
_FROM = (
    "Inclusive, on the event's start. A date-time with offset is an instant; a date or a"
    " date-time without offset is local time (in `tz`, else in each event's recorded offset)."
)
_TZ = (
    "IANA time zone for local bounds, times and days. Without it, a day is the local day of the"
    " offset each event was recorded in."
)


async def get_event_service(engine: EngineDep, cache: CacheDep) -> EventService:
    return EventService(engine, cache)


ServiceDep = Annotated[EventService, Depends(get_event_service)]


def _match(description: str) -> object:
    return Query(
        max_length=MAX_FILTER_LENGTH,
        description=f"{description} Case-insensitive exact match on the stored value.",
    )


@dataclass(frozen=True, slots=True)
class Paging:
    cursor: str | None
    limit: int


async def paging(
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Paging:
    return Paging(cursor, limit)


@dataclass(frozen=True, slots=True)
class EventWindow:
    """What every list and daily route shares: whose events, through which service, over which
    time range; a route adds its own filters (and paging) and names its section."""

    user_id: int
    service: EventService
    request: Request
    start: str | None
    to: str | None
    tz: str | None

    def read(
        self,
        filters: Mapping[str, str | None],
        paging: Paging | None = None,
        conditions: tuple[str, ...] = (),
    ) -> EventRead:
        """The read as sent; without paging, the service's defaults (daily summaries)."""
        read = EventRead(
            user_id=self.user_id,
            start=self.start,
            end=self.to,
            tz=self.tz,
            filters=filters,
            conditions=conditions,
        )
        return read if paging is None else replace(read, page=paging.cursor, limit=paging.limit)

    async def page(
        self,
        spec: EventSpec,
        filters: Mapping[str, str | None],
        paging: Paging,
        conditions: tuple[str, ...] = (),
    ) -> Response:
        """One page of the section ``spec``, as the JSON response (with its ``Link``)."""
        body = await self.service.page(spec, self.read(filters, paging, conditions))
        return render.json_response(body, self.request)


async def event_window(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: Annotated[str | None, Query(alias="from", description=_FROM)] = None,
    to: Annotated[str | None, Query(description="Exclusive; same forms as `from`.")] = None,
    tz: Annotated[str | None, Query(description=_TZ)] = None,
) -> EventWindow:
    return EventWindow(principal.user_id, service, request, start, to, tz)


WindowDep = Annotated[EventWindow, Depends(event_window)]
PagingDep = Annotated[Paging, Depends(paging)]


@router.get("/symptoms", response_model=EventPage, responses=_ERRORS)
async def list_symptoms(
    window: WindowDep,
    paging: PagingDep,
    name: Annotated[str | None, _match("Symptom name, e.g. `Headache`.")] = None,
    severity: Annotated[str | None, _match("Severity, e.g. `Mild`.")] = None,
) -> Response:
    """Symptoms logged, oldest first; by time, name and severity."""
    return await window.page(specs.SYMPTOMS, {"name": name, "severity": severity}, paging)


@router.get("/state-of-mind", response_model=EventPage, responses=_ERRORS)
async def list_state_of_mind(
    window: WindowDep,
    paging: PagingDep,
    kind: Annotated[str | None, _match("`momentary_emotion` or `daily_mood`.")] = None,
    label: Annotated[str | None, _match("Entries carrying this label.")] = None,
    association: Annotated[str | None, _match("Entries carrying this association.")] = None,
) -> Response:
    """State-of-mind entries (valence, labels, associations), oldest first."""
    filters = {"kind": kind, "label": label, "association": association}
    return await window.page(specs.STATE_OF_MIND, filters, paging)


@router.get("/state-of-mind/daily", response_model=MoodDays, responses=_ERRORS)
async def state_of_mind_daily(
    window: WindowDep,
    kind: Annotated[str | None, _match("Only entries of this kind.")] = None,
) -> Response:
    """Per local day: entries and average valence, overall and per kind."""
    read = window.read({"kind": kind})
    body = await window.service.state_of_mind_daily(specs.STATE_OF_MIND, read)
    return render.json_response(body, window.request)


@router.get("/medications", response_model=EventPage, responses=_ERRORS)
async def list_medications(
    window: WindowDep,
    paging: PagingDep,
    name: Annotated[str | None, _match("Display text or nickname.")] = None,
    status: Annotated[str | None, _match("Dose status, e.g. `Taken`, `Skipped`.")] = None,
) -> Response:
    """Logged medication doses, oldest first; by time, medication and status."""
    return await window.page(specs.MEDICATIONS, {"name": name, "status": status}, paging)


@router.get("/medications/daily", response_model=DoseDays, responses=_ERRORS)
async def medications_daily(
    window: WindowDep,
    name: Annotated[str | None, _match("Display text or nickname.")] = None,
) -> Response:
    """Per local day (of the dose's logged time) and medication: taken, skipped, other."""
    read = window.read({"name": name})
    body = await window.service.medications_daily(specs.MEDICATIONS, read)
    return render.json_response(body, window.request)


@router.get("/ecg", response_model=EventPage, responses=_ERRORS)
async def list_ecg(
    window: WindowDep,
    paging: PagingDep,
    classification: Annotated[str | None, _match("E.g. `Sinus Rhythm`.")] = None,
) -> Response:
    """ECG recordings without their voltages (read one by its `id` for those), oldest first."""
    return await window.page(specs.ECG, {"classification": classification}, paging)


@router.get(
    "/ecg/{ecg_id}",
    response_model=EcgRecording,
    responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS, NotFound),
)
async def get_ecg(
    ecg_id: Annotated[str, Path(max_length=512, description="`id` from /v1/ecg.")],
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="First sample.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_VOLTAGES, description="Samples.")] = MAX_VOLTAGES,
) -> Response:
    """One ECG recording with a window of its voltage samples (`next_offset` reads on)."""
    body = await service.ecg(principal.user_id, ecg_id, offset=offset, limit=limit)
    return render.json_response(body, request)


@router.get("/heart-rate-notifications", response_model=EventPage, responses=_ERRORS)
async def list_heart_rate_notifications(
    window: WindowDep,
    paging: PagingDep,
    kind: Annotated[str | None, _match("E.g. `high_heart_rate_notification`.")] = None,
) -> Response:
    """High, low and irregular heart-rate notifications with their series, oldest first."""
    return await window.page(specs.HEART_RATE_NOTIFICATIONS, {"kind": kind}, paging)


@router.get("/cycle-tracking", response_model=EventPage, responses=_ERRORS)
async def list_cycle_tracking(
    window: WindowDep,
    paging: PagingDep,
    kind: Annotated[str | None, _match("E.g. `Menstrual Flow`.")] = None,
) -> Response:
    """Cycle-tracking events (flow, cycle starts, sexual activity...), oldest first."""
    return await window.page(specs.CYCLE_TRACKING, {"kind": kind}, paging)


@router.get("/hrv", response_model=HrvPage, responses=_ERRORS)
async def list_hrv(
    window: WindowDep,
    paging: PagingDep,
    source: Annotated[str | None, _match("Only points of this source.")] = None,
    with_beats: Annotated[
        bool, Query(description="Only points that carry a beat-to-beat series.")
    ] = False,
) -> Response:
    """Heart-rate-variability points (ms) with their beat-to-beat series, oldest first."""
    conditions = ("with_beats",) if with_beats else ()
    return await window.page(specs.HRV, {"source": source}, paging, conditions)
