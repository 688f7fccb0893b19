"""GET /healthz (the process answers), /readyz (it can screen) and /metrics (Prometheus).

These three carry no authentication: orchestrators and Prometheus call them, and they reveal nothing but
the pack's name, version and digest.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import RuntimeDep
from service.api.schemas import HealthResponse, ReadinessResponse
from service.errors import StoreError
from service.lists.storage import list_status, stale_lists
from service.settings import Settings

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is up and answering."""
    return HealthResponse(status="ok")


def stale_list_warnings(settings: Settings, loaded: set[str]) -> list[str]:
    """A warning for each imported list being screened with that is older than the configured age (a stale
    list is reported, not fatal: screening with yesterday's list beats not screening at all)."""
    warnings = []
    for status in stale_lists(list_status(settings.data_dir, settings.list_max_age_days)):
        if status.name not in loaded:
            continue
        if status.error is not None:
            warnings.append(f"list {status.name} cannot be read: {status.error}")
        else:
            warnings.append(f"list {status.name} is {status.age_days} days old ({status.age_basis}; limit "
                            f"{settings.list_max_age_days} days)")
    return warnings


@router.get("/readyz", summary="Readiness", response_model=ReadinessResponse,
            responses={503: {"model": ReadinessResponse, "description": "Not ready; checks say why"}})
async def readyz(runtime: RuntimeDep) -> ReadinessResponse | JSONResponse:
    """Ready when a pack is loaded, the store answers and the log writer runs."""
    checks = {"pack": "ok" if runtime.holder.current.pack.info.digest else "no pack loaded"}
    try:
        await run_in_threadpool(runtime.database.ping)
        checks["store"] = "ok"
    except StoreError as exc:
        checks["store"] = str(exc)
    checks["log_writer"] = "ok" if runtime.writer.alive else "stopped"
    ready = all(value == "ok" for value in checks.values())
    warnings = await run_in_threadpool(stale_list_warnings, runtime.settings,
                                       set(runtime.holder.current.pack.list_digests))
    body = ReadinessResponse(status="ready" if ready else "not_ready", checks=checks, warnings=warnings)
    if ready:
        return body
    return JSONResponse(body.model_dump(mode="json"), status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"}})
async def metrics(runtime: RuntimeDep) -> Response:
    """Request counts and latency by route and status, decisions, flags by rule, the pack serving."""
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
