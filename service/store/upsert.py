"""The one place that knows how each dialect spells "insert unless it already exists"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


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
        raise NotImplementedError(f"no upsert for dialect {dialect!r}")
    return inserted is not None
