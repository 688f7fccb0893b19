"""Rescreen runs, the party-list snapshots their baselines refer to, and the write of a rescreen's results.

One rescreen runs at a time per store: ``start`` records a run as ``running`` only when no other run is
(checked and inserted under the store's write lock: an advisory lock on PostgreSQL, the database lock on
SQLite), because two rescreens with different packs could otherwise overwrite each other's newer results.
A running run renews its heartbeat (``updated_at``); one whose heartbeat stopped for ``STALE_AFTER`` belongs
to a process that died, and the next ``start`` marks it ``interrupted``.

A finished run may leave a *baseline*: digests of the rules and of each party list the whole monitored set
now agrees with. The entries behind each list digest are kept in ``list_snapshots`` (gzip of their JSON)
so that the next rescreen can diff the current lists against them, whatever happened to the files since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, insert, null, select, text, update

from service.model import PackInfo
from service.store.database import Database, store_errors
from service.store.monitored import MonitoredScreening, write_monitored
from service.store.screenings import InTransaction
from service.store.tables import Base, ListSnapshotRow, MonitoredRecordRow, RescreenRunRow, ScreeningRow
from service.store.upsert import insert_if_absent

_RUNS = Base.metadata.tables[RescreenRunRow.__tablename__]
_SNAPSHOTS = Base.metadata.tables[ListSnapshotRow.__tablename__]
_RECORDS = Base.metadata.tables[MonitoredRecordRow.__tablename__]
_SCREENINGS = Base.metadata.tables[ScreeningRow.__tablename__]

#: A running run whose heartbeat is older than this belongs to a process that died.
STALE_AFTER = timedelta(minutes=15)
#: Arbitrary constant: the PostgreSQL advisory lock taken while deciding whether a run may start.
_START_LOCK_KEY = 0x5C3EE42
#: Snapshots kept per list besides the ones the latest baseline refers to.
SNAPSHOTS_KEPT = 3
#: The counts a run reports, as columns of ``rescreen_runs``.
COUNT_FIELDS = ("entries_changed", "monitored_records", "monitored_parties", "names_analysed", "candidate_checks",
                "candidate_records", "records_rescreened", "outcomes_changed", "alerts_opened", "alerts_updated",
                "alerts_reopened", "now_clear", "skipped_newer", "unreadable_records")


class RunStatus(StrEnum):
    running = "running"
    finished = "finished"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


@dataclass(frozen=True)
class RescreenRun:
    """A stored rescreen run."""

    id: int
    trigger: str
    mode: str
    status: RunStatus
    actor: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    pack: PackInfo
    counts: dict[str, int]
    seconds: float
    error: str | None
    baseline: dict[str, Any] | None
    detail: dict[str, Any] = field(default_factory=dict)


def _run(row: Any) -> RescreenRun:
    return RescreenRun(id=row.id, trigger=row.trigger, mode=row.mode, status=RunStatus(row.status), actor=row.actor,
                       started_at=row.started_at, updated_at=row.updated_at, finished_at=row.finished_at,
                       pack=PackInfo(name=row.pack_name, version=row.pack_version, digest=row.pack_digest),
                       counts={name: getattr(row, name) for name in COUNT_FIELDS}, seconds=row.seconds,
                       error=row.error, baseline=row.baseline, detail=row.detail or {})


def _counts(counts: Mapping[str, int]) -> dict[str, int]:
    unknown = set(counts) - set(COUNT_FIELDS)
    if unknown:
        raise ValueError(f"unknown rescreen counts: {sorted(unknown)}")
    return {name: int(counts.get(name, 0)) for name in COUNT_FIELDS}


class RescreenRunRepository:
    """Rescreen runs and list snapshots."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # --- runs ----------------------------------------------------------------------------------------------

    def start(self, *, trigger: str, mode: str, actor: str, pack: PackInfo,
              now: datetime | None = None) -> RescreenRun | None:
        """Record a new run as running and return it; None (nothing written) while another run is running.

        Runs that stopped sending heartbeats are marked ``interrupted`` first.
        """
        now = now or datetime.now(UTC)
        values: dict[str, Any] = {"trigger": trigger[:20], "mode": mode[:20], "status": RunStatus.running.value,
                  "actor": actor[:100], "started_at": now, "updated_at": now, "finished_at": None,
                  "pack_name": pack.name[:200], "pack_version": pack.version[:100], "pack_digest": pack.digest[:100],
                  **_counts({}), "seconds": 0.0, "error": None, "baseline": null(), "detail": {}}
        with store_errors("starting a rescreen run"), self._db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _START_LOCK_KEY})
            # On SQLite this UPDATE (a write, even when it changes nothing) takes the database's write lock
            # for the rest of the transaction, so the check below and the insert cannot interleave.
            connection.execute(update(_RUNS).where(_RUNS.c.status == RunStatus.running.value,
                                                   _RUNS.c.updated_at < now - STALE_AFTER)
                               .values(status=RunStatus.interrupted.value, error="no heartbeat: its process "
                                       "stopped before the run ended"))
            if connection.scalar(select(func.count()).select_from(_RUNS)
                                 .where(_RUNS.c.status == RunStatus.running.value)):
                return None
            run_id = connection.execute(insert(_RUNS).returning(_RUNS.c.id), values).scalar_one()
            row = connection.execute(select(_RUNS).where(_RUNS.c.id == run_id)).one()
        return _run(row)

    def heartbeat(self, run_id: int, counts: Mapping[str, int] | None = None, *, mode: str | None = None) -> None:
        """Say the run is alive, with its counts so far (shown while it runs)."""
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if counts is not None:
            values.update(_counts(counts))
        if mode is not None:
            values["mode"] = mode[:20]
        with store_errors("updating a rescreen run"), self._db.engine.begin() as connection:
            connection.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(**values))

    def finish(self, run_id: int, *, status: RunStatus, counts: Mapping[str, int], seconds: float,
               detail: dict[str, Any], baseline: dict[str, Any] | None = None, error: str | None = None,
               mode: str | None = None) -> RescreenRun:
        """Record how the run ended (``baseline`` only counts on a finished run)."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": status.value, "updated_at": now, "finished_at": now, **_counts(counts),
                                  "seconds": round(seconds, 3), "detail": detail,
                                  # null(): SQL NULL, not JSON null, which "IS NOT NULL" would count
                                  "baseline": baseline if status is RunStatus.finished and baseline else null(),
                                  "error": error[:2000] if error else None}
        if mode is not None:
            values["mode"] = mode[:20]
        with store_errors("recording the end of a rescreen run"), self._db.engine.begin() as connection:
            connection.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(**values))
            row = connection.execute(select(_RUNS).where(_RUNS.c.id == run_id)).one()
        return _run(row)

    def get(self, run_id: int) -> RescreenRun | None:
        with store_errors("reading rescreen runs"), self._db.engine.connect() as connection:
            row = connection.execute(select(_RUNS).where(_RUNS.c.id == run_id)).one_or_none()
        return _run(row) if row is not None else None

    def last(self) -> RescreenRun | None:
        """The run started last (it may still be running)."""
        runs = self.list(limit=1)
        return runs[0] if runs else None

    def list(self, limit: int = 20, *, before_id: int | None = None) -> list[RescreenRun]:
        """Runs, newest first."""
        statement = select(_RUNS).order_by(_RUNS.c.id.desc()).limit(limit)
        if before_id is not None:
            statement = statement.where(_RUNS.c.id < before_id)
        with store_errors("reading rescreen runs"), self._db.engine.connect() as connection:
            return [_run(row) for row in connection.execute(statement)]

    def latest_baseline(self) -> dict[str, Any] | None:
        """The baseline of the last finished run that left one: what the monitored set agrees with."""
        statement = (select(_RUNS.c.baseline).where(_RUNS.c.status == RunStatus.finished.value,
                                                    _RUNS.c.baseline.is_not(None))
                     .order_by(_RUNS.c.id.desc()).limit(1))
        with store_errors("reading rescreen runs"), self._db.engine.connect() as connection:
            found = connection.scalar(statement)
        return found if isinstance(found, dict) and found else None

    # --- snapshots -----------------------------------------------------------------------------------------

    def has_snapshot(self, list_name: str, digest: str) -> bool:
        statement = select(_SNAPSHOTS.c.id).where(_SNAPSHOTS.c.list_name == list_name, _SNAPSHOTS.c.digest == digest)
        with store_errors("reading list snapshots"), self._db.engine.connect() as connection:
            return connection.scalar(statement) is not None

    def save_snapshot(self, list_name: str, digest: str, entry_count: int, entries: bytes) -> bool:
        """Keep one list version (``entries`` as the caller encoded them); False when it was kept already."""
        if self.has_snapshot(list_name, digest):
            return False
        # insert_if_absent: a concurrent saver of the same version may win
        with self._db.session("saving a list snapshot") as session:
            return insert_if_absent(session, _SNAPSHOTS, {
                "list_name": list_name[:200], "digest": digest[:100], "entry_count": entry_count,
                "created_at": datetime.now(UTC), "entries": entries}, ["list_name", "digest"])

    def load_snapshot(self, list_name: str, digest: str) -> bytes | None:
        """The encoded entries of one list version, or None when it was never kept (or pruned)."""
        statement = select(_SNAPSHOTS.c.entries).where(_SNAPSHOTS.c.list_name == list_name,
                                                       _SNAPSHOTS.c.digest == digest)
        with store_errors("reading list snapshots"), self._db.engine.connect() as connection:
            found = connection.scalar(statement)
        return bytes(found) if found is not None else None

    def prune_snapshots(self, keep: Mapping[str, str], per_list: int = SNAPSHOTS_KEPT) -> int:
        """Delete old snapshots: per list, all but the ``per_list`` newest and the one ``keep`` names (the
        latest baseline's). Returns how many were deleted."""
        statement = select(_SNAPSHOTS.c.id, _SNAPSHOTS.c.list_name, _SNAPSHOTS.c.digest).order_by(
            _SNAPSHOTS.c.list_name, _SNAPSHOTS.c.id.desc())
        with store_errors("pruning list snapshots"), self._db.engine.begin() as connection:
            seen: dict[str, int] = {}
            doomed = []
            for row in connection.execute(statement):
                seen[row.list_name] = seen.get(row.list_name, 0) + 1
                if seen[row.list_name] > per_list and keep.get(row.list_name) != row.digest:
                    doomed.append(row.id)
            if doomed:
                connection.execute(delete(_SNAPSHOTS).where(_SNAPSHOTS.c.id.in_(doomed)))
        return len(doomed)


def write_rescreened(database: Database, rows: Sequence[dict[str, Any]], monitored: Sequence[MonitoredScreening],
                     expected: Mapping[str, str], *, also_write: InTransaction | None = None) -> set[str]:
    """Log a rescreen's screenings, put them in the monitored set and run ``also_write`` (the alerts), all in
    one transaction, for the records whose last screening is still the one the rescreen read
    (``expected[record_id]``). Returns the record ids written.

    A record screened again meanwhile (a newer request, with newer data) is left alone: the rescreen's copy
    would replace newer data with older. The conditional update takes the record's row lock (PostgreSQL) or
    the write lock (SQLite) before anything else, so a concurrent screening of the same record either
    commits first (and the record is skipped here) or waits for this transaction.
    """
    if not rows:
        return set()
    with store_errors("writing rescreen results"), database.engine.begin() as connection:
        claimed = _claim(connection, rows, expected)
        kept = [row for row in rows if row["record_id"] in claimed]
        if kept:
            connection.execute(insert(_SCREENINGS), kept)
            write_monitored(connection, [item for item in monitored if item.record_id in claimed])
            if also_write is not None:
                also_write(connection, kept)
    return claimed


def _claim(connection: Connection, rows: Sequence[dict[str, Any]], expected: Mapping[str, str]) -> set[str]:
    claimed: set[str] = set()
    for row in rows:
        record_id = row["record_id"]
        statement = (update(_RECORDS)
                     .where(_RECORDS.c.record_id == record_id, _RECORDS.c.last_screening_id == expected[record_id])
                     .values(last_screening_id=row["id"]))
        if connection.execute(statement).rowcount == 1:
            claimed.add(record_id)
    return claimed
