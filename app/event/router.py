"""Read API of the event sections and HRV beat-to-beat (scope ``read``, always the key's own
user); thin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.auth.dependencies import ReaderDep
from app.errors import KEYED_ROUTE_ERRORS, NotFound, problem_responses
from app.event import specs
from app.event.schemas import DoseDays, EcgRecording, EventPage, HrvPage, MoodDays
from app.event.service import MAX_FILTER_LENGTH, MAX_LIMIT, MAX_VOLTAGES, EventRead, EventService
from app.query import render
from app.query.cache import Json
from app.query.dependencies import CacheDep, EngineDep
from app.query.errors import InvalidQuery

router = APIRouter(prefix="/v1", tags=["events"])

_ERRORS = problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS)


async def get_event_service(engine: EngineDep, cache: CacheDep) -> EventService:
    return EventService(engine, cache)


ServiceDep = Annotated[EventService, Depends(get_event_service)]
From = Annotated[
    str | None,
    Query(
        alias="from",
        description="Inclusive, on the event's start. A date-time with offset is an instant; a"
        " date or a date-time without offset is local time (in `tz`, else in each event's"
        " recorded offset).",
    ),
]
To = Annotated[str | None, Query(description="Exclusive; same forms as `from`.")]
Tz = Annotated[
    str | None,
    Query(
        description="IANA time zone for local bounds, times and days. Without it, a day is the"
        " local day of the offset each event was recorded in."
    ),
]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _match(description: str) -> object:
    return Query(
        max_length=MAX_FILTER_LENGTH,
        description=f"{description} Case-insensitive exact match on the stored value.",
    )


def _json(body: Json, request: Request) -> Response:
    response = Response(render.json_bytes(body), media_type=render.JSON)
    next_cursor = body.get("next_cursor")
    if isinstance(next_cursor, str):
        response.headers["Link"] = render.next_link(str(request.url), next_cursor)
    return response


@router.get("/symptoms", response_model=EventPage, responses=_ERRORS)
async def list_symptoms(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    name: Annotated[str | None, _match("Symptom name, e.g. `Headache`.")] = None,
    severity: Annotated[str | None, _match("Severity, e.g. `Mild`.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Symptoms logged, oldest first; by time, name and severity."""
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters={"name": name, "severity": severity},
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.SYMPTOMS, read), request)


@router.get("/state-of-mind", response_model=EventPage, responses=_ERRORS)
async def list_state_of_mind(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    kind: Annotated[str | None, _match("`momentary_emotion` or `daily_mood`.")] = None,
    label: Annotated[str | None, _match("Entries carrying this label.")] = None,
    association: Annotated[str | None, _match("Entries carrying this association.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """State-of-mind entries (valence, labels, associations), oldest first."""
    filters = {"kind": kind, "label": label, "association": association}
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters=filters,
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.STATE_OF_MIND, read), request)


@router.get("/state-of-mind/daily", response_model=MoodDays, responses=_ERRORS)
async def state_of_mind_daily(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    kind: Annotated[str | None, _match("Only entries of this kind.")] = None,
) -> Response:
    """Per local day: entries and average valence, overall and per kind."""
    read = EventRead(user_id=principal.user_id, start=start, end=to, tz=tz, filters={"kind": kind})
    return _json(await service.state_of_mind_daily(specs.STATE_OF_MIND, read), request)


@router.get("/medications", response_model=EventPage, responses=_ERRORS)
async def list_medications(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    name: Annotated[str | None, _match("Display text or nickname.")] = None,
    status: Annotated[str | None, _match("Dose status, e.g. `Taken`, `Skipped`.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Logged medication doses, oldest first; by time, medication and status."""
    filters = {"name": name, "status": status}
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters=filters,
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.MEDICATIONS, read), request)


@router.get("/medications/daily", response_model=DoseDays, responses=_ERRORS)
async def medications_daily(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    name: Annotated[str | None, _match("Display text or nickname.")] = None,
) -> Response:
    """Per local day (of the dose's logged time) and medication: taken, skipped, other."""
    read = EventRead(user_id=principal.user_id, start=start, end=to, tz=tz, filters={"name": name})
    return _json(await service.medications_daily(specs.MEDICATIONS, read), request)


@router.get("/ecg", response_model=EventPage, responses=_ERRORS)
async def list_ecg(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    classification: Annotated[str | None, _match("E.g. `Sinus Rhythm`.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """ECG recordings without their voltages (read one by its `id` for those), oldest first."""
    filters = {"classification": classification}
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters=filters,
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.ECG, read), request)


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
    return _json(await service.ecg(principal.user_id, ecg_id, offset=offset, limit=limit), request)


@router.get("/heart-rate-notifications", response_model=EventPage, responses=_ERRORS)
async def list_heart_rate_notifications(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    kind: Annotated[str | None, _match("E.g. `high_heart_rate_notification`.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """High, low and irregular heart-rate notifications with their series, oldest first."""
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters={"kind": kind},
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.HEART_RATE_NOTIFICATIONS, read), request)


@router.get("/cycle-tracking", response_model=EventPage, responses=_ERRORS)
async def list_cycle_tracking(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    kind: Annotated[str | None, _match("E.g. `Menstrual Flow`.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Cycle-tracking events (flow, cycle starts, sexual activity...), oldest first."""
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters={"kind": kind},
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.CYCLE_TRACKING, read), request)


@router.get("/hrv", response_model=HrvPage, responses=_ERRORS)
async def list_hrv(
    principal: ReaderDep,
    service: ServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    tz: Tz = None,
    source: Annotated[str | None, _match("Only points of this source.")] = None,
    with_beats: Annotated[
        bool, Query(description="Only points that carry a beat-to-beat series.")
    ] = False,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Heart-rate-variability points (ms) with their beat-to-beat series, oldest first."""
    conditions = ("with_beats",) if with_beats else ()
    read = EventRead(
        user_id=principal.user_id,
        start=start,
        end=to,
        tz=tz,
        filters={"source": source},
        conditions=conditions,
        page=cursor,
        limit=limit,
    )
    return _json(await service.page(specs.HRV, read), request)
