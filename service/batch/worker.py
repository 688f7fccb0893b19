"""The chunk function: turn a chunk of raw rows into result lines, summary rows, error lines and counts.

The local process pool and Dask workers both call :func:`screen_chunk`, so both engines produce the same
bytes. Each worker process builds its ``Screener`` once (the pool's initializer, or the first chunk a Dask
worker receives) and keeps it for every later chunk of the same pack.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from service.batch.mapping import RowPlan
from service.batch.readers import PayloadKind
from service.errors import BatchError
from service.model import Decision, Record, RouteRole, ScreeningResult, error_path

if TYPE_CHECKING:
    from service.engine import Screener


@dataclass(frozen=True)
class PackSource:
    """Everything a worker needs to build the same screener as the coordinator: the pack folder, the
    compiled official lists to load with it, and the digest the result must have."""

    pack_path: str
    list_paths: tuple[str, ...]
    digest: str

    def build(self) -> Screener:
        """Load the pack and build its screener; BatchError if the pack on disk is not the expected one."""
        from service.batch.packs import build_screener

        screener, digest = build_screener(Path(self.pack_path), tuple(Path(p) for p in self.list_paths))
        if digest != self.digest:
            raise BatchError(f"the rule pack at {self.pack_path} changed during the run "
                             f"(digest {digest}, expected {self.digest})")
        return screener


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of rows of one input, as sent to a worker."""

    seq: int
    input_index: int
    input_name: str
    kind: PayloadKind
    plan: RowPlan | None
    rows: list[tuple[int, int | None, Any, str | None]]  # (row, line, payload, read problem)
    pack: PackSource
    screened_at: datetime
    collect_flagged: bool = False


@dataclass(frozen=True)
class FlaggedResult:
    """A flagged record with its result, for ``--store`` (only collected when asked for)."""

    input_index: int
    row: int
    record: dict[str, Any]
    result: dict[str, Any]
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
    """What a worker sends back for one chunk: output text in input order, and the chunk's counts."""

    seq: int
    results: str
    summary: list[SummaryRow]
    errors: str
    stats: ChunkStats
    flagged: list[FlaggedResult] = field(default_factory=list)


# --- the screener of this process ---------------------------------------------------------------------------

_screeners: dict[PackSource, Screener] = {}
_screeners_lock = threading.Lock()


def init_worker(pack: PackSource) -> None:
    """Process-pool initializer: build the screener before the first chunk arrives. A failure is not
    raised here (that would only break the pool); the first chunk raises it again with its message."""
    try:
        screener_for(pack)
    except Exception:  # reported by screen_chunk, which builds again and raises a clear BatchError
        return


def screener_for(pack: PackSource) -> Screener:
    """The screener of this process for a pack, built on first use (a per-process cache, because building
    the indexes takes about a second and a worker screens many chunks)."""
    with _screeners_lock:
        screener = _screeners.get(pack)
        if screener is None:
            try:
                screener = pack.build()
            except BatchError:
                raise
            except Exception as exc:
                raise BatchError(f"a worker cannot build the screener for {pack.pack_path}: "
                                 f"{type(exc).__name__}: {exc}") from None
            _screeners[pack] = screener
        return screener


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


def parse_payload(task: ChunkTask, payload: Any) -> tuple[Record | None, list[dict[str, str]], str | None]:
    """The record of one row, or its errors (field, column when known, message) and best-known id."""
    sources: dict[str, str] = {}
    data: Any = None
    try:
        if task.kind == "json":
            return Record.model_validate_json(payload), [], None
        if task.kind == "flat":
            assert task.plan is not None
            data, sources = task.plan.build(payload)
            if len(payload) > task.plan.width and any(str(c).strip() for c in payload[task.plan.width:]):
                # a shifted row (an unquoted delimiter) would put values under the wrong columns
                message = f"the row has {len(payload)} cells but the header only {task.plan.width}"
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
        if task.kind == "json":
            data = _json_object(payload)
        record_id = data.get("id") if isinstance(data, dict) else None
        usable_id = isinstance(record_id, str | int) and not isinstance(record_id, bool)
        return None, errors, str(record_id) if usable_id else None


def _json_object(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _summary_row(result: ScreeningResult) -> SummaryRow:
    top = None
    for flag in result.flags:
        for evidence in flag.evidence:
            if evidence.entry and (top is None or evidence.score > top.score):
                top = evidence
    rules = ";".join(dict.fromkeys(flag.rule for flag in result.flags))
    if top is None:
        return (result.record_id, result.decision.value, result.risk_score, rules, None, None, None, None)
    return (result.record_id, result.decision.value, result.risk_score, rules, top.entry, top.matched,
            top.list, top.score)


def screen_chunk(task: ChunkTask) -> ChunkOutcome:
    """Screen every row of a chunk. Bad rows become error lines; nothing raises for a row's sake."""
    screener = screener_for(task.pack)
    party_lists = screener.pack.party_lists
    stats = ChunkStats()
    result_lines: list[str] = []
    error_lines: list[str] = []
    summary: list[SummaryRow] = []
    flagged: list[FlaggedResult] = []
    for row, line, payload, problem in task.rows:
        stats.records += 1
        record: Record | None = None
        errors: list[dict[str, str]]
        record_id: str | None = None
        if problem is not None:
            errors = [{"field": "", "message": problem}]
        else:
            record, errors, record_id = parse_payload(task, payload)
        result: ScreeningResult | None = None
        if record is not None:
            record_id = record.id
            try:
                started = time.perf_counter()
                # One timestamp for the whole run, so a resumed or re-run job writes the same bytes.
                result = screener.screen(record, task.screened_at)
                latency_ms = (time.perf_counter() - started) * 1000
            except Exception as exc:  # an engine failure on one record must not stop the night's run
                errors = [{"field": "", "message": f"screening failed: {type(exc).__name__}: {exc}"}]
        if result is None:
            stats.bad_rows += 1
            error: dict[str, Any] = {"input": task.input_name, "row": row}
            if line is not None:
                error["line"] = line
            error["record_id"] = record_id
            error["message"] = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"]
                                         for e in errors)
            error["errors"] = errors
            error_lines.append(json.dumps(error, ensure_ascii=False) + "\n")
            continue
        assert record is not None
        result_lines.append(result.model_dump_json() + "\n")
        summary.append(_summary_row(result))
        stats.screened += 1
        stats.decisions[result.decision.value] += 1
        for rule in dict.fromkeys(flag.rule for flag in result.flags):
            stats.rules[rule] += 1
        if result.decision is not Decision.clear:
            # list entries are parties and vessels of the party lists; goods concerns are counted apart,
            # and country groups and ports are left to the destinations chart
            entries: dict[str, tuple[str | None, str | None]] = {}
            goods: set[str] = set()
            for flag in result.flags:
                for evidence in flag.evidence:
                    if not evidence.entry:
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
            if task.collect_flagged:
                flagged.append(FlaggedResult(task.input_index, row, record.model_dump(mode="json"),
                                             result.model_dump(mode="json"), round(latency_ms, 3)))
    return ChunkOutcome(task.seq, "".join(result_lines), summary, "".join(error_lines), stats, flagged)
