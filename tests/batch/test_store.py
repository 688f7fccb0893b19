"""--store writes each flagged result to the screening log once, also across an interrupted run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.batch import BatchOptions, ExitCode, prepare_batch, run_batch
from service.batch.store_sink import StoreSink, batch_screening_id
from service.batch.worker import FlaggedResult
from service.engine import Screener
from service.errors import BatchError
from service.model import Record
from service.settings import Settings
from service.store import Database, ScreeningFilter, ScreeningRepository, ScreeningRow
from tests.batch.conftest import STAMP, write_jsonl
from tests.conftest import BUNDLED_PACK
from tests.store.databases import database_url, postgres_schema_url

__all__ = ["database_url", "postgres_schema_url"]


def test_screening_ids_are_stable_uuid7() -> None:
    first = batch_screening_id(STAMP, "run1", 0, 17)
    assert first == batch_screening_id(STAMP, "run1", 0, 17)
    assert first != batch_screening_id(STAMP, "run1", 1, 17)
    assert first != batch_screening_id(STAMP, "run2", 0, 17)
    assert first[14] == "7"
    later = batch_screening_id(datetime(2026, 2, 1, tzinfo=UTC), "run0", 0, 1)
    assert later > first


def test_flagged_results_are_stored_once(tmp_path: Path, database_url: str, sample_records: list[Record],
                                         screener: Screener) -> None:
    settings = Settings(pack_path=BUNDLED_PACK, data_dir=tmp_path / "data", database_url=database_url)
    source = write_jsonl(tmp_path / "in.jsonl", sample_records)
    outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", workers=1, chunk_size=50,
                                     screened_at=STAMP, progress="none", store=True), settings)
    assert outcome.exit_code is ExitCode.done
    flagged = [r for r in (screener.screen(record, STAMP) for record in sample_records) if r.decision != "clear"]
    assert flagged
    database = Database(database_url)
    try:
        rows = ScreeningRepository(database).list(ScreeningFilter(), limit=10_000)
        assert sorted(row.record_id for row in rows) == sorted(r.record_id for r in flagged)
        assert {row.source for row in rows} == {"batch"}
        by_id = {r.record_id: r for r in flagged}
        for row in rows:
            assert row.result == by_id[row.record_id].model_dump(mode="json")
            assert row.record is not None
            assert row.record["id"] == row.record_id
            assert row.screened_at == STAMP
    finally:
        database.dispose()


def test_resumed_store_skips_rows_stored_before_the_interruption(tmp_path: Path, database_url: str) -> None:
    settings = Settings(pack_path=BUNDLED_PACK, data_dir=tmp_path / "data", database_url=database_url)
    result = {"record_id": "r", "decision": "review", "risk_score": 50,
              "pack": {"name": "p", "version": "1", "digest": "d"}}
    items = [FlaggedResult(0, row, {"id": f"r{row}"}, {**result, "record_id": f"r{row}"}, 1.0) for row in range(6)]
    first = StoreSink.open(settings, "run-x", STAMP, resumed=False)
    try:
        first.write(items[:3])  # stored, but the journal never heard of it: the process died here
    finally:
        first.close()
    again = StoreSink.open(settings, "run-x", STAMP, resumed=True)
    try:
        again.write(items[:2])  # a smaller chunk on resume: both already there
        again.write(items[2:5])  # r2 already there, r3 and r4 new
        again.write(items[5:])
        assert again.written == 3
    finally:
        again.close()
    database = Database(database_url)
    try:
        with database.session("counting") as session:
            assert session.scalar(select(func.count()).select_from(ScreeningRow)) == 6
    finally:
        database.dispose()


def test_unreachable_store_is_a_usage_error(tmp_path: Path, sample_records: list[Record]) -> None:
    settings = Settings(pack_path=BUNDLED_PACK, data_dir=tmp_path / "data",
                        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    source = write_jsonl(tmp_path / "in.jsonl", sample_records[:3])
    with pytest.raises(BatchError, match="store not available"):
        prepare_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", store=True), settings)
    assert not (tmp_path / "out.jsonl.journal").exists()
