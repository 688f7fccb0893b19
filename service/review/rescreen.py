"""Continuous rescreening: when list entries (or the rules) change, screen again the monitored records whose
outcome could change, open or update alerts only where it did, and keep a report of every run.

**What to rescreen.** A store keeps, with its last finished rescreen, a *baseline*: a digest of the rules
(with the matcher's version and reference data) and of every party list the whole monitored set agrees with,
and a snapshot of each such list's entries. ``plan_changes`` compares the current pack with it: changed rules
mean every record is screened again (``screening rescreen``) or, after an automatic trigger, a note saying
so; a changed list is diffed entry by entry against its snapshot (``service.lists.diff``), whatever happened
to the list files since, including imports made without a store. Without a baseline yet, the command line
screens everything once (which sets one); an automatic trigger diffs the previous pack or list against the
new one.

**Which records.** The changed entries (their old and new versions) go into the engine's own ``NameIndex``,
a tiny one, built exactly as the screener builds its list index. Every distinct monitored name is then
analysed once and looked up in it in the direction screening uses (the party's name as the query), with the
retrieval bound and the score taken ``RETRIEVAL_SLACK`` below the pack's name floor, whole-name and initials
look-ups as the screener makes them, and identifiers compared exactly. Only the records of the names that
pass are screened again, by the ordinary ``Screener``: it alone decides what is flagged, so a rescreen and a
fresh screening of the same record always agree. Nothing of the monitored set is held in memory but the
distinct names seen so far and the verdict on each.

Why this shape: an index over the *monitored* names (the first version) had to analyse every name too, and
then keep, per name, its analysis, postings and typo variants: bench/rescreen.py measured about 150 s and a
1.06 GB traced peak to build it for 100,000 parties. Analysing a name costs tens of microseconds; keeping it
is what cost the time and memory. Now, for the same 100,000 parties and a 10-entry diff, bench/rescreen.py
measures 93,487 distinct names looked up, 399 name pairs scored and 7 records screened again, in 3.4 s
(7.4 s with the 2-core machine at load 4.4; 45 s under tracemalloc) with a traced peak of 22 MB. A diff as
large as a new list costs about what screening every monitored record again costs: the 15,443 OFAC SDN entries
added, against 20,000 monitored records (37,331 distinct names), take 5.8 s to scan (idle machine;
``--added-list``), and rescreening all 20,000 records takes 4.6 s.

**Writes.** A record whose outcome changed is logged (source ``rescreen``), replaced in the monitored set and
its alert opened or updated in one transaction, and only if nobody screened that record again meanwhile
(see ``service.store.rescreens.write_rescreened``). One rescreen runs at a time per store.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from service import __version__
from service.engine import Screener
from service.engine.names import analyse_name, compare_names, initials
from service.engine.parties import CANDIDATES, ListedEntry, NameIndex, identifier_key
from service.engine.reference import NameWords
from service.errors import RecordError, StoreError
from service.lists.diff import diff_lists
from service.lists.model import CompiledList
from service.model import Decision, Record, ScreeningResult, parse_record
from service.review.alerts import AlertChange, record_alerts, result_digest
from service.review.audit import audit_event
from service.review.screening import suppress_allow_listed
from service.rulepack import Pack
from service.rulepack.compiled import PARTY_ENTRIES, encode_entries, entries_digest
from service.rulepack.spec import EntryType, PartySpec
from service.store.database import Database
from service.store.monitored import MonitoredRecord, MonitoredRepository, MonitoredScreening
from service.store.rescreens import RescreenRun, RescreenRunRepository, RunStatus, write_rescreened
from service.store.screenings import new_screening_id

log = logging.getLogger(__name__)

SOURCE = "rescreen"
#: How far below the pack's name floor a monitored name may score against a changed entry and still have its
#: record screened again: a changed entry scoring just below the floor may still push another entry out of
#: the few candidates the screener scores in full, and a retrieval extra only costs one more screening.
RETRIEVAL_SLACK = 0.1
#: Changed names scored per monitored name, the best by the screener's own ranking. The screener scores only
#: its best ``CANDIDATES`` names of the whole list, ranked by how each name alone compares with the query, so
#: a changed entry it would score ranks at least as high among the changed entries alone; four times as many
#: leave room for the old and new versions of changed entries competing with each other. Unbounded, a whole
#: new list (OFAC SDN against 37,331 monitored names) scored 397,398 pairs in 11.8 s; with this, 54,918 in
#: 5.8 s, and the same alerts.
_RESCREEN_CANDIDATES = 4 * CANDIDATES
#: Records screened and written per store transaction.
_CHUNK = 200
#: Changed records listed in a stored run report (the counts are always complete).
CHANGES_KEPT = 1000
#: Seconds between heartbeats of a running run (and checks for cancellation).
_HEARTBEAT_SECONDS = 5.0
#: Seconds between attempts to start while another run is running.
_WAIT_POLL_SECONDS = 2.0
#: Party roles the screener also compares with vessel entries (a counterparty or carrier may be a ship);
#: the same set as the screener's, which a test checks.
VESSEL_QUERY_ROLES = frozenset({"counterparty", "carrier", "other"})


class Trigger(StrEnum):
    """Why a rescreen ran."""

    cli = "cli"
    pack_reload = "pack-reload"
    list_import = "list-import"


class Mode(StrEnum):
    """What a rescreen compared: everything, the changes since the baseline, or entries it was given."""

    all = "all"
    changed = "changed"
    since_list = "since-list"
    entries = "entries"


class Cancelled(Exception):
    """Raised inside a run when its cancel event is set (the server is shutting down)."""


# --- what the monitored set agrees with ---------------------------------------------------------------------


def rules_digest(pack: Pack) -> str:
    """sha256 of everything besides the party lists that decides a screening's outcome: thresholds, rules,
    goods, ports, country groups, address markers, term sets, and the matcher (its version and reference
    data). The pack's own digest would not do: it also covers the curated list, and a list change needs only
    a diff, not a rescreen of everything."""
    digest = hashlib.sha256()

    def feed(label: str, data: str | bytes) -> None:
        digest.update(label.encode())
        digest.update(b"\0")
        digest.update(data.encode() if isinstance(data, str) else data)
        digest.update(b"\0")

    feed("engine", __version__)
    for item in sorted(resources.files("service.engine").joinpath("data").iterdir(), key=lambda i: i.name):
        if item.is_file():
            feed(f"data/{item.name}", item.read_bytes())
    feed("thresholds", pack.spec.thresholds.model_dump_json())
    for label, specs in (("rule", pack.rules), ("goods", pack.goods), ("port", pack.ports),
                         ("group", pack.country_groups.values()), ("marker", pack.address_markers.values()),
                         ("terms", pack.term_sets.values())):
        for spec in sorted(specs, key=lambda s: s.id):
            feed(label, spec.model_dump_json())
    return digest.hexdigest()


@dataclass(frozen=True)
class PackState:
    """Digests of what a pack screens with: its rules and each party list."""

    rules: str
    lists: dict[str, str]

    @classmethod
    def of(cls, pack: Pack) -> PackState:
        return cls(rules_digest(pack), {name: entries_digest(entries) for name, entries in pack.party_lists.items()})

    def as_baseline(self) -> dict[str, Any]:
        return {"rules": self.rules, "lists": dict(self.lists)}


def _decode_snapshot(data: bytes) -> list[PartySpec]:
    return PARTY_ENTRIES.validate_json(gzip.decompress(data))


def save_snapshots(runs: RescreenRunRepository, pack: Pack, lists: Mapping[str, str]) -> None:
    """Keep the entries of the pack's lists ``lists`` names (by digest) unless kept already."""
    for name, digest in lists.items():
        entries = pack.party_lists.get(name)
        if entries is None or runs.has_snapshot(name, digest):
            continue
        encoded = encode_entries(entries)
        if hashlib.sha256(encoded).hexdigest() != digest:
            continue  # another version than the baseline names: never file entries under the wrong digest
        runs.save_snapshot(name, digest, len(entries), gzip.compress(encoded, compresslevel=6, mtime=0))


