"""The chunk function: turn a chunk of input into the bytes of the output files and the chunk's counts.

The local process pool and Dask workers both call :func:`screen_chunk`, so both engines produce the same
bytes. Everything that costs per record happens here, in the workers: parsing the rows, screening,
applying the allow-list (``--store``), serialising results and summary rows, and (``--store``) preparing
what the store keeps of each record. The coordinator only appends the bytes it gets back.

Each worker process receives the run's :class:`RunContext` (with the loaded pack) once, builds its
``Screener`` once (the pool's initializer, or the first chunk a Dask worker receives) and keeps it for every
later chunk of the run.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from service.batch.mapping import RowPlan
from service.batch.readers import PayloadKind, RowBlock
from service.errors import BatchError
from service.model import Decision, Record, RouteRole, ScreeningResult, error_path

if TYPE_CHECKING:
    from service.engine import Screener
    from service.review.allowlist import AllowListEntry
    from service.rulepack import Pack

#: How summary rows are encoded for the output: CSV rows, JSON arrays (staged for Parquet), or not at all.
SummaryFormat = Literal["csv", "json", "none"]


@dataclass(frozen=True)
class RunContext:
    """What every chunk of a run is screened with: sent to each worker once, not with every chunk.

    ``pack`` is the pack with its imported lists as the coordinator loaded it, ``digest`` its digest
    (which covers the lists). ``allow_list`` (``--store``): the active allow-list entries when the run started;
    matches they cover are marked suppressed in the results, as the API does before it stores a result.
    """

    pack: Pack
    digest: str
    screened_at: datetime
    summary: SummaryFormat
    store: bool = False
    allow_list: tuple[AllowListEntry, ...] = ()

    @cached_property
    def _allow_list_by_entry(self) -> dict[str, list[AllowListEntry]]:
        by_entry: dict[str, list[AllowListEntry]] = {}
        for entry in self.allow_list:
            by_entry.setdefault(entry.entry_id, []).append(entry)
        return by_entry

    def suppress_allow_listed(self, result: ScreeningResult, record: Record, pack: Pack) -> ScreeningResult:
        """``result`` with the matches the allow-list covers marked suppressed (itself when none)."""
        by_entry = self._allow_list_by_entry
        if not by_entry or not result.flags:
            return result
        ids = {evidence.entry for flag in result.flags for evidence in flag.evidence if evidence.entry}
        relevant = [entry for entry_id in ids for entry in by_entry.get(entry_id, ())]
        if not relevant:
            return result
        from service.review.allowlist import apply_allow_list

        return apply_allow_list(result, pack, relevant, record, now=self.screened_at)


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of one input, as sent to a worker."""

    seq: int
    input_index: int
    input_name: str
    kind: PayloadKind
    plan: RowPlan | None
    block: RowBlock


@dataclass(frozen=True, slots=True)
class ScreenedRecord:
    """What ``--store`` keeps of one screened record: the record for the monitored set, and the result for
    the screening log when it has flags (``result`` is None for a clear result without flags)."""

    input_index: int
    row: int
    record_id: str
    record: dict[str, Any]
    decision: str
    risk_score: int
    result_digest: str
    result: dict[str, Any] | None
    latency_ms: float


SummaryRow = tuple[str, str, int, str, str | None, str | None, str | None, float | None]
SUMMARY_COLUMNS = ("record_id", "decision", "risk_score", "rules", "top_match_entry", "top_match_name",
                   "top_match_list", "top_match_score")


