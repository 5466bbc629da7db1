"""Deletion API: a range of the user's rows, or the whole account. Both need a key with the
``read`` and ``write`` scopes (an owner key): the phone's write-only key and a dashboard's
read-only key cannot delete anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import PrincipalDep
from app.auth.service import Principal
from app.erase.service import SECTIONS, EraseService
from app.errors import KEYED_ROUTE_ERRORS, NotFound, problem_responses
from app.export.router import RangeEnd, RangeStart, RangeTz
from app.query import render
from app.query.dependencies import EngineDep, RedisDep, reject_unstorable_text
from app.query.errors import ConfirmationRequired, InvalidQuery

router = APIRouter(prefix="/v1", tags=["deletion"], dependencies=[Depends(reject_unstorable_text)])


async def owner(principal: PrincipalDep) -> Principal:
    principal.require("read")
    principal.require("write")
    return principal


async def get_erase_service(engine: EngineDep, redis: RedisDep, request: Request) -> EraseService:
    return EraseService(engine, redis, request.app.state.settings)


OwnerDep = Annotated[Principal, Depends(owner)]
EraseServiceDep = Annotated[EraseService, Depends(get_erase_service)]


@router.delete("/data", responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS))
async def delete_data(
    principal: OwnerDep,
    service: EraseServiceDep,
    start: RangeStart = None,
    to: RangeEnd = None,
    tz: RangeTz = None,
    metric: Annotated[str | None, Query(description="Only this metric.")] = None,
    section: Annotated[
        str | None, Query(description=f"Only this section: {', '.join(SECTIONS)}.")
    ] = None,
) -> Response:
    """Delete rows (a range, a metric or a section); the receipt counts them per table."""
    receipt = await service.delete_range(
        principal.user_id, start=start, end=to, tz=tz, metric=metric, section=section
    )
    return Response(render.json_bytes(receipt), media_type=render.JSON)


@router.delete(
    "/account",
    responses=problem_responses(ConfirmationRequired, *KEYED_ROUTE_ERRORS, NotFound),
)
async def erase_account(
    principal: OwnerDep,
    service: EraseServiceDep,
    confirm: Annotated[
        str | None, Query(description="The account's name, to confirm the erasure.")
    ] = None,
) -> Response:
    """Erase the account: every row, archived payload, key and cache entry; returns a receipt."""
    if confirm is None:
        raise ConfirmationRequired(
            "erasure is irreversible: repeat the request with confirm=<account name>",
            field="confirm",
        )
    receipt = await service.erase_account(principal.user_id, via="api", confirm=confirm)
    return Response(render.json_bytes(receipt), media_type=render.JSON)
