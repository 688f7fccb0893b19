"""The two steps every stored screening goes through (API ``/v1/screen`` and batch ``--store``): the
allow-list is applied before the result is stored, and the stored result opens or updates its alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from service.model import Record, ScreeningResult
from service.review.alerts import AlertChange, record_screening
from service.review.allowlist import active_entries, apply_allow_list, is_match
from service.rulepack import Pack
from service.store.database import Database


def suppress_allow_listed(database: Database, pack: Pack,
                          screened: Sequence[tuple[ScreeningResult, Record | dict[str, Any] | None]],
                          *, now: datetime | None = None) -> list[ScreeningResult]:
    """Each result with its allow-listed matches marked suppressed (one store query for all of them)."""
    ids = {e.entry for result, _ in screened for f in result.flags for e in f.evidence
           if e.entry is not None and is_match(e)}
    if not ids:
        return [result for result, _ in screened]
    entries = active_entries(database, sorted(ids), now=now)
    if not entries:
        return [result for result, _ in screened]
    return [apply_allow_list(result, pack, entries, record, now=now) for result, record in screened]


def open_alerts(database: Database, rows: Sequence[dict[str, Any]]) -> list[AlertChange]:
    """Open or update the alerts of screening log rows (dicts keyed like ScreeningRow); clear ones are
    skipped without parsing."""
    changes = []
    for row in rows:
        if row["decision"] == "clear":
            changes.append(AlertChange.not_flagged)
            continue
        changes.append(record_screening(database, screening_id=row["id"], source=row["source"], record=row["record"],
                                        result=row["result"]))
    return changes


def needs_review_steps(results: Sequence[ScreeningResult]) -> bool:
    """Whether any result has flags (clear results skip both steps and their store round trips)."""
    return any(result.flags for result in results)