# --- plans ---------------------------------------------------------------------------------------------------


@dataclass
class RescreenPlan:
    """What a run will compare, why, and the baseline it leaves when it finishes (None: it leaves none)."""

    mode: Mode
    reason: str
    entries: list[PartySpec] = field(default_factory=list)
    lists: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    baseline: dict[str, Any] | None = None

    @property
    def entry_ids(self) -> set[str]:
        return {entry.id for entry in self.entries}


@dataclass(frozen=True)
class PlanContext:
    """What a planner may look at: the store's runs and snapshots, and the pack the run screens with."""

    runs: RescreenRunRepository
    pack: Pack
    state: PackState


Planner = Callable[[PlanContext], RescreenPlan]


def plan_all(reason: str = "every monitored record was asked for (--all)") -> Planner:
    """Screen every monitored record again; the run leaves the pack's state as the baseline."""
    def plan(context: PlanContext) -> RescreenPlan:
        return RescreenPlan(Mode.all, reason, baseline=context.state.as_baseline())
    return plan


def plan_entries(entries: Sequence[PartySpec], reason: str = "entries given by the caller") -> Planner:
    """Compare the monitored parties with ``entries`` (the old and new versions of changed entries)."""
    def plan(context: PlanContext) -> RescreenPlan:
        return RescreenPlan(Mode.entries, reason, list(entries))
    return plan


