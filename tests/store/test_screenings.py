"""The screening log: rows round-trip exactly, filters narrow, pages follow time order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.errors import NotFoundError
from service.store import (
    ApiKeyRepository,
    Database,
    Role,
    ScreeningFilter,
    ScreeningRepository,
    new_screening_id,
)

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def screening(at: datetime, *, record_id: str = "ship-1", decision: str = "clear", api_key_id: int | None = None,
              record: dict[str, Any] | None = None) -> dict[str, Any]:
    result = {"record_id": record_id, "decision": decision, "risk_score": 0, "flags": [],
              "pack": {"name": "p", "version": "1", "digest": "sha256:abc"}, "screened_at": at.isoformat()}
    return {"id": new_screening_id(at), "screened_at": at, "source": "api", "api_key_id": api_key_id,
            "record_id": record_id, "decision": decision, "risk_score": 0 if decision == "clear" else 80,
            "pack_version": "1", "pack_digest": "sha256:abc", "latency_ms": 1.25, "record": record,
            "result": result}


def test_screening_ids_are_uuid7_in_time_order() -> None:
    ids = [new_screening_id(T0 + timedelta(milliseconds=i)) for i in range(50)]
    assert ids == sorted(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert int(uuid.UUID(ids[0]).hex[:12], 16) == int(T0.timestamp() * 1000)
    assert len({new_screening_id(T0) for _ in range(1000)}) == 1000


def test_a_screening_round_trips_exactly(database: Database) -> None:
    key = ApiKeyRepository(database).create("orders", Role.screener, created_by="cli").key
    record = {"id": "ship-1", "parties": [{"name": "ООО «Вертикаль Алабуга»", "country": "RU"}]}
    row = screening(T0, api_key_id=key.id, decision="block", record=record)
    repository = ScreeningRepository(database)
    repository.add_many([row])
    stored = repository.get(row["id"])
    assert stored.screened_at == T0
    assert stored.screened_at.tzinfo is UTC
    assert stored.record == record
    assert stored.result == row["result"]
    assert (stored.api_key_id, stored.decision, stored.risk_score, stored.latency_ms, stored.pack_digest) == (
        key.id, "block", 80, 1.25, "sha256:abc")


def test_get_limited_to_a_key_hides_other_keys_screenings(database: Database) -> None:
    keys = ApiKeyRepository(database)
    mine, theirs = (keys.create(n, Role.screener, created_by="cli").key for n in ("mine", "theirs"))
    repository = ScreeningRepository(database)
    row = screening(T0, api_key_id=theirs.id)
    repository.add_many([row])
    assert repository.get(row["id"], api_key_id=theirs.id).id == row["id"]
    with pytest.raises(NotFoundError):
        repository.get(row["id"], api_key_id=mine.id)
    with pytest.raises(NotFoundError):
        repository.get(new_screening_id())


def test_filters_and_pages(database: Database) -> None:
    keys = ApiKeyRepository(database)
    a, b = (keys.create(n, Role.screener, created_by="cli").key for n in ("a", "b"))
    repository = ScreeningRepository(database)
    rows = [screening(T0 + timedelta(minutes=i), record_id=f"ship-{i % 3}",
                      decision=("block", "review", "clear")[i % 3], api_key_id=(a.id, b.id)[i % 2])
            for i in range(30)]
    repository.add_many(rows)
    newest_first = [r["id"] for r in reversed(rows)]

    assert [r.id for r in repository.list(ScreeningFilter(), limit=100)] == newest_first
    assert {r.record_id for r in repository.list(ScreeningFilter(record_id="ship-1"))} == {"ship-1"}
    assert len(repository.list(ScreeningFilter(record_id="ship-1"))) == 10
    assert {r.decision for r in repository.list(ScreeningFilter(decision="block"))} == {"block"}
    assert {r.api_key_id for r in repository.list(ScreeningFilter(api_key_id=b.id))} == {b.id}
    window = repository.list(ScreeningFilter(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=20)))
    assert [r.screened_at for r in window] == [T0 + timedelta(minutes=i) for i in range(19, 9, -1)]
    combined = repository.list(ScreeningFilter(record_id="ship-0", decision="block", api_key_id=a.id))
    assert [r.id for r in combined] == [r["id"] for r in reversed(rows)
                                        if r["record_id"] == "ship-0" and r["api_key_id"] == a.id]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = repository.list(ScreeningFilter(before_id=cursor), limit=7)
        if not page:
            break
        seen += [r.id for r in page]
        cursor = page[-1].id
    assert seen == newest_first


def test_add_nothing_is_a_no_op(database: Database) -> None:
    repository = ScreeningRepository(database)
    repository.add_many([])
    assert repository.list(ScreeningFilter()) == []
