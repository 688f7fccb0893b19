"""What a running app holds: settings, store, log writer, the pack holder, metrics and the key cache."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass, field

from service.api.metrics import Metrics
from service.api.packs import PackHolder
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
    #: Rescreens after pack reloads, in a thread of their own (closed at shutdown before the store).
    rescreens: BackgroundRescreens = field(default_factory=BackgroundRescreens)