def _diff_counts(old: Sequence[PartySpec], new: Sequence[PartySpec]) -> tuple[list[PartySpec], dict[str, int]]:
    diff = diff_lists(list(old), list(new))
    return diff.entries_to_rescreen(), {"added": len(diff.added), "removed": len(diff.removed),
                                        "changed": len(diff.changed)}


def plan_since_lists(old_lists: Sequence[CompiledList]) -> Planner:
    """Compare each of ``old_lists`` (earlier compiled versions) with the same list in the pack."""
    def plan(context: PlanContext) -> RescreenPlan:
        result = RescreenPlan(Mode.since_list, "changes since the compiled list files given (--since-list)")
        for old in old_lists:
            current = context.pack.party_lists.get(old.meta.name)
            if current is None:
                raise StoreError(f"list {old.meta.name!r} is not screened with by this pack (its lists: "
                                 f"{', '.join(sorted(context.pack.party_lists))}); nothing to compare it with")
            entries, counts = _diff_counts(old.entries, current)
            result.entries.extend(entries)
            result.lists[old.meta.name] = counts
        return result
    return plan


def plan_changes(previous: Mapping[str, Sequence[PartySpec]] | None = None, *,
                 full_when_unknown: bool) -> Planner:
    """Compare the pack with the store's baseline (see the module docstring).

    ``previous`` holds the party lists the pack replaced, when known (a reload, an import); they stand in for
    the baseline while there is none. With ``full_when_unknown`` (the command line) anything the baseline
    cannot settle (no baseline, changed rules, a missing snapshot) means screening everything again; without
    it (automatic triggers, which must stay cheap) the run diffs what it can and says what is left.
    """
    def plan(context: PlanContext) -> RescreenPlan:
        state = context.state
        base = context.runs.latest_baseline()
        if base is None:
            if full_when_unknown:
                return plan_all("no earlier rescreen left a baseline: every monitored record is screened "
                                "once, which sets one")(context)
            result = RescreenPlan(Mode.changed, "no baseline yet: the lists before this change were diffed with "
                                                "the new ones")
            result.notes.append("no rescreen has covered the whole monitored set yet; run `screening rescreen` "
                                "once to set a baseline")
            for name in sorted(set(previous or {}) | set(context.pack.party_lists)):
                if previous is None or name not in previous:
                    continue  # nothing known about this list before: it was not part of the change
                entries, counts = _diff_counts(previous[name], context.pack.party_lists.get(name, []))
                if entries:
                    result.entries.extend(entries)
                    result.lists[name] = counts
            return result
        rules_changed = base.get("rules") != state.rules
        if rules_changed and full_when_unknown:
            return plan_all("the rules, thresholds or matcher changed since the last baseline: every "
                            "monitored record is screened again")(context)
        result = RescreenPlan(Mode.changed, "changes since the last baseline")
        base_lists: dict[str, str] = dict(base.get("lists") or {})
        complete = True
        for name in sorted(set(base_lists) | set(state.lists)):
            old_digest, new_digest = base_lists.get(name), state.lists.get(name)
            if old_digest == new_digest:
                continue
            old_entries = _baseline_entries(context.runs, name, old_digest, previous)
            if old_entries is None:
                if full_when_unknown:
                    return plan_all(f"the baseline's version of list {name} is no longer kept: every "
                                    "monitored record is screened again")(context)
                complete = False
                if previous is None or name not in previous:
                    result.notes.append(f"list {name}: the baseline's version is no longer kept and nothing "
                                        "else says what it held; run `screening rescreen`")
                    continue
                result.notes.append(f"list {name}: the baseline's version is no longer kept; diffed with the "
                                    "version this change replaced")
                old_entries = list(previous[name])
            entries, counts = _diff_counts(old_entries, context.pack.party_lists.get(name, []))
            result.entries.extend(entries)
            result.lists[name] = counts
        if rules_changed:
            result.notes.append("the rules, thresholds or matcher changed since the last baseline: only list "
                                "changes were rescreened; run `screening rescreen` to screen every record again")
        if complete:
            result.baseline = {"rules": base.get("rules") if rules_changed else state.rules,
                               "lists": dict(state.lists)}
        return result
    return plan


