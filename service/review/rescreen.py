"""Continuous rescreening: when list entries change, screen again only the monitored records that could match
them, and open or update alerts only where the outcome changed.

Finding those records never scans the monitored set. The monitored parties' names (read in one query) go
into the engine's own ``NameIndex``, this time with the *parties* as the indexed side; each changed entry's
name and aliases then retrieve the parties that share words with them (exactly, by a typo or by consonant
skeleton), and ``compare_names`` scores only those, in the direction screening uses (party against entry).
Identifiers are looked up exactly. Only the records of the parties that pass are screened again, with the
new pack, by the ordinary ``Screener``: it alone decides what is flagged, so a rescreen and a fresh
screening of the same record always agree.

Retrieval is deliberately looser than screening (``RETRIEVAL_SLACK`` below the pack's name floor): the index
bound is computed with the entry as the query, and a retrieval miss would be a missed alert, while a
retrieval extra only costs one more screening.

Memory and time: the index holds each distinct monitored name once and is built per rescreen, then dropped.
bench/rescreen.py measured, for 100,000 synthetic parties, a traced peak of about 1.06 GB (10.5 KB per party,
including the party rows read from the store and the vessel index, which is built only when a changed entry
is a vessel) and about 150 s to build each index under tracemalloc on a shared 2-core machine. Both are too
high for a server process and not yet addressed (keep the index between rescreens, index only the
party roles that can match).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.engine import Screener
from service.engine.names import NameKey, analyse_name, compare_names, initials
from service.engine.parties import ListedEntry, NameIndex, identifier_key
from service.engine.reference import NameWords
from service.errors import RecordError
from service.lists.diff import diff_lists
from service.model import Decision, Record, ScreeningResult, parse_record
from service.review.alerts import AlertChange, result_digest
from service.review.screening import open_alerts, suppress_allow_listed
from service.rulepack import Pack
from service.rulepack.spec import AliasSpec, EntryType, PartySpec, Verification
from service.store.database import Database
from service.store.monitored import (
    MONITOR_KEY,
    MonitoredParty,
    MonitoredRecord,
    MonitoredRepository,
    MonitoredScreening,
)
from service.store.screenings import ScreeningRepository, new_screening_id

log = logging.getLogger(__name__)

SOURCE = "rescreen"
#: How far below the pack's name floor a monitored name may score against a changed entry and still have its
#: record screened again (see the module docstring).
RETRIEVAL_SLACK = 0.1
#: The index's own bound is computed with the entry as the query; a lower floor there keeps names that score
#: well in the other direction (a short party name inside a long listed name).
_INDEX_FLOOR_SLACK = 0.3
#: No rapidfuzz cut on retrieval: every name over the bound is scored.
_NO_LIMIT = 1_000_000
#: Records screened and written per store transaction.
_CHUNK = 200


@dataclass
class RescreenReport:
    """What one rescreen did."""

    trigger: str
    started_at: datetime
    pack_version: str
    pack_digest: str
    entries_changed: int = 0
    monitored_parties: int = 0
    candidate_checks: int = 0
    candidate_parties: int = 0
    records_rescreened: int = 0
    outcomes_changed: int = 0
    alerts_opened: int = 0
    alerts_updated: int = 0
    alerts_reopened: int = 0
    now_clear: int = 0
    unreadable_records: int = 0
    index_seconds: float = 0.0
    seconds: float = 0.0
    finished_at: datetime | None = None
    changed_records: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO text)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data


def _entry_names(entry: PartySpec) -> list[str]:
    names = [entry.name]
    names.extend(alias.name if isinstance(alias, AliasSpec) else alias for alias in entry.aliases)
    return list(dict.fromkeys(n for n in names if n.strip()))


def _plain_spec(ident: str, name: str, entry_type: EntryType) -> PartySpec:
    """A spec holding only a name (no validation; every field given, since pydantic's default factories cost
    far more than the rest of indexing a name)."""
    return PartySpec.model_construct(id=ident, type=entry_type, name=name, aliases=[], countries=[], listings=[],
                                     identifiers={}, addresses=[], birth_dates=[], flag=None, related=[],
                                     verification=Verification.official, notes="", sources=[])


class MonitoredIndex:
    """The monitored parties' names and identifiers, indexed for retrieval by a changed list entry."""

    def __init__(self, parties: Sequence[MonitoredParty], words: NameWords) -> None:
        self.words = words
        self.size = len(parties)
        self._indexes: dict[bool, tuple[NameIndex, list[list[int]]]] = {}
        self._joined: dict[str, list[int]] = defaultdict(list)
        self._party_record = [party.record_id for party in parties]
        self._by_identifier: dict[str, list[int]] = defaultdict(list)
        # A party may be a ship (a counterparty or carrier named as the vessel), so party names go in both
        # indexes; vessels only in the vessel one, which is built only when a changed entry is a vessel.
        self._names: dict[bool, dict[str, list[int]]] = {False: defaultdict(list), True: defaultdict(list)}
        for position, party in enumerate(parties):
            if party.name:
                if party.kind != "vessel":
                    self._names[False][party.name].append(position)
                self._names[True][party.name].append(position)
            for kind, value in party.identifiers.items():
                try:
                    key = identifier_key(kind, str(value))
                except ValueError:
                    continue  # a kind this engine version does not know
                if key is not None:
                    self._by_identifier[key].append(position)
        index, members = self._index(vessel=False)
        for name in index.names:
            self._joined[name.key.joined].extend(members[name.entry])

    def _index(self, *, vessel: bool) -> tuple[NameIndex, list[list[int]]]:
        built = self._indexes.get(vessel)
        if built is None:
            by_name = self._names[vessel]
            texts = list(by_name)
            entry_type = EntryType.vessel if vessel else EntryType.organization
            specs = [ListedEntry(_plain_spec(f"m{i}", text, entry_type), "monitored", frozenset())
                     for i, text in enumerate(texts)]
            built = (NameIndex(specs, self.words, vessels=vessel), [by_name[text] for text in texts])
            self._indexes[vessel] = built
        return built

    def find(self, entry: PartySpec, floor: float) -> tuple[set[int], int]:
        """Positions of the monitored parties that could match ``entry``, and how many name pairs were scored."""
        found: set[int] = set()
        checks = 0
        for kind, values in entry.identifiers.items():
            for value in values:
                key = identifier_key(kind, value)
                if key is not None:
                    found.update(self._by_identifier.get(key, ()))
        vessel_entry = entry.type is EntryType.vessel
        for text in _entry_names(entry):
            for vessel in ((False, True) if vessel_entry else (False,)):
                entry_key = analyse_name(text, self.words, vessel=vessel)
                if not entry_key.tokens:
                    continue
                # acronyms and initials are matched whole by the screener
                found.update(self._joined.get(entry_key.joined, ()))
                if len(entry_key.tokens) >= 3:
                    found.update(self._joined.get(initials(entry_key), ()))
                added, scored = self._retrieve(vessel, entry_key, floor)
                found |= added
                checks += scored
        return found, checks

    def _retrieve(self, vessel: bool, entry_key: NameKey, floor: float) -> tuple[set[int], int]:
        index, members = self._index(vessel=vessel)
        found: set[int] = set()
        ids = index.candidates(entry_key, max(floor - _INDEX_FLOOR_SLACK, 0.0), limit=_NO_LIMIT)
        for name_id in ids:
            name = index.names[name_id]
            if compare_names(name.key, entry_key).score >= floor - RETRIEVAL_SLACK:
                found.update(members[name.entry])
        return found, len(ids)

    def records_of(self, positions: Iterable[int]) -> set[str]:
        return {self._party_record[p] for p in positions}


