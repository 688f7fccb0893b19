"""The monitored set: the latest record of every screened record id, and its parties and vessels.

Written in the same transaction as the screening log (``ScreeningRepository.add_many`` passes it the rows
that carry a :data:`MONITOR_KEY` item), so a screening is logged and monitored together or not at all. A
rescreen streams the parties once (``iter_parties``), then loads only the records it needs.

A record id screened again replaces its record and parties: the monitored set follows the latest data
of each counterparty or shipment, never an old version of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from service.store.database import Database, store_errors
from service.store.tables import Base, MonitoredPartyRow, MonitoredRecordRow
from service.store.upsert import upsert_many

#: Key of a screening log row (dict) that carries its :class:`MonitoredScreening`.
MONITOR_KEY = "monitor"

_RECORDS = Base.metadata.tables[MonitoredRecordRow.__tablename__]
_PARTIES = Base.metadata.tables[MonitoredPartyRow.__tablename__]
#: Record ids per ``IN (...)`` clause (SQLite allows 32,766 bound parameters per statement).
_IN_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class MonitoredScreening:
    """What the monitored set keeps of one logged screening."""

    record_id: str
    record: dict[str, Any]
    source: str
    screening_id: str
    decision: str
    result_digest: str
    screened_at: datetime
    pack_digest: str


@dataclass(frozen=True, slots=True)
class MonitoredParty:
    """A monitored party or vessel as a rescreen compares it with changed list entries."""

    id: int
    record_id: str
    kind: str
    name: str
    identifiers: dict[str, str]
    role: str = ""


@dataclass(frozen=True, slots=True)
class MonitoredRecord:
    """A monitored record with what its last screening found."""

    record_id: str
    record: dict[str, Any]
    last_screening_id: str
    last_decision: str
    last_result_digest: str


def _party_rows(item: MonitoredScreening) -> list[dict[str, Any]]:
    rows = []
    for position, party in enumerate(item.record.get("parties") or ()):
        rows.append({"record_id": item.record_id, "position": position, "kind": "party",
                     "role": str(party.get("role") or "other")[:20], "name": str(party.get("name") or "")[:500],
                     "country": party.get("country"), "identifiers": dict(party.get("identifiers") or {}),
                     "last_screening_id": item.screening_id, "last_decision": item.decision})
    for position, vessel in enumerate(item.record.get("vessels") or ()):
        if not vessel.get("name") and not vessel.get("imo"):
            continue
        rows.append({"record_id": item.record_id, "position": position, "kind": "vessel", "role": "vessel",
                     "name": str(vessel.get("name") or "")[:500], "country": vessel.get("flag"),
                     "identifiers": {"imo": vessel["imo"]} if vessel.get("imo") else {},
                     "last_screening_id": item.screening_id, "last_decision": item.decision})
    return rows


def write_monitored(connection: Connection, items: Sequence[MonitoredScreening]) -> None:
    """Put the records of ``items`` (the latest per record id wins) and their parties in the monitored set,
    inside the caller's transaction."""
    latest: dict[str, MonitoredScreening] = {}
    for item in items:
        latest[item.record_id] = item
    if not latest:
        return
    # The record row first: on PostgreSQL its upsert takes the row lock, so two transactions writing the same
    # record id replace its parties one after the other instead of both inserting theirs.
    upsert_many(connection, _RECORDS, [
        {"record_id": item.record_id, "record": item.record, "source": item.source,
         "last_screening_id": item.screening_id, "last_decision": item.decision,
         "last_result_digest": item.result_digest, "last_screened_at": item.screened_at,
         "pack_digest": item.pack_digest} for item in latest.values()], ["record_id"])
    ids = list(latest)
    for start in range(0, len(ids), _IN_CHUNK):
        connection.execute(delete(_PARTIES).where(_PARTIES.c.record_id.in_(ids[start:start + _IN_CHUNK])))
    parties = [row for item in latest.values() for row in _party_rows(item)]
    if parties:
        connection.execute(insert(_PARTIES), parties)


class MonitoredRepository:
    """Reads of the monitored set, and writes outside the screening log (imports, tests)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add_many(self, items: Sequence[MonitoredScreening]) -> None:
        """Write ``items`` in one transaction (the screening log path uses :func:`write_monitored`)."""
        with store_errors("writing the monitored set"), self._db.engine.begin() as connection:
            write_monitored(connection, items)

    def parties(self) -> list[MonitoredParty]:
        """Every monitored party and vessel, in one list (small sets and tests; a rescreen streams them)."""
        return sorted(self.iter_parties(), key=lambda party: party.id)

    def iter_parties(self, batch: int = 5000) -> Iterator[MonitoredParty]:
        """Every monitored party and vessel, streamed (a rescreen reads the set once without holding it)."""
        statement = select(_PARTIES.c.id, _PARTIES.c.record_id, _PARTIES.c.kind, _PARTIES.c.role, _PARTIES.c.name,
                           _PARTIES.c.identifiers)
        with store_errors("reading the monitored set"), self._db.engine.connect() as connection:
            rows = connection.execution_options(stream_results=True, yield_per=batch).execute(statement)
            for row in rows:
                yield MonitoredParty(row.id, row.record_id, row.kind, row.name, row.identifiers or {}, row.role)

    def records(self, record_ids: Iterable[str]) -> dict[str, MonitoredRecord]:
        """The monitored records with these ids (ids not monitored are left out)."""
        wanted = sorted(set(record_ids))
        found: dict[str, MonitoredRecord] = {}
        columns = (_RECORDS.c.record_id, _RECORDS.c.record, _RECORDS.c.last_screening_id, _RECORDS.c.last_decision,
                   _RECORDS.c.last_result_digest)
        with store_errors("reading the monitored set"), self._db.engine.connect() as connection:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start:start + _IN_CHUNK]
                for row in connection.execute(select(*columns).where(_RECORDS.c.record_id.in_(chunk))):
                    found[row.record_id] = MonitoredRecord(row.record_id, row.record, row.last_screening_id,
                                                           row.last_decision, row.last_result_digest)
        return found

    def all_record_ids(self) -> list[str]:
        """Every monitored record id (for a full rescreen)."""
        with store_errors("reading the monitored set"), self._db.engine.connect() as connection:
            return list(connection.scalars(select(_RECORDS.c.record_id).order_by(_RECORDS.c.record_id)))

    def counts(self) -> tuple[int, int]:
        """(records, parties and vessels) in the monitored set."""
        with store_errors("reading the monitored set"), self._db.engine.connect() as connection:
            records = connection.scalar(select(func.count()).select_from(_RECORDS)) or 0
            parties = connection.scalar(select(func.count()).select_from(_PARTIES)) or 0
        return int(records), int(parties)