def _baseline_entries(runs: RescreenRunRepository, name: str, digest: str | None,
                      previous: Mapping[str, Sequence[PartySpec]] | None) -> list[PartySpec] | None:
    """The entries of list ``name`` at the baseline (empty when it did not exist), or None when unknown."""
    if digest is None:
        return []
    if previous is not None and name in previous and entries_digest(previous[name]) == digest:
        return list(previous[name])  # the version the change replaced is the baseline's: no snapshot to read
    data = runs.load_snapshot(name, digest)
    return _decode_snapshot(data) if data is not None else None


def changed_pack_entries(old: Pack, new: Pack) -> list[PartySpec]:
    """The party entries a rescreen must compare with after ``old`` was replaced by ``new``: added, removed and
    changed (in a field a match depends on), from every party list, curated and imported."""
    entries: list[PartySpec] = []
    for name in sorted(set(old.party_lists) | set(new.party_lists)):
        entries.extend(diff_lists(old.party_lists.get(name, []), new.party_lists.get(name, [])).entries_to_rescreen())
    return entries


# --- finding the records --------------------------------------------------------------------------------------


class ChangedEntryIndex:
    """Changed list entries indexed as the screener indexes a list; each monitored name is a query."""

    def __init__(self, entries: Sequence[PartySpec], words: NameWords, floor: float) -> None:
        self.words = words
        self.floor = max(floor - RETRIEVAL_SLACK, 0.0)
        self.name_checks = 0
        self.names_analysed = 0
        self._indexes: dict[bool, NameIndex] = {}
        self._whole: dict[bool, set[str]] = {}
        self._initials: dict[bool, set[str]] = {}
        for vessel in (False, True):
            chosen = [ListedEntry(e, "changed", frozenset()) for e in entries
                      if (e.type is EntryType.vessel) is vessel]
            if not chosen:
                continue
            index = NameIndex(chosen, words, vessels=vessel)
            self._indexes[vessel] = index
            # Acronyms match whole and long names by their initials, outside the word postings: any
            # monitored name equal to either is kept (the screener is stricter about both).
            self._whole[vessel] = {name.key.joined for name in index.names}
            self._initials[vessel] = {initials(name.key) for name in index.names if len(name.key.tokens) >= 3}
        self.identifiers: set[str] = set()
        for entry in entries:
            for kind, values in entry.identifiers.items():
                for value in values:
                    key = identifier_key(kind, value)
                    if key is not None:
                        self.identifiers.add(key)

    def searches(self, *, vessel: bool) -> bool:
        """Whether any changed entry is of this kind (party or vessel)."""
        return vessel in self._indexes

    def matches_identifier(self, kind: str, value: object) -> bool:
        try:
            key = identifier_key(kind, str(value))
        except ValueError:
            return False  # a kind this engine version does not know
        return key is not None and key in self.identifiers

    def matches_name(self, name: str, *, vessel: bool) -> bool:
        """Whether ``name``, screened as a party (or a vessel), could match a changed entry."""
        index = self._indexes.get(vessel)
        if index is None:
            return False
        key = analyse_name(name, self.words, vessel=vessel)
        self.names_analysed += 1
        if not key.tokens:
            return False
        if key.joined in self._whole[vessel] or (len(key.tokens) == 1 and key.tokens[0] in self._initials[vessel]):
            return True
        for name_id in index.candidates(key, self.floor, limit=_RESCREEN_CANDIDATES):
            self.name_checks += 1
            if compare_names(key, index.names[name_id].key).score >= self.floor:
                return True
        return False


