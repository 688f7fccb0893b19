"""/v1/keys: API key management for admins (the same as ``screening keys``, over HTTP)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from service.api.deps import CanManageKeys, RuntimeDep
from service.api.errors import BODY_RESPONSES, COMMON_RESPONSES
from service.api.schemas import ApiKeyResponse, ErrorResponse, IssuedKeyResponse, KeyCreateRequest
from service.review.audit import audit_event
from service.store import ApiKey

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=COMMON_RESPONSES)


def describe_key(key: ApiKey) -> ApiKeyResponse:
    return ApiKeyResponse(id=key.id, prefix=key.prefix, name=key.name, role=key.role, created_at=key.created_at,
                          created_by=key.created_by, revoked_at=key.revoked_at, active=key.active)


@router.get("", summary="List API keys", response_model=list[ApiKeyResponse])
async def list_keys(principal: CanManageKeys, runtime: RuntimeDep,
                    include_revoked: Annotated[bool, Query(description="Also list revoked keys")] = True,
                    ) -> list[ApiKeyResponse]:
    """Every key with its prefix, name, role and state; never the keys themselves."""
    keys = await run_in_threadpool(runtime.keys.list, include_revoked=include_revoked)
    return [describe_key(key) for key in keys]


@router.post("", summary="Create an API key", status_code=201, response_model=IssuedKeyResponse,
             responses=BODY_RESPONSES)
async def create_key(body: KeyCreateRequest, principal: CanManageKeys, runtime: RuntimeDep) -> IssuedKeyResponse:
    """Create a key with a role. The response holds the key itself, shown this once."""
    issued = await run_in_threadpool(runtime.keys.create, body.name, body.role, principal.actor)
    await run_in_threadpool(audit_event, runtime.database, principal.actor, "key.create", "api_key", issued.key.id,
                            after={"name": issued.key.name, "role": issued.key.role.value,
                                   "prefix": issued.key.prefix})
    log.info("API key created", extra={"actor": principal.actor, "key_id": issued.key.id,
                                       "role": issued.key.role.value})
    return IssuedKeyResponse(key=describe_key(issued.key), secret=issued.secret)


@router.post("/{key_id}/revoke", summary="Revoke an API key", response_model=ApiKeyResponse,
             responses={404: {"model": ErrorResponse, "description": "No key with this id"}})
async def revoke_key(key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: CanManageKeys,
                     runtime: RuntimeDep) -> ApiKeyResponse:
    """Revoke a key at once (in this process; other workers within seconds). Revoking twice is harmless."""
    key = await run_in_threadpool(runtime.keys.revoke, key_id)
    runtime.key_cache.forget(key_id)
    await run_in_threadpool(audit_event, runtime.database, principal.actor, "key.revoke", "api_key", key_id,
                            after={"name": key.name, "role": key.role.value,
                                   "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None})
    log.info("API key revoked", extra={"actor": principal.actor, "key_id": key_id})
    return describe_key(key)
