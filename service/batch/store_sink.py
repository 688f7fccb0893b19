"""``--store``: flagged results of a batch run written to the screening log (source ``batch``), where the
review workflow picks them up as alerts.

Exactly once, even across ``--resume``: each chunk's flagged rows are committed (one transaction) after
its output is durable and before the journal records the chunk. A run killed between the two has stored
rows the journal does not know about; they are the first flagged rows after the journal's position, and
their screening ids are derived from the run id and the row's place in the input, so the resumed run looks
them up and skips those already stored until it meets the first one that is not.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.batch.worker import FlaggedResult
from service.errors import BatchError, NotFoundError, StoreError

if TYPE_CHECKING:
    from service.rulepack import Pack
    from service.settings import Settings
    from service.store import Database, ScreeningRepository

SOURCE = "batch"


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
    """Writes the flagged results of each chunk to the screening log."""

    def __init__(self, database: Database, repository: ScreeningRepository, run_id: str, screened_at: datetime,
                 resumed: bool, pack: Pack | None = None) -> None:
        self._database = database
        # with the pack, allow-listed matches are marked suppressed before storing, and alerts are opened
        self._pack = pack
        self._repository = repository
        self._run_id = run_id
        self._screened_at = screened_at
        # after a resume, rows may already be stored up to the first one that is not
        self._checking = resumed
        self.written = 0

    @classmethod
    def open(cls, settings: Settings, run_id: str, screened_at: datetime, resumed: bool,
             pack: Pack | None = None) -> StoreSink:
        """Open (and migrate) the configured store; BatchError "store not available" when it cannot be used."""
        from service.store import ScreeningRepository, open_database

        try:
            database = open_database(settings.resolved_database_url())
            database.ping()
        except StoreError as exc:
            raise BatchError(f"--store: store not available: {exc}") from None
        return cls(database, ScreeningRepository(database), run_id, screened_at, resumed, pack)

    def _row(self, flagged: FlaggedResult) -> dict[str, Any]:
        from pydantic import ValidationError

        from service.model import ScreeningResult
        from service.review.alerts import result_digest
        from service.store.monitored import MONITOR_KEY, MonitoredScreening

        result = flagged.result
        screening_id = batch_screening_id(self._screened_at, self._run_id, flagged.input_index, flagged.row)
        try:
            digest = result_digest(ScreeningResult.model_validate(result))
        except ValidationError:
            digest = ""  # unknown: the next rescreen of this record counts as a change
        monitored = MonitoredScreening(result["record_id"], flagged.record, SOURCE, screening_id, result["decision"],
                                       digest, self._screened_at, result["pack"]["digest"])
        return {
            MONITOR_KEY: monitored,
            "id": screening_id,
            "screened_at": self._screened_at,
            "source": SOURCE,
            "api_key_id": None,
            "record_id": result["record_id"],
            "decision": result["decision"],
            "risk_score": result["risk_score"],
            "pack_version": result["pack"]["version"],
            "pack_digest": result["pack"]["digest"],
            "latency_ms": flagged.latency_ms,
            "record": flagged.record,
            "result": result,
        }

    def write(self, flagged: Sequence[FlaggedResult]) -> None:
        """Store one chunk's flagged results in one transaction (StoreError when the store fails)."""
        if self._pack is not None:
            flagged = self._allow_listed(flagged)
        rows = [self._row(item) for item in flagged]
        all_rows = list(rows)
        if self._checking:
            while rows:
                try:
                    self._repository.get(rows[0]["id"])
                except NotFoundError:
                    self._checking = False
                    break
                rows.pop(0)
        self._repository.add_many(rows)
        self.written += len(rows)
        if self._pack is not None:
            from service.review.screening import open_alerts

            # every row, even those a resumed run found stored: opening an alert is idempotent, and the run
            # may have stopped between storing them and opening their alerts
            open_alerts(self._database, all_rows)

    def _allow_listed(self, flagged: Sequence[FlaggedResult]) -> list[FlaggedResult]:
        from dataclasses import replace

        from service.model import ScreeningResult
        from service.review.screening import suppress_allow_listed

        assert self._pack is not None
        parsed = [(ScreeningResult.model_validate(item.result), item.record) for item in flagged]
        marked = suppress_allow_listed(self._database, self._pack, parsed)
        return [item if new is old else replace(item, result=new.model_dump(mode="json"))
                for item, (old, _), new in zip(flagged, parsed, marked, strict=True)]

    def close(self) -> None:
        self._database.dispose()