def affected_records(monitored: MonitoredRepository, index: ChangedEntryIndex,
                     progress: Callable[[int], None] | None = None) -> tuple[list[str], int]:
    """Ids of the monitored records with a party that could match a changed entry, and how many parties
    were read. Each distinct name is analysed once per kind (party, vessel); ``progress`` is called every
    10,000 parties with the count so far."""
    verdicts: dict[bool, dict[str, bool]] = {False: {}, True: {}}
    found: set[str] = set()
    read = 0
    for party in monitored.iter_parties():
        read += 1
        if progress is not None and read % 10_000 == 0:
            progress(read)
        if party.record_id in found:
            continue
        if index.identifiers and any(index.matches_identifier(k, v) for k, v in party.identifiers.items()):
            found.add(party.record_id)
            continue
        if not party.name:
            continue
        kinds = (True,) if party.kind == "vessel" else (False, True) if party.role in VESSEL_QUERY_ROLES else (False,)
        for vessel in kinds:
            if not index.searches(vessel=vessel):
                continue
            seen = verdicts[vessel]
            verdict = seen.get(party.name)
            if verdict is None:
                verdict = seen[party.name] = index.matches_name(party.name, vessel=vessel)
            if verdict:
                found.add(party.record_id)
                break
    return sorted(found), read


# --- the run ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordChange:
    """A record whose outcome a rescreen changed."""

    record_id: str
    screening_id: str
    before: str
    after: str
    alert: str


@dataclass
class RescreenReport:
    """What one rescreen did."""

    trigger: str
    actor: str
    started_at: datetime
    pack_name: str
    pack_version: str
    pack_digest: str
    run_id: int | None = None
    mode: str = Mode.changed.value
    status: str = RunStatus.running.value
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    lists: dict[str, dict[str, int]] = field(default_factory=dict)
    entries_changed: int = 0
    monitored_records: int = 0
    monitored_parties: int = 0
    names_analysed: int = 0
    candidate_checks: int = 0
    candidate_records: int = 0
    records_rescreened: int = 0
    outcomes_changed: int = 0
    alerts_opened: int = 0
    alerts_updated: int = 0
    alerts_reopened: int = 0
    now_clear: int = 0
    skipped_newer: int = 0
    unreadable_records: int = 0
    scan_seconds: float = 0.0
    seconds: float = 0.0
    finished_at: datetime | None = None
    error: str | None = None
    changes: list[RecordChange] = field(default_factory=list)

    @property
    def changed_records(self) -> list[str]:
        return [change.record_id for change in self.changes]

    def counts(self) -> dict[str, int]:
        """The counts stored as columns of the run."""
        return {name: getattr(self, name) for name in (
            "entries_changed", "monitored_records", "monitored_parties", "names_analysed", "candidate_checks",
            "candidate_records", "records_rescreened", "outcomes_changed", "alerts_opened", "alerts_updated",
            "alerts_reopened", "now_clear", "skipped_newer", "unreadable_records")}

    def detail(self) -> dict[str, Any]:
        """What the run keeps besides the counts (changes: the first ``CHANGES_KEPT``)."""
        return {"reason": self.reason, "notes": list(self.notes), "lists": self.lists,
                "scan_seconds": self.scan_seconds,
                "changes": [asdict(change) for change in self.changes[:CHANGES_KEPT]],
                "changes_total": len(self.changes)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO text)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data


