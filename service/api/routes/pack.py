"""GET /v1/pack, GET /v1/pack/entries/{id} and POST /v1/pack/reload."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from service.api.deps import CanReadPack, CanReadPackEntries, CanReloadPack, CurrentPack, RuntimeDep
from service.api.errors import COMMON_RESPONSES
from service.api.packs import LoadedPack
from service.api.runtime import Runtime
from service.api.schemas import ErrorResponse, PackEntryResponse, PackReloadResponse, PackResponse, SourceResponse
from service.errors import NotFoundError, PackError
from service.review.audit import audit_event
from service.review.rescreen import Trigger
from service.rulepack.spec import GoodsSpec, PartySpec

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/pack", tags=["pack"], responses=COMMON_RESPONSES)


def describe_pack(loaded: LoadedPack) -> PackResponse:
    pack = loaded.pack
    return PackResponse(name=pack.info.name, version=pack.info.version, digest=pack.info.digest,
                        loaded_at=pack.loaded_at, counts=pack.counts,
                        sources=[SourceResponse.from_spec(s) for _, s in sorted(pack.sources.items())])


@router.get("", summary="The pack serving screenings", response_model=PackResponse)
async def get_pack(principal: CanReadPack, loaded: CurrentPack) -> PackResponse:
    """Name, version and digest of the pack answering screenings, when it was loaded, what it holds and the
    sources it cites."""
    return describe_pack(loaded)


@router.get("/entries/{entry_id}", summary="One list entry of the pack", response_model=PackEntryResponse,
            responses={404: {"model": ErrorResponse, "description": "No entry with this id"}})
async def get_pack_entry(entry_id: Annotated[str, Path(max_length=200)], principal: CanReadPackEntries,
                         loaded: CurrentPack) -> PackEntryResponse:
    """A party, goods or port entry with its aliases, identifiers and sources, to compare with a match."""
    pack = loaded.pack
    entry = pack.entry(entry_id)
    if entry is None:
        raise NotFoundError(f"no entry {entry_id!r} in pack {pack.info.name} {pack.info.version}")
    kind = "party" if isinstance(entry, PartySpec) else "goods" if isinstance(entry, GoodsSpec) else "port"
    sources = [SourceResponse.from_spec(pack.sources[s]) for s in entry.sources if s in pack.sources]
    return PackEntryResponse(id=entry.id, kind=kind,
                             party_list=pack.entry_list(entry_id) if kind == "party" else None,
                             entry=entry, sources=sources)


async def reload_pack(runtime: Runtime, actor: str) -> tuple[LoadedPack, LoadedPack]:
    """Load the pack on disk in a worker thread and swap it in; one reload at a time per process.

    Raises PackError (the old pack keeps serving). A successful reload is recorded in the store so the
    other workers of this server follow it, and starts a rescreen of what changed in the background (only
    here, in the worker that reloaded: followers do not rescreen again).
    """
    async with runtime.reload_lock:
        try:
            previous, current = await asyncio.to_thread(runtime.reload_pack_busy)
        except PackError:
            runtime.metrics.pack_reloads.labels("invalid").inc()
            raise
        runtime.metrics.pack_reloads.labels("ok").inc()
        runtime.metrics.set_pack(current.pack.info, current.pack.loaded_at.timestamp())
        row = await run_in_threadpool(runtime.pack_loads.record, current.pack.info, actor)
        runtime.last_pack_load_id = max(runtime.last_pack_load_id, row.id)
        await run_in_threadpool(
            audit_event, runtime.database, actor, "pack.reload", "pack", current.pack.info.name,
            before=previous.pack.info.model_dump(), after=current.pack.info.model_dump())
        # The response does not wait: the rescreen diffs the lists, finds the records and writes their alerts
        # in a thread of its own, one at a time (GET /v1/rescreen/last shows how it went).
        runtime.rescreens.submit(runtime.database, current.screener, dict(previous.pack.party_lists),
                                 trigger=Trigger.pack_reload.value, actor=actor)
        return previous, current


@router.post("/reload", summary="Reload the pack from disk", response_model=PackReloadResponse,
             responses={422: {"model": ErrorResponse,
                              "description": "The pack on disk is invalid (each problem in errors[]); "
                                             "the previous pack keeps serving"}})
async def post_reload(principal: CanReloadPack, runtime: RuntimeDep) -> PackReloadResponse:
    """Load and validate the pack on disk and swap it in atomically. Requests already running finish on the
    pack they started with; an invalid pack is refused with its problems and the current one stays. The
    monitored records that the changed list entries could affect are then rescreened in the background
    (``GET /v1/rescreen/last``)."""
    previous, current = await reload_pack(runtime, principal.actor)
    log.info("pack reloaded", extra={"actor": principal.actor, "pack_digest": current.pack.info.digest})
    return PackReloadResponse(changed=previous.pack.info.digest != current.pack.info.digest,
                              previous=previous.pack.info, current=current.pack.info,
                              warnings=list(current.pack.warnings))
