"""The two steps every stored screening goes through (API ``/v1/screen``, batch ``--store``, rescreens): the
allow-list is applied before the result is stored, and the stored result opens or updates its alert.

The API does both inside the screening log's own transaction (``ReviewSteps``, the log repository's hooks):
one allow-list query and one alert query per group commit, and the allow-list read in the transaction that
stores the result, so an entry revoked a moment ago is never applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from service.model import Record, ScreeningResult
from service.review.alerts import AlertChange, record_screenings, result_digest
from service.review.allowlist import active_entries, active_entries_in, apply_allow_list, is_match
from service.rulepack import Pack
from service.store.database import Database
from service.store.monitored import MONITOR_KEY

#: Key of a screening log row (dict) that carries its :class:`Screened` for the allow-list step.
SCREENED_KEY = "screened"


@dataclass(slots=True)
class Screened:
    """What the allow-list step needs of a screening row: the result as the engine gave it and the pack that
    gave it; ``final`` is set to the result as stored (allow-list applied) by ``apply_allow_list_in``."""

    result: ScreeningResult
    pack: Pack
    final: ScreeningResult | None = None

    @property
    def stored(self) -> ScreeningResult:
        """The result as stored and answered: ``final`` once the step ran."""
        return self.final if self.final is not None else self.result


def _matched_entries(results: Sequence[ScreeningResult]) -> set[str]:
    return {e.entry for result in results for f in result.flags for e in f.evidence
            if e.entry is not None and is_match(e)}


def apply_allow_list_in(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The log repository's ``prepare`` hook: apply the allow-list to rows carrying a :class:`Screened`, in
    the transaction that stores them (one query for all rows), updating their decision, score, result and
    monitored copy. Always recomputed from the engine's result, so a retried transaction stays right."""
    screened = [(row, row[SCREENED_KEY]) for row in rows if row.get(SCREENED_KEY) is not None]
    ids = _matched_entries([item.result for _, item in screened if item.result.flags])
    entries = active_entries_in(connection, sorted(ids)) if ids else []
    now = datetime.now(UTC)
    for row, item in screened:
        final = apply_allow_list(item.result, item.pack, entries, row["record"], now=now) if entries else item.result
        if final is item.result and item.final is None:
            continue
        item.final = final
        row["decision"] = final.decision.value
        row["risk_score"] = final.risk_score
        row["result"] = final.model_dump(mode="json")
        monitored = row.get(MONITOR_KEY)
        if monitored is not None:
            row[MONITOR_KEY] = replace(monitored, decision=final.decision.value, result_digest=result_digest(final))


def suppress_allow_listed(database: Database, pack: Pack,
                          screened: Sequence[tuple[ScreeningResult, Record | dict[str, Any] | None]],
                          *, now: datetime | None = None) -> list[ScreeningResult]:
    """Each result with its allow-listed matches marked suppressed (one store query for all of them)."""
    ids = _matched_entries([result for result, _ in screened])
    if not ids:
        return [result for result, _ in screened]
    entries = active_entries(database, sorted(ids), now=now)
    if not entries:
        return [result for result, _ in screened]
    return [apply_allow_list(result, pack, entries, record, now=now) for result, record in screened]


def open_alerts(database: Database, rows: Sequence[dict[str, Any]]) -> list[AlertChange]:
    """Open or update the alerts of screening log rows already committed (dicts keyed like ScreeningRow),
    in one transaction; clear ones are skipped without parsing."""
    return record_screenings(database, rows)
