"""Rescreen runs (one at a time, heartbeats, how they end, the baseline), list snapshots, and the conditional
write of a rescreen's results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from service.model import PackInfo
from service.store import Database, ScreeningRepository, new_screening_id
from service.store.monitored import MONITOR_KEY, MonitoredRepository, MonitoredScreening
from service.store.rescreens import COUNT_FIELDS, STALE_AFTER, RescreenRunRepository, RunStatus, write_rescreened
from service.store.tables import ScreeningRow

PACK = PackInfo(name="drone-supply-chain", version="2026.11.0", digest="ab" * 32)
RECORD = {"id": "cp-1", "kind": "counterparty", "parties": [{"role": "counterparty", "name": "Nordic Pumps AB"}]}


def _start(runs: RescreenRunRepository, **fields: Any) -> int:
    run = runs.start(trigger=fields.get("trigger", "cli"), mode="changed", actor="cli:test", pack=PACK,
                     now=fields.get("now"))
    assert run is not None
    return run.id


def test_a_run_is_recorded_from_start_to_end(database: Database) -> None:
    runs = RescreenRunRepository(database)
    run_id = _start(runs)
    running = runs.get(run_id)
    assert running is not None and running.status is RunStatus.running and running.finished_at is None
    assert running.pack == PACK and set(running.counts) == set(COUNT_FIELDS)
    runs.heartbeat(run_id, {"monitored_records": 5}, mode="all")
    counts = {name: i for i, name in enumerate(COUNT_FIELDS)}
    detail = {"reason": "why", "notes": [], "changes": [{"record_id": "cp-1"}]}
    baseline = {"rules": "r", "lists": {"curated": "c"}}
    ended = runs.finish(run_id, status=RunStatus.finished, counts=counts, seconds=1.23456, detail=detail,
                        baseline=baseline)
    assert ended.status is RunStatus.finished and ended.finished_at is not None and ended.mode == "all"
    assert ended.counts == counts and ended.seconds == 1.235 and ended.detail == detail
    assert ended.baseline == baseline and runs.latest_baseline() == baseline
    assert runs.last() == ended


def test_only_one_run_at_a_time_and_a_dead_one_is_marked_interrupted(database: Database) -> None:
    runs = RescreenRunRepository(database)
    first = _start(runs)
    assert runs.start(trigger="pack-reload", mode="changed", actor="key:1", pack=PACK) is None
    # The first run's process dies: no heartbeat for longer than STALE_AFTER.
    later = datetime.now(UTC) + STALE_AFTER + timedelta(minutes=1)
    second = _start(runs, now=later)
    dead = runs.get(first)
    assert dead is not None and dead.status is RunStatus.interrupted and "heartbeat" in (dead.error or "")
    runs.finish(second, status=RunStatus.failed, counts={}, seconds=0.5, detail={}, error="boom")
    assert [r.id for r in runs.list()] == [second, first]
    assert [r.id for r in runs.list(limit=1, before_id=second)] == [first]
    third = _start(runs)
    assert third > second


def test_only_finished_runs_leave_a_baseline(database: Database) -> None:
    runs = RescreenRunRepository(database)
    assert runs.latest_baseline() is None
    kept = {"rules": "r1", "lists": {"ofac-sdn": "a"}}
    runs.finish(_start(runs), status=RunStatus.finished, counts={}, seconds=0, detail={}, baseline=kept)
    runs.finish(_start(runs), status=RunStatus.failed, counts={}, seconds=0, detail={},
                baseline={"rules": "r2", "lists": {}}, error="store went away")
    runs.finish(_start(runs), status=RunStatus.finished, counts={}, seconds=0, detail={}, baseline=None)
    assert runs.latest_baseline() == kept
    failed = runs.list()[1]
    assert failed.baseline is None and failed.error == "store went away"


def test_unknown_counts_are_refused(database: Database) -> None:
    runs = RescreenRunRepository(database)
    run_id = _start(runs)
    with pytest.raises(ValueError, match="alerts_closed"):
        runs.heartbeat(run_id, {"alerts_closed": 1})


def test_snapshots_are_kept_once_and_pruned_but_never_the_baselines(database: Database) -> None:
    runs = RescreenRunRepository(database)
    assert runs.save_snapshot("ofac-sdn", "d0", 2, b"\x1f\x8bold")
    assert not runs.save_snapshot("ofac-sdn", "d0", 2, b"other bytes")  # one version, kept once
    assert runs.load_snapshot("ofac-sdn", "d0") == b"\x1f\x8bold"
    assert runs.load_snapshot("ofac-sdn", "missing") is None
    for i in range(1, 6):
        runs.save_snapshot("ofac-sdn", f"d{i}", i, bytes([i]))
    runs.save_snapshot("uk", "u0", 1, b"u")
    assert runs.prune_snapshots({"ofac-sdn": "d0"}, per_list=2) == 3  # d1, d2, d3 go; d0 is the baseline's
    assert [runs.has_snapshot("ofac-sdn", f"d{i}") for i in range(6)] == [True, False, False, False, True, True]
    assert runs.has_snapshot("uk", "u0")


def _monitor(database: Database) -> str:
    screening_id = new_screening_id()
    row = {"id": screening_id, "screened_at": datetime.now(UTC), "source": "api", "api_key_id": None,
           "record_id": "cp-1", "decision": "clear", "risk_score": 0, "pack_version": "1", "pack_digest": "d",
           "latency_ms": 1.0, "record": RECORD,
           "result": {"record_id": "cp-1", "decision": "clear", "risk_score": 0, "flags": [],
                      "pack": PACK.model_dump(), "screened_at": datetime.now(UTC).isoformat()},
           MONITOR_KEY: MonitoredScreening("cp-1", RECORD, "api", screening_id, "clear", "old", datetime.now(UTC),
                                           "d")}
    ScreeningRepository(database).add_many([row])
    return screening_id


def _rescreened(decision: str) -> tuple[dict[str, Any], MonitoredScreening]:
    screening_id = new_screening_id()
    now = datetime.now(UTC)
    row = {"id": screening_id, "screened_at": now, "source": "rescreen", "api_key_id": None, "record_id": "cp-1",
           "decision": decision, "risk_score": 90, "pack_version": "2", "pack_digest": "e", "latency_ms": 2.0,
           "record": RECORD, "result": {"record_id": "cp-1", "decision": decision}}
    return row, MonitoredScreening("cp-1", RECORD, "rescreen", screening_id, decision, "new", now, "e")


def _logged(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ScreeningRow)) or 0)


def test_a_rescreen_writes_log_monitored_set_and_alerts_together(database: Database) -> None:
    last = _monitor(database)
    row, item = _rescreened("block")
    seen: list[list[str]] = []
    written = write_rescreened(database, [row], [item], {"cp-1": last},
                               also_write=lambda connection, rows: seen.append([r["id"] for r in rows]))
    assert written == {"cp-1"} and seen == [[row["id"]]]
    assert _logged(database) == 2
    (stored,) = MonitoredRepository(database).records(["cp-1"]).values()
    assert (stored.last_screening_id, stored.last_decision, stored.last_result_digest) == (row["id"], "block", "new")


def test_a_record_screened_again_meanwhile_is_left_alone(database: Database) -> None:
    read = _monitor(database)
    newer = _monitor(database)  # a request screened the record again after the rescreen read it
    assert newer != read
    row, item = _rescreened("block")
    calls: list[int] = []
    written = write_rescreened(database, [row], [item], {"cp-1": read},
                               also_write=lambda connection, rows: calls.append(len(rows)))
    assert written == set() and calls == [] and _logged(database) == 2
    (stored,) = MonitoredRepository(database).records(["cp-1"]).values()
    assert stored.last_screening_id == newer


def test_a_failed_write_leaves_nothing_behind(database: Database) -> None:
    last = _monitor(database)
    row, item = _rescreened("block")

    def fail(connection: Any, rows: Any) -> None:
        raise RuntimeError("alert writer failed")

    with pytest.raises(RuntimeError):
        write_rescreened(database, [row], [item], {"cp-1": last}, also_write=fail)
    assert _logged(database) == 1
    (stored,) = MonitoredRepository(database).records(["cp-1"]).values()
    assert stored.last_screening_id == last