def changed_pack_entries(old: Pack, new: Pack) -> list[PartySpec]:
    """The party entries a rescreen must compare with after ``old`` was replaced by ``new``: added, removed and
    changed (in a field a match depends on), from every party list, curated and imported."""
    entries: list[PartySpec] = []
    for name in sorted(set(old.party_lists) | set(new.party_lists)):
        entries.extend(diff_lists(old.party_lists.get(name, []), new.party_lists.get(name, [])).entries_to_rescreen())
    return entries


def rescreen_entries(database: Database, screener: Screener, entries: Sequence[PartySpec], *,
                     trigger: str) -> RescreenReport:
    """Screen again, with ``screener``, the monitored records whose parties could match ``entries``."""
    started = time.perf_counter()
    report = _new_report(screener, trigger)
    report.entries_changed = len({entry.id for entry in entries})
    if not entries:
        return _finish(report, started)
    monitored = MonitoredRepository(database)
    parties = monitored.parties()
    report.monitored_parties = len(parties)
    index = MonitoredIndex(parties, screener.words)
    report.index_seconds = round(time.perf_counter() - started, 3)
    positions: set[int] = set()
    for entry in entries:
        found, checks = index.find(entry, screener.floor)
        positions |= found
        report.candidate_checks += checks
    report.candidate_parties = len(positions)
    del parties
    record_ids = sorted(index.records_of(positions))
    del index
    _rescreen_records(database, screener, monitored, record_ids, report)
    return _finish(report, started)


