"""The Dask engine runs the same chunks and writes the same bytes as the local engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.batch import BatchOptions, ExitCode, run_batch
from service.model import Record
from service.settings import Settings
from tests.batch.conftest import STAMP, write_csv, write_jsonl

distributed = pytest.importorskip("distributed")


@pytest.fixture
def threaded_cluster() -> Iterator[str]:
    """A one-worker Dask cluster inside the test process (light enough for CI); yields its address."""
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def _outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("out.csv", "out.csv.results.jsonl", "out.csv.errors.jsonl")}


def test_dask_and_local_engines_write_identical_outputs(tmp_path: Path, sample_records: list[Record],
                                                        batch_settings: Settings, threaded_cluster: str) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", sample_records[:120])
    with jsonl.open("a", encoding="utf-8") as stream:
        stream.write('{"id": "broken"\n')
    csv_input = write_csv(tmp_path / "b.csv", sample_records[120:])
    results = {}
    for engine in ("local", "dask"):
        folder = tmp_path / engine
        folder.mkdir()
        outcome = run_batch(BatchOptions(
            inputs=(jsonl, csv_input), out=folder / "out.csv", workers=1, chunk_size=40, screened_at=STAMP,
            progress="none", engine="dask" if engine == "dask" else "local",
            scheduler=threaded_cluster if engine == "dask" else None), batch_settings)
        assert outcome.exit_code is ExitCode.bad_rows
        results[engine] = (_outputs(folder), outcome.summary["counts"])
    assert results["dask"] == results["local"]
    assert results["local"][1]["records"] == len(sample_records) + 1


@pytest.mark.slow
def test_dask_local_cluster_of_worker_processes(tmp_path: Path, sample_records: list[Record],
                                                batch_settings: Settings) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", sample_records[:50])
    expected = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "local.jsonl", workers=1, chunk_size=20,
                                      screened_at=STAMP, progress="none"), batch_settings)
    outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "dask.jsonl", workers=1, chunk_size=20,
                                     screened_at=STAMP, progress="none", engine="dask"), batch_settings)
    assert outcome.exit_code is expected.exit_code is ExitCode.done
    assert (tmp_path / "dask.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