def _start(runs: RescreenRunRepository, screener: Screener, *, trigger: str, actor: str, wait: float | None,
           cancel: threading.Event | None) -> RescreenRun:
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        run = runs.start(trigger=trigger, mode=Mode.changed.value, actor=actor, pack=screener.pack.info)
        if run is not None:
            return run
        other = runs.last()
        busy = (f"another rescreen is running (run {other.id}, {other.trigger}, started "
                f"{other.started_at:%Y-%m-%d %H:%M:%S} UTC by {other.actor})" if other else
                "another rescreen is running")
        if deadline is not None and time.monotonic() >= deadline:
            raise StoreError(f"{busy}; try again when it ends")
        if cancel is not None and cancel.wait(_WAIT_POLL_SECONDS):
            raise Cancelled(busy)
        if cancel is None:
            time.sleep(_WAIT_POLL_SECONDS)


def run_rescreen(database: Database, screener: Screener, planner: Planner, *, trigger: str, actor: str = "system",
                 wait: float | None = 0.0, cancel: threading.Event | None = None) -> RescreenReport:
    """Plan and run one rescreen with ``screener`` and record it in the store (``rescreen_runs``).

    ``wait`` is how long to wait for another running rescreen to end (None: as long as it takes); after that a
    StoreError says which run is in the way. ``cancel``, when set, stops the run between two steps (it is
    recorded as cancelled). A run that fails is recorded as failed with its error, which is raised again.
    """
    runs = RescreenRunRepository(database)
    run = _start(runs, screener, trigger=trigger, actor=actor, wait=wait, cancel=cancel)
    began = time.perf_counter()
    pack = screener.pack
    report = RescreenReport(trigger=trigger, actor=actor, started_at=run.started_at, pack_name=pack.info.name,
                            pack_version=pack.info.version, pack_digest=pack.info.digest, run_id=run.id)
    last_beat = time.monotonic()

    def progress(_: int = 0) -> None:
        nonlocal last_beat
        if cancel is not None and cancel.is_set():
            raise Cancelled("the service is shutting down")
        if time.monotonic() - last_beat >= _HEARTBEAT_SECONDS:
            runs.heartbeat(run.id, report.counts())
            last_beat = time.monotonic()

    plan: RescreenPlan | None = None
    try:
        plan = planner(PlanContext(runs, pack, PackState.of(pack)))
        report.mode, report.reason, report.notes, report.lists = plan.mode.value, plan.reason, plan.notes, plan.lists
        report.entries_changed = len(plan.entry_ids)
        monitored = MonitoredRepository(database)
        report.monitored_records, report.monitored_parties = monitored.counts()
        runs.heartbeat(run.id, report.counts(), mode=plan.mode.value)
        if plan.mode is Mode.all:
            record_ids = monitored.all_record_ids()
        elif plan.entries:
            scan_began = time.perf_counter()
            index = ChangedEntryIndex(plan.entries, screener.words, screener.floor)
            record_ids, report.monitored_parties = affected_records(monitored, index, progress)
            report.names_analysed, report.candidate_checks = index.names_analysed, index.name_checks
            report.scan_seconds = round(time.perf_counter() - scan_began, 3)
            del index
        else:
            record_ids = []
        report.candidate_records = len(record_ids)
        _rescreen_records(database, screener, monitored, record_ids, report, progress)
        if plan.baseline is not None:
            save_snapshots(runs, pack, plan.baseline["lists"])
            runs.prune_snapshots(plan.baseline["lists"])
        report.status = RunStatus.finished.value
    except Cancelled as exc:
        report.status, report.error = RunStatus.cancelled.value, str(exc)
    except KeyboardInterrupt:
        report.status, report.error = RunStatus.cancelled.value, "interrupted (Ctrl-C)"
        _record_end(database, runs, run, report, None, began)
        raise
    except Exception as exc:
        report.status, report.error = RunStatus.failed.value, f"{exc.__class__.__name__}: {exc}"
        _record_end(database, runs, run, report, None, began)
        raise
    _record_end(database, runs, run, report, plan.baseline if plan is not None else None, began)
    return report


