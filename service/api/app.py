"""The app factory: ``create_app(settings)`` wires routes, errors and middleware; its lifespan opens the
store, hands out the first admin key, loads the pack and starts the log writer, and undoes it all at
shutdown (writing every screening still queued)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.api.errors import install_error_handlers
from service.api.metrics import Metrics
from service.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from service.api.packs import LoadedPack, PackHolder, load_configured_pack
from service.api.routes import ROUTERS
from service.api.runtime import Runtime
from service.errors import PackError, StoreError
from service.review.alerts import record_alerts
from service.review.screening import apply_allow_list_in
from service.review.web import install_review_ui
from service.settings import Settings
from service.store import (
    ApiKeyRepository,
    AsyncScreeningWriter,
    Database,
    IssuedKey,
    PackLoadRepository,
    ScreeningRepository,
    open_database,
)

log = logging.getLogger(__name__)

DESCRIPTION = """\
Screens shipments and counterparties against sanctions and export-control rules for the Iran-Russia
military drone supply chain, and keeps a log of every screening: who asked, what was asked, which pack
version answered, what came back.

Authenticate with an API key: `Authorization: Bearer <key>`. Roles: **screener** (screen, read its own
log), **reviewer** and **approver** (read the pack entries and the whole log), **admin** (everything,
including pack reloads and keys). Every error has the same body: `detail`, `code`, `errors[]`.
"""

TAGS = [
    {"name": "screening", "description": "Screen records (one or a batch)."},
    {"name": "screening log", "description": "Every screening, as it happened."},
    {"name": "pack", "description": "The rule pack serving screenings: describe, look up entries, reload."},
    {"name": "keys", "description": "API keys (admin)."},
    {"name": "alerts", "description": "The review queue and reviewers' actions (reviewer, approver, admin)."},
    {"name": "audit", "description": "The append-only audit trail, as JSON or CSV (approver, admin)."},
    {"name": "rescreening", "description": "Reports of the rescreens run after list and pack changes (reviewer, "
                                           "approver, admin)."},
    {"name": "operations", "description": "Health, readiness and Prometheus metrics."},
]


def announce_first_key(issued: IssuedKey) -> None:
    """Show the first admin key once: a log line saying so, then the key alone on a plain line."""
    log.warning("no API key existed: created an admin key; it is printed below once and never again",
                extra={"key_id": issued.key.id, "key_prefix": issued.key.prefix})
    print(f"First admin API key (store it now, it is not shown again): {issued.secret}", file=sys.stderr,
          flush=True)


def ensure_first_key(database: Database) -> IssuedKey | None:
    """Create and announce the first admin key if the store never had one (race-safe across workers)."""
    issued = ApiKeyRepository(database).create_bootstrap_admin()
    if issued is not None:
        announce_first_key(issued)
    return issued


def start_runtime(settings: Settings, metrics: Metrics, preloaded: LoadedPack | None) -> Runtime:
    """Open the store (migrating it), load the pack and start the log writer. Blocking."""
    if settings.auth == "disabled":
        log.warning("AUTHENTICATION IS DISABLED (SCREENING_AUTH=disabled): anyone reaching this port can "
                    "screen, read the whole screening log, reload the pack and manage keys. "
                    "Use this for local development only.")
    database = open_database(settings.resolved_database_url())
    try:
        if settings.auth == "enabled":
            ensure_first_key(database)
        loaded = preloaded or LoadedPack.build(load_configured_pack(settings))
        pack_loads = PackLoadRepository(database)
        latest = pack_loads.latest()
    except (PackError, StoreError):
        database.dispose()
        raise
    # Where the log is written was measured with bench/load.py: see service/store/writer.py.
    # The allow-list and the alerts are applied and written in the log's own transaction (one per group commit).
    log_repository = ScreeningRepository(database, prepare=apply_allow_list_in, also_write=record_alerts)
    writer = AsyncScreeningWriter(log_repository, try_on_loop=database.dialect == "sqlite",
                                  on_batch=metrics.observe_log_batch)
    metrics.set_pack(loaded.pack.info, loaded.pack.loaded_at.timestamp())
    metrics.watch_pending_rows(lambda: writer.pending_rows)
    log.info("ready to screen", extra={"pack_name": loaded.pack.info.name, "pack_version": loaded.pack.info.version,
                                       "pack_digest": loaded.pack.info.digest, "store": database.dialect})
    return Runtime(settings=settings, metrics=metrics, database=database, keys=ApiKeyRepository(database),
                   screenings=ScreeningRepository(database), pack_loads=pack_loads, writer=writer,
                   holder=PackHolder(loaded, lambda: load_configured_pack(settings)),
                   last_pack_load_id=latest.id if latest else 0)


def stop_runtime(runtime: Runtime) -> None:
    """Close the store (after the log writer has been closed). Blocking."""
    runtime.database.dispose()


async def follow_pack_reloads(runtime: Runtime, interval: float, stopping: asyncio.Event) -> None:
    """Reload when another worker of this server has reloaded the pack (seen in the pack_loads table), until
    ``stopping`` is set.

    Stopped by the event rather than cancelled: cancelling would not stop a store read already running in a
    thread, which would then hand its connection back to a pool the shutdown has disposed of, where it stays
    open until garbage-collected (seen as a stray ResourceWarning in the test suite on PostgreSQL).
    """
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
        if stopping.is_set():
            return
        try:
            latest = await asyncio.to_thread(runtime.pack_loads.latest)
        except StoreError as exc:
            log.warning("cannot check for pack reloads: %s", exc)
            continue
        if latest is None or latest.id <= runtime.last_pack_load_id:
            continue
        runtime.last_pack_load_id = latest.id
        if latest.digest == runtime.holder.current.pack.info.digest:
            continue
        async with runtime.reload_lock:
            try:
                _, current = await asyncio.to_thread(runtime.reload_pack_busy)
            except PackError as exc:
                runtime.metrics.pack_reloads.labels("invalid").inc()
                log.error("another worker reloaded the pack but it does not load here; keeping the current "
                          "one: %s", exc)
                continue
        runtime.metrics.pack_reloads.labels("followed").inc()
        runtime.metrics.set_pack(current.pack.info, current.pack.loaded_at.timestamp())


def create_app(settings: Settings, *, pack: LoadedPack | None = None, pack_sync_seconds: float = 5.0,
               freeze_gc: bool = False) -> FastAPI:
    """Build the screening API for ``settings``.

    ``pack`` supplies an already built (pack, screener) pair instead of loading ``settings.pack_path`` at
    start (tests and benchmarks share one). ``pack_sync_seconds`` is how often the app checks whether
    another worker reloaded the pack. ``freeze_gc`` (for server processes, see ``freeze_garbage``) keeps the
    pack's long-lived objects out of garbage collection and shortens the GIL switch interval while a reload
    or a rescreen works in the background (``BusyThreads``).
    """
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await asyncio.to_thread(start_runtime, settings, metrics, pack)
        if freeze_gc:
            freeze_garbage()
            runtime.holder.after_swap = refreeze_garbage
            runtime.busy_threads.enable(BUSY_SWITCH_INTERVAL_SECONDS)
        app.state.runtime = runtime
        stopping = asyncio.Event()
        follower = asyncio.create_task(follow_pack_reloads(runtime, pack_sync_seconds, stopping))
        try:
            yield
        finally:
            stopping.set()
            try:
                await follower  # it ends once a read or reload in flight is done
            except Exception:  # a bug there must not keep the log from being flushed below
                log.exception("the pack reload follower failed")
            await asyncio.to_thread(runtime.rescreens.close)  # a running rescreen stops at its next step
            await runtime.writer.close()
            await asyncio.to_thread(stop_runtime, runtime)
            log.info("stopped; screening log flushed")

    app = FastAPI(title="Drone supply-chain screening API", version=__version__, description=DESCRIPTION,
                  openapi_tags=TAGS, lifespan=lifespan)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_review_ui(app)
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # added last = outermost
    return app


#: Young collections between two full ones (CPython's default is 10). See ``freeze_garbage``.
FULL_COLLECTION_AFTER = 10_000


#: The GIL switch interval of server processes while a background thread works (see ``BusyThreads``).
BUSY_SWITCH_INTERVAL_SECONDS = 0.0005


def freeze_garbage() -> None:
    """Move every object alive now (the pack, its indexes, the app) out of the collector's reach, and make
    full collections rare.

    A full collection walks every tracked object with the whole process stopped. Freezing takes the pack's
    indexes out of it. What remains are the engine's caches, which fill as unique names arrive: with the
    default thresholds a full collection ran every half second while they grew (each time they had grown by
    a quarter), 25-75 ms each with the official lists loaded, and they were the p99 of bench/load.py at
    400 requests/s (seen with a gc callback). Requests allocate mostly short-lived objects, freed by
    reference counting or by the young collections, which keep their default pace; the rare full collection
    still reclaims long-lived cycles. Frozen objects are still freed by reference counting when dropped.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


def refreeze_garbage() -> None:
    """After a pack swap: freeze the new pack.

    No full collection: the old pack and its screener hold no reference cycles, so reference counting frees
    them as soon as the last request using them finishes, frozen or not (tests/engine/test_screener.py
    checks it). Unfreezing and collecting everything here stopped the worker for about 0.8 s with the
    official lists loaded, in the middle of serving.
    """
    gc.freeze()


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` and the workers of ``screening serve --workers N``."""
    return create_app(Settings(), freeze_gc=True)