def rescreen_all(database: Database, screener: Screener, *, trigger: str) -> RescreenReport:
    """Screen every monitored record again (after a change of rules, which no entry diff can narrow)."""
    started = time.perf_counter()
    report = _new_report(screener, trigger)
    monitored = MonitoredRepository(database)
    record_ids = monitored.all_record_ids()
    report.monitored_parties = monitored.counts()[1]
    report.candidate_parties = report.monitored_parties
    _rescreen_records(database, screener, monitored, record_ids, report)
    return _finish(report, started)


def _new_report(screener: Screener, trigger: str) -> RescreenReport:
    return RescreenReport(trigger=trigger, started_at=datetime.now(UTC), pack_version=screener.pack.info.version,
                          pack_digest=screener.pack.info.digest)


def _finish(report: RescreenReport, started: float) -> RescreenReport:
    report.seconds = round(time.perf_counter() - started, 3)
    report.finished_at = datetime.now(UTC)
    log.info("rescreen finished", extra={"rescreen": {k: v for k, v in report.as_dict().items()
                                                      if k != "changed_records"}})
    return report


def _rescreen_records(database: Database, screener: Screener, monitored: MonitoredRepository,
                      record_ids: Sequence[str], report: RescreenReport) -> None:
    """Screen the records again; log, monitor and open alerts for those whose outcome changed (alerts are the
    system's, as for every screening)."""
    log_repository = ScreeningRepository(database)
    for start in range(0, len(record_ids), _CHUNK):
        stored = monitored.records(record_ids[start:start + _CHUNK])
        screened: list[tuple[MonitoredRecord, Record, ScreeningResult, float]] = []
        for item in stored.values():
            try:
                record = parse_record(item.record)
            except RecordError as exc:
                report.unreadable_records += 1
                log.warning("monitored record %s no longer parses: %s", item.record_id, exc)
                continue
            began = time.perf_counter()
            result = screener.screen(record)
            screened.append((item, record, result, (time.perf_counter() - began) * 1000))
        report.records_rescreened += len(screened)
        marked = suppress_allow_listed(database, screener.pack, [(result, record) for _, record, result, _ in screened])
        rows = []
        for (item, record, _, latency), result in zip(screened, marked, strict=True):
            digest = result_digest(result)
            if digest == item.last_result_digest:
                continue
            report.outcomes_changed += 1
            report.changed_records.append(item.record_id)
            if result.decision is Decision.clear:
                report.now_clear += 1
            rows.append(_log_row(item, record, result, digest, latency))
        if not rows:
            continue
        log_repository.add_many(rows)
        for change in open_alerts(database, rows):
            _count(report, change)


def _log_row(item: MonitoredRecord, record: Record, result: ScreeningResult, digest: str,
             latency_ms: float) -> dict[str, Any]:
    screening_id = new_screening_id(result.screened_at)
    record_json = record.model_dump(mode="json")
    return {
        "id": screening_id,
        "screened_at": result.screened_at,
        "source": SOURCE,
        "api_key_id": None,
        "record_id": record.id,
        "decision": result.decision.value,
        "risk_score": result.risk_score,
        "pack_version": result.pack.version,
        "pack_digest": result.pack.digest,
        "latency_ms": round(latency_ms, 3),
        "record": record_json,
        "result": result.model_dump(mode="json"),
        MONITOR_KEY: MonitoredScreening(record.id, record_json, SOURCE, screening_id, result.decision.value, digest,
                                        result.screened_at, result.pack.digest),
    }


def _count(report: RescreenReport, change: AlertChange) -> None:
    if change is AlertChange.opened:
        report.alerts_opened += 1
    elif change is AlertChange.updated:
        report.alerts_updated += 1
    elif change is AlertChange.reopened:
        report.alerts_reopened += 1
