"""GET /v1/rescreen/last, GET /v1/rescreen and GET /v1/rescreen/{run_id}: reports of rescreen runs.

A rescreen screens the monitored records again after list or rule changes (``screening rescreen``, a list
import, or this API after ``POST /v1/pack/reload``). Its report names every record whose outcome changed, so
only those who may read the whole screening log (reviewer, approver, admin) may read it; a screener may not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from service.api.auth import require
from service.api.deps import RuntimeDep
from service.api.errors import COMMON_RESPONSES
from service.api.schemas import ErrorResponse
from service.errors import NotFoundError
from service.model import PackInfo
from service.store import Permission, Principal
from service.store.rescreens import RescreenRun, RescreenRunRepository, RunStatus

router = APIRouter(prefix="/v1/rescreen", tags=["rescreening"], responses=COMMON_RESPONSES)

CanReadRescreens = Annotated[Principal, Depends(require(Permission.read_all_screenings))]

_CHANGE_EXAMPLE: dict[str, Any] = {"record_id": "SHP-2026-0042", "screening_id": "01970c1e-6a3b-7c1d-9e2f-3a4b5c6d7e8f",
                   "before": "clear", "after": "block", "alert": "opened"}
_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 12, "trigger": "pack-reload", "mode": "changed", "status": "finished", "actor": "key:1",
    "reason": "changes since the last baseline", "notes": [],
    "started_at": "2026-06-04T06:00:02Z", "updated_at": "2026-06-04T06:00:06Z",
    "finished_at": "2026-06-04T06:00:06Z", "seconds": 3.9,
    "pack": {"name": "drone-supply-chain", "version": "2026.11.0", "digest": "318b7f466d3ac1ee0bc81671590aeb1e"
                                                                               "15e472c7f90965f2e1fea0431a3a5cd3"},
    "lists": {"ofac-sdn": {"added": 6, "removed": 2, "changed": 2}},
    "entries_changed": 10, "monitored_records": 50000, "monitored_parties": 100001, "names_analysed": 93487,
    "candidate_checks": 399, "candidate_records": 7, "records_rescreened": 7, "outcomes_changed": 7,
    "alerts_opened": 6, "alerts_updated": 0, "alerts_reopened": 0, "now_clear": 1, "skipped_newer": 0,
    "unreadable_records": 0, "error": None,
}


class RescreenChangeResponse(BaseModel):
    """A record whose outcome the run changed."""

    record_id: str
    screening_id: str = Field(description="The rescreen's entry in the screening log")
    before: str = Field(description="Decision of the record's previous screening", examples=["clear"])
    after: str = Field(description="Decision now", examples=["block"])
    alert: str = Field(description="opened, updated, reopened, unchanged or not_flagged (now clear)",
                       examples=["opened"])


class RescreenRunSummary(BaseModel):
    """One rescreen run: why it ran, with which pack, what it compared and what it changed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: int
    trigger: str = Field(description="cli, pack-reload or list-import")
    mode: str = Field(description="all (every record), changed (since the last baseline), since-list or entries")
    status: RunStatus = Field(description="running, finished, failed, cancelled (shutdown) or interrupted "
                                          "(its process died)")
    actor: str = Field(description="Who started it: cli:<login>, key:<id>, user:<id> or system")
    reason: str = Field(description="Why this mode")
    notes: list[str] = Field(description="What the run could not settle, and what to do about it")
    started_at: datetime
    updated_at: datetime = Field(description="Last heartbeat while running")
    finished_at: datetime | None
    seconds: float
    pack: PackInfo = Field(description="The pack the records were screened with")
    lists: dict[str, dict[str, int]] = Field(description="Per party list diffed: added, removed, changed entries")
    entries_changed: int = Field(description="Distinct list entries compared with the monitored parties")
    monitored_records: int
    monitored_parties: int = Field(description="Parties and vessels of the monitored records")
    names_analysed: int = Field(description="Distinct monitored names looked up in the changed entries' index")
    candidate_checks: int = Field(description="Name pairs scored in full")
    candidate_records: int = Field(description="Records selected for screening again")
    records_rescreened: int
    outcomes_changed: int
    alerts_opened: int
    alerts_updated: int
    alerts_reopened: int
    now_clear: int = Field(description="Records whose outcome changed to clear")
    skipped_newer: int = Field(description="Records screened again by someone else meanwhile (left alone)")
    unreadable_records: int = Field(description="Monitored records that no longer follow the record contract")
    error: str | None

    @classmethod
    def fields_of(cls, run: RescreenRun) -> dict[str, Any]:
        return {"id": run.id, "trigger": run.trigger, "mode": run.mode, "status": run.status, "actor": run.actor,
                "reason": run.detail.get("reason", ""), "notes": run.detail.get("notes", []),
                "started_at": run.started_at, "updated_at": run.updated_at, "finished_at": run.finished_at,
                "seconds": run.seconds, "pack": run.pack, "lists": run.detail.get("lists", {}), **run.counts,
                "error": run.error}


class RescreenRunResponse(RescreenRunSummary):
    """A run with the records whose outcome changed (the first 1,000; ``changes_total`` counts them all)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {**_SUMMARY_EXAMPLE, "changes": [_CHANGE_EXAMPLE], "changes_total": 7}]})

    changes: list[RescreenChangeResponse]
    changes_total: int

    @classmethod
    def of(cls, run: RescreenRun) -> RescreenRunResponse:
        return cls.model_validate({**cls.fields_of(run), "changes": run.detail.get("changes", []),
                                   "changes_total": run.detail.get("changes_total", 0)})


class RescreenRunPage(BaseModel):
    """Rescreen runs, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_SUMMARY_EXAMPLE], "next_cursor": None}]})

    items: list[RescreenRunSummary]
    next_cursor: int | None = Field(description="Pass as ``cursor`` for the next page; null on the last page")


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No rescreen has run yet (or no run with this id)"}}


@router.get("/last", summary="The last rescreen run", response_model=RescreenRunResponse, responses=_NOT_FOUND)
async def get_last_rescreen(principal: CanReadRescreens, runtime: RuntimeDep) -> RescreenRunResponse:
    """The run started last (it may still be running: see ``status`` and ``updated_at``), with the records
    whose outcome it changed."""
    run = await run_in_threadpool(RescreenRunRepository(runtime.database).last)
    if run is None:
        raise NotFoundError("no rescreen has run yet")
    return RescreenRunResponse.of(run)


@router.get("", summary="Rescreen runs", response_model=RescreenRunPage)
async def list_rescreens(
    principal: CanReadRescreens,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    cursor: Annotated[int | None, Query(ge=1, description="next_cursor of the previous page")] = None,
) -> RescreenRunPage:
    """Runs newest first, with their counts (one run's changed records: ``GET /v1/rescreen/{run_id}``)."""
    runs = await run_in_threadpool(RescreenRunRepository(runtime.database).list, limit + 1, before_id=cursor)
    page = runs[:limit]
    return RescreenRunPage(items=[RescreenRunSummary.model_validate(RescreenRunSummary.fields_of(run))
                                  for run in page],
                           next_cursor=page[-1].id if len(runs) > limit else None)


@router.get("/{run_id}", summary="One rescreen run", response_model=RescreenRunResponse, responses=_NOT_FOUND)
async def get_rescreen(run_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: CanReadRescreens,
                       runtime: RuntimeDep) -> RescreenRunResponse:
    """One run with the records whose outcome it changed."""
    run = await run_in_threadpool(RescreenRunRepository(runtime.database).get, run_id)
    if run is None:
        raise NotFoundError(f"no rescreen run {run_id}")
    return RescreenRunResponse.of(run)
