"""The one place that knows how each dialect spells "insert unless it already exists"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.errors import StoreError


def insert_if_absent(session: Session, table: Table, values: dict[str, Any], key: list[str]) -> bool:
    """Insert ``values`` unless a row with the same ``key`` columns exists; True when this call inserted.

    Atomic on both dialects (``ON CONFLICT DO NOTHING``), so concurrent callers, even in other processes,
    get exactly one winner.
    """
    dialect = session.get_bind().dialect.name
    returned = [table.c[name] for name in key]
    # RETURNING rather than rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    if dialect == "postgresql":
        pg_statement = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
        inserted = session.execute(pg_statement.returning(*returned)).first()
    elif dialect == "sqlite":
        lite_statement = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
        inserted = session.execute(lite_statement.returning(*returned)).first()
    else:
        raise StoreError(f"the store supports SQLite and PostgreSQL, not {dialect!r}")
    return inserted is not None


def upsert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], key: list[str]) -> None:
    """Insert ``rows``, replacing every other column of a row whose ``key`` columns already exist.

    ``ON CONFLICT DO UPDATE`` on both dialects: concurrent writers of the same key wait for each other
    instead of failing on the unique key.
    """
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        pg_statement = postgresql.insert(table)
        updates = {c.name: pg_statement.excluded[c.name] for c in table.columns if c.name not in key}
        connection.execute(pg_statement.on_conflict_do_update(index_elements=key, set_=updates), list(rows))
    elif dialect == "sqlite":
        lite_statement = sqlite.insert(table)
        lite_updates = {c.name: lite_statement.excluded[c.name] for c in table.columns if c.name not in key}
        connection.execute(lite_statement.on_conflict_do_update(index_elements=key, set_=lite_updates), list(rows))
    else:
        raise StoreError(f"the store supports SQLite and PostgreSQL, not {dialect!r}")