def _record_end(database: Database, runs: RescreenRunRepository, run: RescreenRun, report: RescreenReport,
                baseline: dict[str, Any] | None, began: float) -> None:
    report.seconds = round(time.perf_counter() - began, 3)
    report.finished_at = datetime.now(UTC)
    try:
        runs.finish(run.id, status=RunStatus(report.status), counts=report.counts(), seconds=report.seconds,
                    detail=report.detail(), baseline=baseline, error=report.error, mode=report.mode)
    except StoreError as exc:  # the run's own failure (if any) is the one to raise
        log.error("cannot record the end of rescreen run %s: %s", run.id, exc)
    summary = {k: v for k, v in report.as_dict().items() if k != "changes"}
    level = {RunStatus.finished.value: logging.INFO, RunStatus.failed.value: logging.ERROR}.get(report.status,
                                                                                             logging.WARNING)
    log.log(level, "rescreen %s", report.status, extra={"rescreen": summary})
    try:
        audit_event(database, report.actor, "rescreen.run", "rescreen", run.id,
                    after={name: summary[name] for name in ("trigger", "mode", "status", "reason", "pack_digest",
                                                            "entries_changed", "records_rescreened",
                                                            "outcomes_changed", "alerts_opened", "alerts_updated",
                                                            "alerts_reopened", "now_clear", "error")})
    except StoreError as exc:
        log.error("cannot audit rescreen run %s: %s", run.id, exc)


def _rescreen_records(database: Database, screener: Screener, monitored: MonitoredRepository,
                      record_ids: Sequence[str], report: RescreenReport, progress: Callable[[], None]) -> None:
    """Screen the records again; log, monitor and open alerts for those whose outcome changed, one
    transaction per chunk (alerts are the system's, as for every screening)."""
    for start in range(0, len(record_ids), _CHUNK):
        progress()
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
        rows: list[dict[str, Any]] = []
        items: list[MonitoredScreening] = []
        expected: dict[str, str] = {}
        before: dict[str, str] = {}
        for (item, record, _, latency), result in zip(screened, marked, strict=True):
            digest = result_digest(result)
            if digest == item.last_result_digest:
                continue
            row, monitor = _log_row(record, result, digest, latency)
            rows.append(row)
            items.append(monitor)
            expected[item.record_id] = item.last_screening_id
            before[item.record_id] = item.last_decision
        if rows:
            _write_changes(database, rows, items, expected, before, report)


def _write_changes(database: Database, rows: list[dict[str, Any]], items: list[MonitoredScreening],
                   expected: dict[str, str], before: dict[str, str], report: RescreenReport) -> None:
    alerts: dict[str, AlertChange] = {}

    def open_alerts(connection: Any, kept: Sequence[dict[str, Any]]) -> None:
        alerts.clear()
        for row, change in zip(kept, record_alerts(connection, kept), strict=True):
            alerts[row["record_id"]] = change

    try:
        written = write_rescreened(database, rows, items, expected, also_write=open_alerts)
    except StoreError:
        # Another writer opened the alert of one of these records at the same moment: the second try finds
        # it and updates it (nothing of the first try was committed).
        written = write_rescreened(database, rows, items, expected, also_write=open_alerts)
    for row in rows:
        record_id = row["record_id"]
        if record_id not in written:
            report.skipped_newer += 1
            continue
        change = alerts.get(record_id, AlertChange.not_flagged)
        report.outcomes_changed += 1
        report.changes.append(RecordChange(record_id, row["id"], before[record_id], row["decision"], change.value))
        if row["decision"] == Decision.clear.value:
            report.now_clear += 1
        if change is AlertChange.opened:
            report.alerts_opened += 1
        elif change is AlertChange.updated:
            report.alerts_updated += 1
        elif change is AlertChange.reopened:
            report.alerts_reopened += 1


