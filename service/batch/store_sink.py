"""``--store``: a batch run feeds the store as the API does, so the nightly run and continuous rescreening
work from the same data.

* Every screened record joins the monitored set (``service.store.monitored``), clear ones too: a list
  change may concern any of them.
* Every result with flags goes to the screening log (source ``batch``), and the non-clear ones open or
  update their alerts for review.
* The allow-list is applied before anything is stored: the run reads the active entries once when it
  starts (or resumes), and the workers mark the matches they cover suppressed, in the output files too.

One transaction per chunk writes its log rows and its monitored records; the chunk's alerts follow in one
more (``open_alerts``). Exactly once, even across ``--resume``: a chunk is stored after its output is
durable and before the journal records it, so a run killed in between has stored rows the journal does
not know about. Their screening ids are derived from the run id and the row's place in the input, so the
resumed run leaves out the log rows already there; monitored records are replaced (the same data again),
and opening an alert is idempotent.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.batch.worker import ScreenedRecord
from service.errors import BatchError, StoreError

if TYPE_CHECKING:
    from service.review.allowlist import AllowListEntry
    from service.rulepack import Pack
    from service.settings import Settings
    from service.store import Database

SOURCE = "batch"
#: Screening ids per ``IN (...)`` clause (SQLite allows 32,766 bound parameters per statement).
_IN_CHUNK = 5000


def batch_screening_id(screened_at: datetime, run_id: str, input_index: int, row: int) -> str:
    """A UUIDv7 like the API's screening ids (48 bits of Unix milliseconds first, so ids sort by time), whose
    other bits come from the run and the row instead of chance, so a resumed run gives the same id."""
    millis = int(screened_at.timestamp() * 1000) & ((1 << 48) - 1)
    entropy = int.from_bytes(hashlib.sha256(f"{run_id}:{input_index}:{row}".encode()).digest()[:10], "big")
    value = millis << 80 | entropy
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


class StoreSink:
    """Writes each chunk's screened records to the store (see the module docstring)."""

    def __init__(self, database: Database, run_id: str, screened_at: datetime, pack: Pack) -> None:
        self._database = database
        self._pack = pack
        self._run_id = run_id
        self._screened_at = screened_at
        #: Screening log rows written by this process (rows a resumed run found stored are not counted).
        self.logged = 0
        #: Records written to the monitored set by this process.
        self.monitored = 0

    @classmethod
    def open(cls, settings: Settings, run_id: str, screened_at: datetime, pack: Pack) -> StoreSink:
        """Open (and migrate) the configured store; BatchError "store not available" when it cannot be used."""
        from service.store import open_database

        try:
            database = open_database(settings.resolved_database_url())
            database.ping()
        except StoreError as exc:
            raise BatchError(f"--store: store not available: {exc}") from None
        return cls(database, run_id, screened_at, pack)

    def allow_list(self) -> tuple[AllowListEntry, ...]:
        """The allow-list entries active at the run's ``screened_at``, for the workers to apply (oldest first,
        so where two entries cover the same match, the same one is named every time)."""
        from service.review.allowlist import active_entries

        try:
            return tuple(sorted(active_entries(self._database, now=self._screened_at), key=lambda entry: entry.id))
        except StoreError as exc:
            raise BatchError(f"--store: cannot read the allow-list: {exc}") from None

    def _log_row(self, item: ScreenedRecord, result: dict[str, Any], screening_id: str) -> dict[str, Any]:
        return {
            "id": screening_id,
            "screened_at": self._screened_at,
            "source": SOURCE,
            "api_key_id": None,
            "record_id": item.record_id,
            "decision": item.decision,
            "risk_score": item.risk_score,
            "pack_version": result["pack"]["version"],
            "pack_digest": result["pack"]["digest"],
            "latency_ms": item.latency_ms,
            "record": item.record,
            "result": result,
        }

    def write(self, screened: Sequence[ScreenedRecord]) -> None:
        """Store one chunk's screened records (StoreError when the store fails)."""
        if not screened:
            return
        from sqlalchemy import insert, select

        from service.review.screening import open_alerts
        from service.store import Base, ScreeningRow
        from service.store.database import store_errors
        from service.store.monitored import MonitoredScreening, write_monitored

        pack_digest = self._pack.info.digest
        logged: list[dict[str, Any]] = []
        monitored: list[MonitoredScreening] = []
        for item in screened:
            screening_id = batch_screening_id(self._screened_at, self._run_id, item.input_index, item.row)
            monitored.append(MonitoredScreening(item.record_id, item.record, SOURCE, screening_id, item.decision,
                                                item.result_digest, self._screened_at, pack_digest))
            if item.result is not None:
                logged.append(self._log_row(item, item.result, screening_id))
        table = Base.metadata.tables[ScreeningRow.__tablename__]
        fresh = logged
        with store_errors("storing the batch's screenings"), self._database.engine.begin() as connection:
            if logged:
                ids = [row["id"] for row in logged]
                stored: set[str] = set()
                for start in range(0, len(ids), _IN_CHUNK):
                    stored.update(connection.scalars(
                        select(table.c.id).where(table.c.id.in_(ids[start:start + _IN_CHUNK]))))
                fresh = [row for row in logged if row["id"] not in stored]
                if fresh:
                    connection.execute(insert(table), fresh)
            write_monitored(connection, monitored)
        self.logged += len(fresh)
        self.monitored += len(monitored)
        if logged:
            # every logged row, even those a resumed run found stored: the run may have stopped between
            # storing them and opening their alerts, and opening an alert again changes nothing
            open_alerts(self._database, logged)

    def close(self) -> None:
        self._database.dispose()
