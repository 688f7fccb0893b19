"""GET /v1/screenings and /v1/screenings/{id}: the screening log.

Screeners see the screenings made with their own key; reviewers and admins see all. Another key's
screening answers 404, not 403, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from service.api.deps import CanReadOwnScreenings, RuntimeDep
from service.api.errors import COMMON_RESPONSES
from service.api.schemas import ErrorResponse, ScreeningDetail, ScreeningPage, ScreeningSummary
from service.model import Decision
from service.store import Permission, Principal, ScreeningFilter, ScreeningRow

router = APIRouter(prefix="/v1/screenings", tags=["screening log"], responses=COMMON_RESPONSES)


def _own_key_only(principal: Principal) -> int | None:
    """The key a principal is limited to, or None when it may read every screening."""
    if principal.can(Permission.read_all_screenings):
        return None
    # A principal without a key of its own (none today) can only see screenings made without one.
    return principal.api_key_id if principal.api_key_id is not None else -1


def _summary_fields(row: ScreeningRow) -> dict[str, object]:
    return {"id": row.id, "screened_at": row.screened_at, "source": row.source, "api_key_id": row.api_key_id,
            "record_id": row.record_id, "decision": Decision(row.decision), "risk_score": row.risk_score,
            "pack_version": row.pack_version, "pack_digest": row.pack_digest, "latency_ms": row.latency_ms}


@router.get("/{screening_id}", summary="One screening of the log", response_model=ScreeningDetail,
            responses={404: {"model": ErrorResponse, "description": "No such screening (visible to this key)"}})
async def get_screening(screening_id: Annotated[str, Path(max_length=36)], principal: CanReadOwnScreenings,
                        runtime: RuntimeDep) -> ScreeningDetail:
    """What was asked, what came back, which pack answered, who asked and how fast."""
    row = await run_in_threadpool(runtime.screenings.get, screening_id, api_key_id=_own_key_only(principal))
    return ScreeningDetail.model_validate({**_summary_fields(row), "record": row.record, "result": row.result})


@router.get("", summary="Search the screening log", response_model=ScreeningPage)
async def list_screenings(
    principal: CanReadOwnScreenings,
    runtime: RuntimeDep,
    record_id: Annotated[str | None, Query(max_length=200, description="Only this record id")] = None,
    decision: Annotated[Decision | None, Query(description="Only this decision")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Screened at or after (ISO 8601 with zone)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Screened before (ISO 8601 with zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(max_length=36, description="next_cursor of the previous page")] = None,
) -> ScreeningPage:
    """Screenings newest first, filtered by record id, decision and time; page with ``cursor``."""
    where = ScreeningFilter(record_id=record_id, decision=decision.value if decision else None, since=since,
                            until=until, api_key_id=_own_key_only(principal), before_id=cursor)
    rows = await run_in_threadpool(runtime.screenings.list, where, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ScreeningPage(items=[ScreeningSummary.model_validate(_summary_fields(row)) for row in rows],
                         next_cursor=rows[-1].id if more else None)
