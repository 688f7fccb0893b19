"""Dependencies as ``Annotated`` aliases, so a route states what it needs in its signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.api.auth import authenticate, require, runtime_dependency, runtime_of
from service.api.packs import LoadedPack
from service.api.runtime import Runtime
from service.store import Permission, Principal


async def current_pack(request: Request) -> LoadedPack:
    """The (pack, screener) pair this request uses from start to end, even if a reload happens meanwhile.

    Dependencies here are ``async`` although they do not wait: FastAPI would run a plain function in the
    thread pool, a thread hop per request for a dictionary lookup."""
    return runtime_of(request).holder.current


RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
CurrentPack = Annotated[LoadedPack, Depends(current_pack)]

AnyPrincipal = Annotated[Principal, Depends(authenticate)]
CanScreen = Annotated[Principal, Depends(require(Permission.screen))]
CanReadOwnScreenings = Annotated[Principal, Depends(require(Permission.read_own_screenings))]
CanReadPack = Annotated[Principal, Depends(require(Permission.read_pack))]
CanReadPackEntries = Annotated[Principal, Depends(require(Permission.read_pack_entries))]
CanReloadPack = Annotated[Principal, Depends(require(Permission.reload_pack))]
CanManageKeys = Annotated[Principal, Depends(require(Permission.manage_keys))]
