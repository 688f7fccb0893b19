"""Who is calling: API keys from ``Authorization: Bearer``, checked against the store, and role checks.

Handlers never look at keys or roles: they declare the permission they need with ``require(...)`` (through
the aliases in ``deps``) and receive the ``Principal``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from service.api.runtime import Runtime
from service.errors import AuthError, PermissionDenied
from service.store import Permission, Principal

log = logging.getLogger(__name__)


def runtime_of(request: Request) -> Runtime:
    """The app's runtime (set by its lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def runtime_dependency(request: Request) -> Runtime:
    """The app's runtime, as a dependency (async: FastAPI runs plain ``def`` dependencies in a thread)."""
    return runtime_of(request)


class ApiKeyAuth(HTTPBearer):
    """The bearer scheme of the OpenAPI document and the check behind it, in one dependency.

    Returns the principal: an API key's, or the anonymous one when authentication is disabled. Raises
    AuthError (401) for a missing, unknown or revoked key. Known keys are cached for a few seconds
    (``KeyCache``), so most requests do not touch the store.
    """

    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name="ApiKey",
                         description="An API key (`screening keys create --role ROLE --name NAME`), "
                                     "sent as `Authorization: Bearer <key>`.")

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        runtime = runtime_of(request)
        if runtime.settings.auth == "disabled":
            principal = Principal.anonymous()
        else:
            credentials = await super().__call__(request)
            if credentials is None or not credentials.credentials:
                raise AuthError("no API key: send the header 'Authorization: Bearer <key>'")
            secret = credentials.credentials
            key = runtime.key_cache.get(secret)
            if key is None:
                key = await run_in_threadpool(runtime.keys.authenticate, secret)
                if key is None:
                    raise AuthError("unknown or revoked API key")
                runtime.key_cache.put(secret, key)
            principal = key.principal()
        request.state.actor = principal.actor
        return principal


authenticate = ApiKeyAuth()


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that yields the principal if its roles grant ``permission``, else 403."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.can(permission):
            roles = ", ".join(sorted(principal.roles)) or "no role"
            raise PermissionDenied(f"{roles} may not {permission.value.replace('_', ' ')}")
        return principal

    check.__name__ = f"require_{permission.value}"
    return check