@dataclass
class ChunkStats:
    """Counts over the records of a chunk (and, merged, of a whole run)."""

    records: int = 0
    screened: int = 0
    bad_rows: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    entries: Counter[str] = field(default_factory=Counter)
    entry_names: dict[str, str] = field(default_factory=dict)
    entry_lists: dict[str, str] = field(default_factory=dict)
    destinations: Counter[str] = field(default_factory=Counter)
    goods: Counter[str] = field(default_factory=Counter)

    @property
    def hits(self) -> int:
        """Records whose decision is not clear."""
        return self.screened - self.decisions.get(Decision.clear.value, 0)

    def merge(self, other: ChunkStats) -> None:
        self.records += other.records
        self.screened += other.screened
        self.bad_rows += other.bad_rows
        self.decisions.update(other.decisions)
        self.rules.update(other.rules)
        self.entries.update(other.entries)
        for key, name in other.entry_names.items():
            self.entry_names.setdefault(key, name)
        for key, name in other.entry_lists.items():
            self.entry_lists.setdefault(key, name)
        self.destinations.update(other.destinations)
        self.goods.update(other.goods)

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "screened": self.screened, "bad_rows": self.bad_rows,
                "decisions": dict(sorted(self.decisions.items())), "rules": dict(sorted(self.rules.items())),
                "entries": dict(sorted(self.entries.items())),
                "entry_names": dict(sorted(self.entry_names.items())),
                "entry_lists": dict(sorted(self.entry_lists.items())),
                "destinations": dict(sorted(self.destinations.items())),
                "goods": dict(sorted(self.goods.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkStats:
        return cls(int(data["records"]), int(data["screened"]), int(data["bad_rows"]),
                   Counter(data["decisions"]), Counter(data["rules"]), Counter(data["entries"]),
                   dict(data["entry_names"]), dict(data["entry_lists"]), Counter(data["destinations"]),
                   Counter(data["goods"]))


@dataclass
class ChunkOutcome:
    """What a worker sends back for one chunk: the bytes to append to each output file (in input order),
    the chunk's counts, and (``--store``) what the store keeps of each screened record."""

    seq: int
    results: bytes
    summary: bytes
    errors: bytes
    stats: ChunkStats
    screened: list[ScreenedRecord] = field(default_factory=list)


# --- the screener of this process ---------------------------------------------------------------------------

_screeners: dict[str, Screener] = {}
_screeners_lock = threading.Lock()
#: The run context of a local pool's worker process (set by its initializer).
_installed: RunContext | None = None


def init_worker(context: RunContext) -> None:
    """Process-pool initializer: keep the run context and build the screener before the first chunk
    arrives. A failure is not raised here (that would only break the pool); the first chunk raises it
    again with its message."""
    global _installed
    _installed = context
    try:
        screener_for(context)
    except Exception:  # reported by screen_chunk, which builds again and raises a clear BatchError
        return


def screen_installed_chunk(task: ChunkTask) -> ChunkOutcome:
    """:func:`screen_chunk` with the context :func:`init_worker` installed in this process."""
    if _installed is None:
        raise BatchError("this worker process was started without a run context")
    return screen_chunk(task, _installed)


def screener_for(context: RunContext) -> Screener:
    """The screener of this process for the run's pack, built on first use (a per-process cache, because
    building the indexes takes about a second and a worker screens many chunks)."""
    with _screeners_lock:
        screener = _screeners.get(context.digest)
        if screener is None:
            from service.engine import Screener

            try:
                screener = Screener(context.pack)
            except Exception as exc:
                raise BatchError(f"a worker cannot build the screener for pack {context.pack.info.name} "
                                 f"{context.pack.info.version}: {type(exc).__name__}: {exc}") from None
            _screeners[context.digest] = screener
            if multiprocessing.parent_process() is not None:  # a worker process, not a caller's own process
                _tune_garbage_collector()
        return screener


def _tune_garbage_collector() -> None:
    """Make garbage collection cheap in a worker process that holds a screener.

    Measured (bench/batch.py and a gc callback): with CPython's default thresholds, collections took a
    quarter or more of a worker's time, because every full collection walks the screener's indexes and the
    engine's caches, hundreds of thousands of objects that live as long as the process. Freezing what
    exists once the screener is built takes the indexes out of every later collection, and a larger first
    threshold makes collections rare (screening allocates many short-lived objects, nearly all freed by
    reference counting anyway).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


# --- screening a chunk --------------------------------------------------------------------------------------

_DESTINATION_ROLES = (RouteRole.destination, RouteRole.port_of_discharge)
_DESTINATION_PARTIES = ("end_user", "consignee", "buyer")


def destination_of(record: Record, resolve_country: Callable[[str], str | None]) -> str | None:
    """Where the goods go, for the report: the destination (or port of discharge) country of the route, else
    the country of the end user, consignee or buyer; resolved to ISO alpha-2 when the name is known."""
    text: str | None = None
    for role in _DESTINATION_ROLES:
        text = next((p.country for p in record.route if p.role == role and p.country), None)
        if text:
            break
    if not text:
        for party_role in _DESTINATION_PARTIES:
            text = next((p.country for p in record.parties if p.role == party_role and p.country), None)
            if text:
                break
    if not text:
        return None
    return resolve_country(text) or text.strip().upper()


def parse_payload(kind: PayloadKind, plan: RowPlan | None,
                  payload: Any) -> tuple[Record | None, list[dict[str, str]], str | None]:
    """The record of one row, or its errors (field, column when known, message) and best-known id."""
    sources: dict[str, str] = {}
    data: Any = None
    try:
        if kind == "json":
            return Record.model_validate_json(payload), [], None
        if kind == "flat":
            assert plan is not None
            data, sources = plan.build(payload)
            if len(payload) > plan.width and any(str(c).strip() for c in payload[plan.width:]):
                # a shifted row (an unquoted delimiter) would put values under the wrong columns
                message = f"the row has {len(payload)} cells but the header only {plan.width}"
                record_id = data.get("id")
                return None, [{"field": "", "message": message}], record_id if isinstance(record_id, str) else None
        else:
            data = payload
        return Record.model_validate(data), [], None
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False):
            # pydantic locates invalid JSON at the model's title; it is the whole line that is wrong
            path = "" if error["type"] == "json_invalid" else error_path(error["loc"])
            item = {"field": path, "message": error["msg"]}
            column = sources.get(path) or sources.get(path.rsplit(".", 1)[0])
            if column is not None:
                item["column"] = column
            errors.append(item)
        if kind == "json":
            data = _json_object(payload)
        record_id = data.get("id") if isinstance(data, dict) else None
        usable_id = isinstance(record_id, str | int) and not isinstance(record_id, bool)
        return None, errors, str(record_id) if usable_id else None


def _json_object(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def summary_row(result: ScreeningResult) -> SummaryRow:
    """The summary columns of a result: the evidence with the highest score that names a list entry (and is
    not allow-listed)."""
    top = None
    for flag in result.flags:
        for evidence in flag.evidence:
            if evidence.entry and evidence.suppressed_by is None and (top is None or evidence.score > top.score):
                top = evidence
    rules = ";".join(dict.fromkeys(flag.rule for flag in result.flags))
    if top is None:
        return (result.record_id, result.decision.value, result.risk_score, rules, None, None, None, None)
    return (result.record_id, result.decision.value, result.risk_score, rules, top.entry, top.matched,
            top.list, top.score)


def csv_text(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows as CSV (``\\n`` line ends); the csv module writes None as an empty cell."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def encode_summary(rows: Sequence[SummaryRow], summary: SummaryFormat) -> bytes:
    """Summary rows as the output file wants them."""
    if summary == "csv":
        return csv_text(rows)
    if summary == "json":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    return b""


def _error_line(task: ChunkTask, row: int, line: int | None, record_id: str | None,
                errors: list[dict[str, str]]) -> str:
    error: dict[str, Any] = {"input": task.input_name, "row": row}
    if line is not None:
        error["line"] = line
    error["record_id"] = record_id
    error["message"] = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    error["errors"] = errors
    return json.dumps(error, ensure_ascii=False) + "\n"


def _count(stats: ChunkStats, result: ScreeningResult, record: Record, screener: Screener) -> None:
    stats.screened += 1
    stats.decisions[result.decision.value] += 1
    for rule in dict.fromkeys(flag.rule for flag in result.flags):
        stats.rules[rule] += 1
    if result.decision is Decision.clear:
        return
    # list entries are parties and vessels of the party lists; goods concerns are counted apart, and country
    # groups and ports are left to the destinations chart
    party_lists = screener.pack.party_lists
    entries: dict[str, tuple[str | None, str | None]] = {}
    goods: set[str] = set()
    for flag in result.flags:
        for evidence in flag.evidence:
            if not evidence.entry or evidence.suppressed_by is not None:
                continue
            if evidence.list in party_lists:
                entries.setdefault(evidence.entry, (evidence.matched, evidence.list))
            elif evidence.list == "goods":
                goods.add(evidence.entry)
    for entry, (matched, list_name) in entries.items():
        stats.entries[entry] += 1
        if matched:
            stats.entry_names.setdefault(entry, matched)
        if list_name:
            stats.entry_lists.setdefault(entry, list_name)
    stats.goods.update(goods)
    destination = destination_of(record, screener.resolve_country)
    stats.destinations[destination or "(unknown)"] += 1


def screen_chunk(task: ChunkTask, context: RunContext) -> ChunkOutcome:
    """Screen every row of a chunk. Bad rows become error lines; nothing raises for a row's sake."""
    screener = screener_for(context)
    digest_of: Callable[[ScreeningResult], str] | None = None
    if context.store:
        from service.review.alerts import result_digest

        digest_of = result_digest
    stats = ChunkStats()
    result_lines: list[str] = []
    error_lines: list[str] = []
    summary: list[SummaryRow] = []
    screened: list[ScreenedRecord] = []
    for row, line, payload, problem in task.block.rows():
        stats.records += 1
        record: Record | None = None
        errors: list[dict[str, str]]
        record_id: str | None = None
        if problem is not None:
            errors = [{"field": "", "message": problem}]
        else:
            record, errors, record_id = parse_payload(task.kind, task.plan, payload)
        result: ScreeningResult | None = None
        latency_ms = 0.0
        if record is not None:
            record_id = record.id
            try:
                started = time.perf_counter()
                # One timestamp for the whole run, so a resumed or re-run job writes the same bytes.
                result = screener.screen(record, context.screened_at)
                latency_ms = (time.perf_counter() - started) * 1000
                if context.allow_list:
                    result = context.suppress_allow_listed(result, record, screener.pack)
            except Exception as exc:  # an engine failure on one record must not stop the night's run
                errors = [{"field": "", "message": f"screening failed: {type(exc).__name__}: {exc}"}]
                result = None
        if result is None:
            stats.bad_rows += 1
            error_lines.append(_error_line(task, row, line, record_id, errors))
            continue
        assert record is not None
        result_lines.append(result.model_dump_json())
        summary.append(summary_row(result))
        _count(stats, result, record, screener)
        if digest_of is not None:
            logged = bool(result.flags) or result.decision is not Decision.clear
            screened.append(ScreenedRecord(task.input_index, row, record.id, record.model_dump(mode="json"),
                                           result.decision.value, result.risk_score, digest_of(result),
                                           result.model_dump(mode="json") if logged else None,
                                           round(latency_ms, 3)))
    results = ("\n".join(result_lines) + "\n").encode("utf-8") if result_lines else b""
    return ChunkOutcome(task.seq, results, encode_summary(summary, context.summary),
                        "".join(error_lines).encode("utf-8"), stats, screened)