def _log_row(record: Record, result: ScreeningResult, digest: str,
             latency_ms: float) -> tuple[dict[str, Any], MonitoredScreening]:
    screening_id = new_screening_id(result.screened_at)
    record_json = record.model_dump(mode="json")
    row = {
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
    }
    return row, MonitoredScreening(record.id, record_json, SOURCE, screening_id, result.decision.value, digest,
                                   result.screened_at, result.pack.digest)


# --- convenience entry points -------------------------------------------------------------------------------


def rescreen_entries(database: Database, screener: Screener, entries: Sequence[PartySpec], *, trigger: str,
                     actor: str = "system") -> RescreenReport:
    """Screen again, with ``screener``, the monitored records whose parties could match ``entries``."""
    return run_rescreen(database, screener, plan_entries(entries), trigger=trigger, actor=actor)


def rescreen_all(database: Database, screener: Screener, *, trigger: str, actor: str = "system") -> RescreenReport:
    """Screen every monitored record again (after a change of rules, which no entry diff can narrow)."""
    return run_rescreen(database, screener, plan_all(), trigger=trigger, actor=actor)


# --- in the background (the API) ------------------------------------------------------------------------------


@dataclass
class _Job:
    database: Database
    screener: Screener
    previous: Mapping[str, Sequence[PartySpec]] | None
    trigger: str
    actor: str


class BackgroundRescreens:
    """Rescreens the API starts after a pack reload: in a thread of their own, one at a time, never raising.

    A request arriving while one runs is kept, and requests arriving meanwhile are merged into it (the
    earliest previous lists, the latest screener), so a burst of reloads costs at most one more run. Failures
    are logged and recorded in the run table (by ``run_rescreen``).
    """

    def __init__(self, around: Callable[[], AbstractContextManager[object]] = nullcontext) -> None:
        #: Entered around each run (the API shortens the GIL switch interval meanwhile).
        self._around = around
        self._lock = threading.Lock()
        self._pending: _Job | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.last_report: RescreenReport | None = None
        self.last_error: str | None = None

    def submit(self, database: Database, screener: Screener, previous: Mapping[str, Sequence[PartySpec]] | None,
               *, trigger: str, actor: str) -> None:
        """Rescreen what changed from ``previous`` (the replaced pack's party lists) to ``screener``'s pack."""
        with self._lock:
            if self._cancel.is_set():
                log.warning("rescreen not started: the service is shutting down")
                return
            if self._pending is not None:
                previous = self._pending.previous
            self._pending = _Job(database, screener, previous, trigger, actor)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="rescreen", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is None or self._cancel.is_set():
                    self._thread = None
                    self._idle.set()
                    return
            try:
                with self._around():
                    self.last_report = run_rescreen(job.database, job.screener,
                                                    plan_changes(job.previous, full_when_unknown=False),
                                                    trigger=job.trigger, actor=job.actor, wait=None,
                                                    cancel=self._cancel)
                self.last_error = None
            except Cancelled:
                log.warning("rescreen cancelled before it started: the service is shutting down")
            except Exception as exc:  # never into the server: logged here, recorded by run_rescreen
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.exception("background rescreen failed")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no rescreen runs or waits (tests, shutdown); False on timeout."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop: a running rescreen ends at its next step (recorded as cancelled), a waiting one never runs."""
        self._cancel.set()
        with self._lock:
            self._pending = None
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("a rescreen was still running at shutdown")
