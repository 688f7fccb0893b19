"""GET /v1/audit: the audit trail for examiners, as JSON or CSV (cells neutralised against formulas)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from service.api.auth import authenticate
from service.api.deps import RuntimeDep
from service.api.errors import COMMON_RESPONSES
from service.errors import PermissionDenied
from service.review.audit import audit_csv, audit_json, iter_audit
from service.store import Principal, Role

#: Who may read the whole trail: admins and approvers (the people who sign decisions off).
AUDIT_ROLES = frozenset({Role.admin, Role.approver})

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=COMMON_RESPONSES)


async def auditor(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.roles & AUDIT_ROLES:
        roles = ", ".join(sorted(principal.roles)) or "no role"
        raise PermissionDenied(f"{roles} may not read the audit trail")
    return principal


@router.get("", summary="Export the audit trail",
            responses={200: {"content": {"application/json": {}, "text/csv": {}},
                             "description": "Every entry in the range, oldest first"}})
async def export_audit(principal: Annotated[Principal, Depends(auditor)], runtime: RuntimeDep,
                       since: datetime | None = None, until: datetime | None = None,
                       format: Annotated[Literal["json", "csv"], Query()] = "json") -> StreamingResponse:
    """Entries with ``since <= at < until`` (both optional, ISO 8601), streamed however many there are."""
    entries = iter_audit(runtime.database, since=since, until=until)
    body: Iterator[str] = audit_csv(entries) if format == "csv" else audit_json(entries)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    headers = {"Content-Disposition": f'attachment; filename="audit.{format}"'}
    return StreamingResponse(iterate_in_threadpool(body), media_type=media, headers=headers)
