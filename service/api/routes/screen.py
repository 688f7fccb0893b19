"""POST /v1/screen and /v1/screen/batch: records in, decisions out, every screening logged first.

Where the engine runs was decided by measurement (bench/load.py and a py-spy profile). It is CPU-bound pure
Python, so a thread gives it no parallelism (the GIL), only a cost: the hand-over to a worker thread and
back, and the fight for the GIL that follows, cost more than screening a typical record (about half a
millisecond). So ordinary records are screened on the event loop, and records with many lines, and batches,
go to the thread pool in small chunks, so that no single request holds the loop for long.

A response is sent only after its screening is committed to the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.api.deps import CanScreen, CurrentPack, RuntimeDep
from service.api.errors import BODY_RESPONSES, COMMON_RESPONSES
from service.api.packs import LoadedPack
from service.api.runtime import Runtime
from service.api.schemas import BatchScreenRequest, BatchScreenResponse, ErrorResponse, ScreenResponse
from service.errors import RecordError, StoreError
from service.model import Decision, Record, ScreeningResult
from service.review.alerts import result_digest
from service.review.screening import SCREENED_KEY, Screened
from service.store import Principal, new_screening_id
from service.store.monitored import MONITOR_KEY, MonitoredScreening

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/screen", tags=["screening"], responses={**COMMON_RESPONSES, **BODY_RESPONSES})

NDJSON = "application/x-ndjson"
#: Records screened per trip to the thread pool in a batch: small enough that single screenings arriving
#: meanwhile are not stuck behind a whole batch.
_BATCH_CHUNK = 25
#: A record with more parties, goods lines, route points and vessels than this is screened in the thread
#: pool rather than on the event loop.
_INLINE_LINES = 40


def _lines(record: Record) -> int:
    return len(record.parties) + len(record.goods) + len(record.route) + len(record.vessels)


def _screen_timed(loaded: LoadedPack, records: Sequence[Record]) -> list[tuple[ScreeningResult, float]]:
    out = []
    for record in records:
        started = time.perf_counter()
        result = loaded.screener.screen(record)
        out.append((result, (time.perf_counter() - started) * 1000))
    return out


def _log_row(runtime: Runtime, principal: Principal, loaded: LoadedPack, record: Record, result: ScreeningResult,
             latency_ms: float) -> dict[str, Any]:
    flagged = bool(result.flags) or result.decision is not Decision.clear
    screening_id = new_screening_id(result.screened_at)
    record_json = record.model_dump(mode="json")
    return {
        "id": screening_id,
        "screened_at": result.screened_at,
        "source": "api",
        "api_key_id": principal.api_key_id,
        "record_id": record.id,
        "decision": result.decision.value,
        "risk_score": result.risk_score,
        "pack_version": result.pack.version,
        "pack_digest": result.pack.digest,
        "latency_ms": round(latency_ms, 3),
        "record": record_json if flagged or runtime.settings.log_clear_records else None,
        "result": result.model_dump(mode="json"),
        # every screened record joins the monitored set, clear ones too: a list change may concern them
        MONITOR_KEY: MonitoredScreening(record.id, record_json, "api", screening_id, result.decision.value,
                                        result_digest(result), result.screened_at, result.pack.digest),
        SCREENED_KEY: Screened(result, loaded.pack),
    }


async def _screen_and_log(runtime: Runtime, principal: Principal, loaded: LoadedPack,
                          records: Sequence[Record]) -> list[ScreenResponse]:
    if len(records) == 1 and _lines(records[0]) <= _INLINE_LINES:
        timed = _screen_timed(loaded, records)
    else:
        timed = await run_in_threadpool(_screen_timed, loaded, records)
    rows = [_log_row(runtime, principal, loaded, record, result, latency)
            for record, (result, latency) in zip(records, timed, strict=True)]
    # The commit applies the allow-list (marking allow-listed matches suppressed) before storing each result,
    # and opens or updates the alerts of non-clear ones: see service/review/screening.py.
    await runtime.writer.write(rows)
    responses = []
    for row in rows:
        result = row[SCREENED_KEY].stored
        runtime.metrics.observe_result(result)
        responses.append(ScreenResponse.model_construct(screening_id=row["id"], **dict(result)))
    return responses


@router.post("", summary="Screen one record", response_model=ScreenResponse)
async def screen_record(record: Record, principal: CanScreen, runtime: RuntimeDep,
                        loaded: CurrentPack) -> ScreenResponse:
    """Screen one shipment or counterparty against the current rule pack and log the screening."""
    (response,) = await _screen_and_log(runtime, principal, loaded, [record])
    return response


@router.post(
    "/batch",
    summary="Screen many records",
    response_model=BatchScreenResponse,
    responses={200: {"content": {NDJSON: {"schema": {"$ref": "#/components/schemas/ScreenResponse"}}},
                     "description": "All results as one JSON document, or with `Accept: application/x-ndjson` "
                                    "one result per line, streamed as they are ready (if the store fails "
                                    "midway, the last line is an ErrorResponse)"}},
)
async def screen_batch(body: BatchScreenRequest, request: Request, principal: CanScreen, runtime: RuntimeDep,
                       loaded: CurrentPack) -> BatchScreenResponse | StreamingResponse:
    """Screen up to the server's batch limit of records; results come back in order.

    The whole batch is refused (422, naming each bad field) if any record is invalid, so nothing is
    half-screened. All records of one call use the same pack, even if it is reloaded meanwhile.
    """
    limit = runtime.settings.max_batch_records
    if len(body.records) > limit:
        raise RecordError([("records", f"at most {limit} records per call, got {len(body.records)}")])
    chunks = [body.records[i:i + _BATCH_CHUNK] for i in range(0, len(body.records), _BATCH_CHUNK)]
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(_stream(runtime, principal, loaded, chunks), media_type=NDJSON)
    results: list[ScreenResponse] = []
    for chunk in chunks:
        results.extend(await _screen_and_log(runtime, principal, loaded, chunk))
    return BatchScreenResponse(count=len(results), results=results)


async def _stream(runtime: Runtime, principal: Principal, loaded: LoadedPack,
                  chunks: list[list[Record]]) -> AsyncIterator[bytes]:
    """Results line by line. The status line is already sent, so a failure midway (the store going away)
    ends the stream with one ErrorResponse line; every result line before it was logged."""
    for chunk in chunks:
        try:
            responses = await _screen_and_log(runtime, principal, loaded, chunk)
        except StoreError as exc:
            log.error("batch stream stopped: %s", exc)
            error = ErrorResponse(detail="the batch stopped: the screening store is unavailable; the lines "
                                         "before this one were screened and logged", code="store_unavailable")
            yield error.model_dump_json().encode("utf-8") + b"\n"
            return
        for response in responses:
            yield response.model_dump_json().encode("utf-8") + b"\n"

