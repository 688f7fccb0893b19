"""insert_if_absent inserts once and reports whether it did, on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from service.store import Database, ServiceStateRow
from service.store.upsert import insert_if_absent


def test_insert_once(database: Database) -> None:
    table = ServiceStateRow.__table__
    now = datetime.now(UTC)
    with database.session("test") as session:
        assert insert_if_absent(session, table, {"key": "k", "value": "first", "updated_at": now}, ["key"])
    with database.session("test") as session:
        assert not insert_if_absent(session, table, {"key": "k", "value": "second", "updated_at": now}, ["key"])
    with database.session("test") as session:
        assert session.scalars(select(ServiceStateRow.value)).all() == ["first"]
