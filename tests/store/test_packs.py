"""Pack loads are recorded in order; the latest one is what workers follow."""

from __future__ import annotations

from service.model import PackInfo
from service.store import Database, PackLoadRepository


def test_record_and_latest(database: Database) -> None:
    loads = PackLoadRepository(database)
    assert loads.latest() is None
    first = loads.record(PackInfo(name="pack", version="1", digest="sha256:1"), actor="key:1")
    second = loads.record(PackInfo(name="pack", version="2", digest="sha256:2"), actor="anonymous")
    latest = loads.latest()
    assert latest is not None
    assert (latest.id, latest.version, latest.digest, latest.actor) == (second.id, "2", "sha256:2", "anonymous")
    assert [row.id for row in loads.list()] == [second.id, first.id]
    assert latest.loaded_at.tzinfo is not None
