"""--store: every screened record joins the monitored set, results with flags are logged and open alerts,
the allow-list is applied before storing and in the output files alike, and all of it exactly once, also
across an interrupted run."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.batch import BatchOptions, ExitCode, prepare_batch, run_batch
from service.batch.store_sink import StoreSink, batch_screening_id
from service.batch.worker import ScreenedRecord
from service.engine import Screener
from service.errors import BatchError
from service.model import Record, ScreeningResult
from service.review.alerts import result_digest
from service.review.allowlist import FACT_KINDS, new_allow_list_row
from service.rulepack import Pack
from service.settings import Settings
from service.store import Database, ScreeningFilter, ScreeningRepository, ScreeningRow
from service.store.monitored import MonitoredRepository
from service.store.tables import AlertRow
from tests.batch.conftest import STAMP, write_jsonl
from tests.conftest import BUNDLED_PACK
from tests.store.databases import database_url, postgres_schema_url

__all__ = ["database_url", "postgres_schema_url"]


def _settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(pack_path=BUNDLED_PACK, data_dir=tmp_path / "data", database_url=database_url)


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _count(database: Database, table: Any) -> int:
    with database.session("counting") as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_screening_ids_are_stable_uuid7() -> None:
    first = batch_screening_id(STAMP, "run1", 0, 17)
    assert first == batch_screening_id(STAMP, "run1", 0, 17)
    assert first != batch_screening_id(STAMP, "run1", 1, 17)
    assert first != batch_screening_id(STAMP, "run2", 0, 17)
    assert first[14] == "7"
    later = batch_screening_id(datetime(2026, 2, 1, tzinfo=UTC), "run0", 0, 1)
    assert later > first


def test_every_record_is_monitored_and_results_with_flags_are_logged(
        tmp_path: Path, database_url: str, sample_records: list[Record]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", sample_records)
    outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", workers=1, chunk_size=50,
                                     screened_at=STAMP, progress="none", store=True),
                        _settings(tmp_path, database_url))
    assert outcome.exit_code is ExitCode.done
    results = _results(tmp_path / "out.jsonl")
    with_flags = {r["record_id"]: r for r in results if r["flags"] or r["decision"] != "clear"}
    assert with_flags and len(with_flags) < len(results)
    database = Database(database_url)
    try:
        rows = ScreeningRepository(database).list(ScreeningFilter(), limit=10_000)
        assert sorted(row.record_id for row in rows) == sorted(with_flags)
        records = {r.id: r for r in sample_records}
        for row in rows:
            assert row.source == "batch"
            assert row.screened_at == STAMP
            assert row.result == with_flags[row.record_id]  # the logged result is the one in the output
            assert row.record == records[row.record_id].model_dump(mode="json")
            assert row.id == batch_screening_id(STAMP, outcome.summary["run"]["run_id"], 0,
                                                list(records).index(row.record_id) + 1)

        # every record, clear ones too, is in the monitored set with what its screening found
        monitored = MonitoredRepository(database)
        parties = sum(len(r.parties) + sum(1 for v in r.vessels if v.name or v.imo) for r in sample_records)
        assert monitored.counts() == (len(sample_records), parties)
        by_id = monitored.records(records)
        for result in results:
            item = by_id[result["record_id"]]
            assert item.record == records[result["record_id"]].model_dump(mode="json")
            assert item.last_decision == result["decision"]
            assert item.last_result_digest == result_digest(ScreeningResult.model_validate(result))
        logged_ids = {row.record_id: row.id for row in rows}
        assert all(by_id[record_id].last_screening_id == logged_ids[record_id] for record_id in logged_ids)

        # non-clear results opened their alerts
        flagged = {r for r, result in with_flags.items() if result["decision"] != "clear"}
        with database.session("reading alerts") as session:
            alerts = list(session.scalars(select(AlertRow)))
        assert {alert.record_id for alert in alerts} == flagged
        assert {alert.source for alert in alerts} == {"batch"}
    finally:
        database.dispose()


def _allow_list_first_match(database_url: str, pack: Pack, records: list[Record],
                            results: list[dict[str, Any]]) -> tuple[str, int]:
    """Allow-list the first party match of the results (as an officer would); returns (record id, entry id)."""
    for record, result in zip(records, results, strict=True):
        for flag in result["flags"]:
            for evidence in flag["evidence"]:
                if evidence.get("entry") and evidence["kind"] not in FACT_KINDS and evidence["field"].startswith(
                        "parties["):
                    row = new_allow_list_row(pack, rule_id=flag["rule"], evidence_value=evidence["value"],
                                             field=evidence["field"], entry_id=evidence["entry"], record=record,
                                             reason="a namesake, checked", actor="officer", days=30, alert_id=None)
                    database = Database(database_url)
                    try:
                        with database.session("allow-listing") as session:
                            session.add(row)
                            session.flush()
                            entry_id = row.id
                    finally:
                        database.dispose()
                    return record.id, entry_id
    raise AssertionError("the sample has no party match to allow-list")


def test_the_allow_list_applies_to_the_store_and_the_output_files(
        tmp_path: Path, database_url: str, sample_records: list[Record], bundled_pack: Pack) -> None:
    settings = _settings(tmp_path, database_url)
    source = write_jsonl(tmp_path / "in.jsonl", sample_records)
    options = BatchOptions(inputs=(source,), out=tmp_path / "plain.csv", workers=1, chunk_size=50,
                           screened_at=STAMP, progress="none")
    run_batch(options, settings)
    plain = _results(tmp_path / "plain.csv.results.jsonl")
    record_id, entry_id = _allow_list_first_match(database_url, bundled_pack, sample_records, plain)

    stored = run_batch(replace(options, out=tmp_path / "stored.csv", store=True), settings)
    results = _results(tmp_path / "stored.csv.results.jsonl")
    changed = [(before, after) for before, after in zip(plain, results, strict=True) if before != after]
    assert changed, "the allow-list entry must change at least the result it was made from"
    assert record_id in {after["record_id"] for _, after in changed}
    for before, after in changed:
        suppressed = [e for f in after["flags"] for e in f["evidence"] if e.get("suppressed_by")]
        assert {e["suppressed_by"] for e in suppressed} == {str(entry_id)}
        # the match is reported, not dropped; with nothing else counting, the decision is clear
        assert len([e for f in after["flags"] for e in f["evidence"]]) == len(
            [e for f in before["flags"] for e in f["evidence"]])
        if all(f["suppressed"] for f in after["flags"]):
            assert after["decision"] == "clear"
    # the summary row, the report counts and the store agree with the results file
    summary = {row.split(",")[0]: row for row in (tmp_path / "stored.csv").read_text().splitlines()[1:]}
    for _, after in changed:
        assert summary[after["record_id"]].split(",")[1] == after["decision"]
    assert stored.stats.decisions["clear"] == sum(1 for r in results if r["decision"] == "clear")
    database = Database(database_url)
    try:
        logged = {row.record_id: row.result for row in
                  ScreeningRepository(database).list(ScreeningFilter(), limit=10_000)}
        for _, after in changed:
            assert logged[after["record_id"]] == after
        with database.session("reading alerts") as session:
            alerted = set(session.scalars(select(AlertRow.record_id)))
        assert alerted == {r["record_id"] for r in results if r["decision"] != "clear"}
    finally:
        database.dispose()


def test_an_interrupted_run_stores_each_record_once(tmp_path: Path, database_url: str,
                                                    sample_records: list[Record],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, database_url)
    source = write_jsonl(tmp_path / "in.jsonl", sample_records)
    options = BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", workers=1, chunk_size=40,
                           screened_at=STAMP, progress="none", store=True)
    reference = run_batch(replace(options, out=tmp_path / "reference.jsonl", store=False), settings)
    assert reference.exit_code is ExitCode.done

    from service.batch import job

    real_write_journal = job.write_journal
    calls = 0

    def die_before_the_third_chunk_is_journalled(path: Path, journal: job.Journal) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # the new run's journal, then chunks 1 and 2; chunk 3 is stored but not journalled
            raise OSError("power cut")
        real_write_journal(path, journal)

    monkeypatch.setattr(job, "write_journal", die_before_the_third_chunk_is_journalled)
    with pytest.raises(OSError, match="power cut"):
        run_batch(options, settings)
    monkeypatch.undo()
    database = Database(database_url)
    try:
        assert MonitoredRepository(database).counts()[0] == 120
        resumed = run_batch(replace(options, resume=True), settings)
        assert resumed.resumed
        assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
        results = _results(tmp_path / "out.jsonl")
        with_flags = sorted(r["record_id"] for r in results if r["flags"] or r["decision"] != "clear")
        rows = ScreeningRepository(database).list(ScreeningFilter(), limit=10_000)
        assert sorted(row.record_id for row in rows) == with_flags
        assert MonitoredRepository(database).counts()[0] == len(sample_records)
        assert _count(database, AlertRow) == sum(1 for r in results if r["decision"] != "clear")
    finally:
        database.dispose()


def test_a_resumed_sink_leaves_out_log_rows_already_stored(tmp_path: Path, database_url: str, bundled_pack: Pack,
                                                            sample_records: list[Record], screener: Screener) -> None:
    screened = [(record, screener.screen(record, STAMP)) for record in sample_records]
    flagged = [(record, result) for record, result in screened if result.decision != "clear"][:6]
    clear = next((record, result) for record, result in screened if not result.flags)
    items = [ScreenedRecord(0, row, record.id, record.model_dump(mode="json"), result.decision.value,
                            result.risk_score, result_digest(result),
                            result.model_dump(mode="json") if result.flags else None, 1.0)
             for row, (record, result) in enumerate([*flagged, clear])]
    first = StoreSink.open(_settings(tmp_path, database_url), "run-x", STAMP, bundled_pack)
    try:
        first.write(items[:3])  # stored, but the journal never heard of it: the process died here
    finally:
        first.close()
    again = StoreSink.open(_settings(tmp_path, database_url), "run-x", STAMP, bundled_pack)
    try:
        again.write(items[:2])  # a smaller chunk on resume: both already there
        again.write(items[2:5])  # r2 already there, r3 and r4 new
        again.write(items[5:])  # r5 new, r6 clear: monitored, not logged
        assert (again.logged, again.monitored) == (3, 7)
    finally:
        again.close()
    database = Database(database_url)
    try:
        assert _count(database, ScreeningRow) == 6
        assert MonitoredRepository(database).counts()[0] == 7
    finally:
        database.dispose()


def test_unreachable_store_is_a_usage_error(tmp_path: Path, sample_records: list[Record]) -> None:
    settings = Settings(pack_path=BUNDLED_PACK, data_dir=tmp_path / "data",
                        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    source = write_jsonl(tmp_path / "in.jsonl", sample_records[:3])
    with pytest.raises(BatchError, match="store not available"):
        prepare_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", store=True), settings)
    assert not (tmp_path / "out.jsonl.journal").exists()
