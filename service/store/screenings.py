"""The screening log: one row per screening, written in batches, read back by id or by filters.

Screening ids are UUIDv7 strings: they start with the time in milliseconds, so sorting by id sorts by time
and a page of the log is a simple keyset range on the primary key.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import OperationalError

from service.errors import NotFoundError
from service.store.database import SQLITE_BUSY_TIMEOUT_MS, Database, store_errors
from service.store.monitored import MONITOR_KEY, write_monitored
from service.store.tables import Base, ScreeningRow

_SCREENINGS = Base.metadata.tables[ScreeningRow.__tablename__]


def new_screening_id(at: datetime | None = None) -> str:
    """A UUIDv7 (RFC 9562) for a screening made at ``at`` (default now): 48 bits of Unix milliseconds,
    then 74 random bits."""
    millis = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


@dataclass(frozen=True)
class ScreeningFilter:
    """What to list from the log; every field narrows the result."""

    record_id: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    api_key_id: int | None = None
    before_id: str | None = None


#: Called inside the transaction that writes screening log rows, with the connection and the rows.
InTransaction = Callable[[Connection, Sequence[dict[str, Any]]], object]
_COLUMNS = frozenset(_SCREENINGS.c.keys())


class ScreeningRepository:
    """Reads and batched writes of the screening log.

    Two hooks run in every write transaction, so that what the review workflow derives from a screening is
    committed with it, in one transaction per group commit rather than one per request: ``prepare`` before
    the rows are inserted (it may change them: the API applies the allow-list there, reading it in the same
    transaction), ``also_write`` after (the API opens or updates alerts there). Keys of a row that are not
    columns of the log are for the hooks and are not stored.
    """

    def __init__(self, database: Database, *, prepare: InTransaction | None = None,
                 also_write: InTransaction | None = None) -> None:
        self._db = database
        self._prepare = prepare
        self._also_write = also_write

    def add_many(self, rows: Sequence[dict[str, Any]], *, wait_for_lock: bool = True) -> bool:
        """Insert screenings (dicts keyed by ScreeningRow column names) in one transaction, with the
        monitored set's copy of the rows that carry one under ``MONITOR_KEY`` (see ``store.monitored``).

        With ``wait_for_lock`` false, on SQLite, give up at once (returning False, nothing written) when
        another connection holds the write lock, instead of waiting for it: the caller, on an event loop,
        then retries from a thread. Returns True once written.
        """
        if not rows:
            return True
        with store_errors("writing the screening log"), self._db.engine.connect() as connection:
            quick = not wait_for_lock and connection.dialect.name == "sqlite"
            raw = connection.connection.dbapi_connection
            if quick and raw is not None:
                raw.execute("PRAGMA busy_timeout=0")
            try:
                # Core insert rather than the ORM's bulk path: the rows are plain dicts already, and this
                # runs for every screening.
                with connection.begin():
                    if self._prepare is not None:
                        self._prepare(connection, rows)
                    # A row may carry its record's MonitoredScreening under MONITOR_KEY, and hook data.
                    monitored = [row[MONITOR_KEY] for row in rows if row.get(MONITOR_KEY) is not None]
                    logged = [row if row.keys() <= _COLUMNS else {k: v for k, v in row.items() if k in _COLUMNS}
                              for row in rows]
                    connection.execute(insert(_SCREENINGS), logged)
                    if monitored:  # the monitored set follows the log in the same transaction
                        write_monitored(connection, monitored)
                    if self._also_write is not None:
                        self._also_write(connection, logged)
            except OperationalError as exc:
                if quick and "locked" in str(exc.orig):
                    return False
                raise
            finally:
                if quick and raw is not None:
                    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return True

    def get(self, screening_id: str, *, api_key_id: int | None = None) -> ScreeningRow:
        """The screening with this id; when ``api_key_id`` is given, only if that key asked for it."""
        with self._db.session("reading the screening log") as session:
            row = session.get(ScreeningRow, screening_id)
            if row is None or (api_key_id is not None and row.api_key_id != api_key_id):
                raise NotFoundError(f"no screening with id {screening_id}")
            return row

    def list(self, where: ScreeningFilter, *, limit: int = 100) -> list[ScreeningRow]:
        """Screenings matching ``where``, newest first, at most ``limit``."""
        statement = select(ScreeningRow).order_by(ScreeningRow.id.desc()).limit(limit)
        if where.record_id is not None:
            statement = statement.where(ScreeningRow.record_id == where.record_id)
        if where.decision is not None:
            statement = statement.where(ScreeningRow.decision == where.decision)
        if where.since is not None:
            statement = statement.where(ScreeningRow.screened_at >= where.since)
        if where.until is not None:
            statement = statement.where(ScreeningRow.screened_at < where.until)
        if where.api_key_id is not None:
            statement = statement.where(ScreeningRow.api_key_id == where.api_key_id)
        if where.before_id is not None:
            statement = statement.where(ScreeningRow.id < where.before_id)
        with self._db.session("reading the screening log") as session:
            return list(session.scalars(statement))
