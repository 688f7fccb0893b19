"""What a running app holds: settings, store, log writer, the pack holder, metrics and the key cache."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from service.api.metrics import Metrics
from service.api.packs import LoadedPack, PackHolder
from service.review.rescreen import BackgroundRescreens
from service.settings import Settings
from service.store import (
    ApiKey,
    ApiKeyRepository,
    AsyncScreeningWriter,
    Database,
    PackLoadRepository,
    ScreeningRepository,
)


class BusyThreads:
    """Shortens the GIL switch interval while a background thread works in a server process.

    Why: the event loop gives the GIL up at every poll for I/O, and while another thread is busy (a pack
    reload building its screener, a background rescreen) it waits up to the switch interval to get it back,
    several times per request. bench/load.py --reload-with (four official lists replaced and reloaded at 400
    requests/s, 2 workers): slowest answer of that window 1.8-3.5 s at CPython's 5 ms, 0.25-0.49 s at 0.5 ms.
    Not all the time: with PostgreSQL the log's commits run in a thread, and 0.5 ms throughout cost about a
    fifth of the requests/s at 32 clients (CPU per request 1.56 -> 1.93-2.06 ms, interleaved runs).
    """

    def __init__(self, busy_interval: float | None = None) -> None:
        self._busy_interval = busy_interval  # None: leave the interpreter alone (tests, embedded apps)
        self._lock = threading.Lock()
        self._depth = 0
        self._normal = sys.getswitchinterval()

    def enable(self, busy_interval: float) -> None:
        """Shorten the switch interval to ``busy_interval`` seconds during ``busy()`` blocks from now on."""
        with self._lock:
            self._busy_interval = busy_interval

    @contextmanager
    def busy(self) -> Iterator[None]:
        """The switch interval is short while any ``busy()`` block runs, and restored after the last."""
        if self._busy_interval is None:
            yield
            return
        with self._lock:
            if self._depth == 0:
                self._normal = sys.getswitchinterval()
                sys.setswitchinterval(self._busy_interval)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    sys.setswitchinterval(self._normal)


class KeyCache:
    """Recently authenticated keys, so most requests skip the store lookup.

    Only successful lookups are cached, for ``ttl`` seconds: a key revoked through this process is dropped
    at once, one revoked elsewhere (the command line, another worker) stops working within ``ttl``.
    """

    def __init__(self, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _slot(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()

    def get(self, secret: str) -> ApiKey | None:
        slot = self._slot(secret)
        hit = self._entries.get(slot)
        if hit is None:
            return None
        key, expires = hit
        if expires < time.monotonic():
            with self._lock:
                self._entries.pop(slot, None)
            return None
        return key

    def put(self, secret: str, key: ApiKey) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[self._slot(secret)] = (key, time.monotonic() + self.ttl)

    def forget(self, key_id: int) -> None:
        with self._lock:
            for slot in [s for s, (key, _) in self._entries.items() if key.id == key_id]:
                del self._entries[slot]


@dataclass
class Runtime:
    """Everything the routes need, built in the app's lifespan and closed at shutdown."""

    settings: Settings
    metrics: Metrics
    database: Database
    keys: ApiKeyRepository
    screenings: ScreeningRepository
    pack_loads: PackLoadRepository
    writer: AsyncScreeningWriter
    holder: PackHolder
    key_cache: KeyCache = field(default_factory=KeyCache)
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_pack_load_id: int = 0
    #: Background work marks itself busy here (a short GIL switch interval meanwhile, in server processes).
    busy_threads: BusyThreads = field(default_factory=BusyThreads)
    #: Rescreens after pack reloads, in a thread of their own (closed at shutdown before the store).
    rescreens: BackgroundRescreens = field(init=False)

    def __post_init__(self) -> None:
        self.rescreens = BackgroundRescreens(around=self.busy_threads.busy)

    def reload_pack_busy(self) -> tuple[LoadedPack, LoadedPack]:
        """``holder.reload()`` marked busy (blocking: run it in a thread)."""
        with self.busy_threads.busy():
            return self.holder.reload()
