"""A run killed with SIGKILL in the middle and resumed gives byte-identical output to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from service.batch import BatchOptions, ExitCode, run_batch
from service.model import Record
from service.rulepack import Pack
from service.settings import Settings
from tests.batch.conftest import REPO_ROOT, STAMP, batch_command, build_records, write_csv
from tests.conftest import BUNDLED_PACK

pytestmark = pytest.mark.slow

OUTPUT_NAMES = ("out.csv", "out.csv.results.jsonl", "out.csv.errors.jsonl")


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory, bundled_pack: Pack) -> Path:
    """About 3,000 records as CSV with two bad rows among them."""
    folder = tmp_path_factory.mktemp("resume-input")
    records: list[Record] = build_records(bundled_pack, 3000, seed=11)
    path = write_csv(folder / "nightly.csv", records)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    bad_hs = ",".join("bad-1" if c == "id" else "85" if c == "goods_hs_code" else "" for c in header) + "\n"
    too_wide = ",".join("bad-2" if c == "id" else "" for c in header) + ",extra\n"
    lines.insert(700, bad_hs)
    lines.insert(2100, too_wide)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _environment() -> dict[str, str]:
    return {**os.environ, "SCREENING_PACK_PATH": str(BUNDLED_PACK), "PYTHONPATH": str(REPO_ROOT)}


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(batch_command(*args), cwd=cwd, env=_environment(), capture_output=True, text=True,
                          timeout=600, check=False)


def test_killed_run_resumes_to_identical_output(tmp_path: Path, big_input: Path) -> None:
    common = [big_input, "--workers", "1", "--progress", "none", "--screened-at", STAMP.isoformat()]
    reference = tmp_path / "reference"
    reference.mkdir()
    done = _run([*common, "--out", reference / "out.csv", "--chunk-size", "100"], tmp_path)
    assert done.returncode == ExitCode.bad_rows, done.stderr

    killed = tmp_path / "killed"
    killed.mkdir()
    journal = killed / "out.csv.journal"
    process = subprocess.Popen(batch_command(*common, "--out", killed / "out.csv", "--chunk-size", "100"),
                               cwd=tmp_path, env=_environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if journal.exists() and json.loads(journal.read_text())["chunks_done"] >= 8:
                break
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        else:
            pytest.fail("the run made no progress")
        os.killpg(process.pid, signal.SIGKILL)  # the coordinator and its worker processes
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        if process.stderr is not None:
            process.stderr.close()
    state = json.loads(journal.read_text())
    assert 8 <= state["chunks_done"] < 31
    for name in OUTPUT_NAMES:
        assert not (killed / name).exists(), f"{name} must not exist before the run completes"
    # A write the journal does not cover (the kill may land between a chunk's write and its journal
    # entry): make sure there is one, to prove resume cuts it away.
    partial = killed / ".out.csv.results.jsonl.partial"
    with partial.open("ab") as stream:
        stream.write(b'{"half a line')

    # a changed input is refused, untouched it resumes (with another chunk size: it does not matter)
    stat = big_input.stat()
    os.utime(big_input, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    refused = _run([*common, "--out", killed / "out.csv", "--resume"], tmp_path)
    assert refused.returncode == ExitCode.usage
    assert "cannot resume: the inputs are not the ones" in refused.stderr
    os.utime(big_input, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    resumed = _run([*common, "--out", killed / "out.csv", "--resume", "--chunk-size", "70",
                    "--report", killed / "report.html"], tmp_path)
    assert resumed.returncode == ExitCode.bad_rows, resumed.stderr
    assert "resuming run" in resumed.stderr

    for name in OUTPUT_NAMES:
        assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["run"]["attempts"] == 2
    assert summary["counts"]["records"] == 3002
    assert summary["counts"]["bad_rows"] == 2
    errors = [json.loads(line) for line in (killed / "out.csv.errors.jsonl").read_text().splitlines()]
    assert [(e["record_id"], e["row"], e["line"]) for e in errors] == [("bad-1", 700, 701), ("bad-2", 2100, 2101)]
    assert sorted(p.name for p in killed.iterdir()) == sorted([*OUTPUT_NAMES, "report.html", "summary.json"])


def test_resume_without_journal_starts_a_new_run(tmp_path: Path, sample_records: list[Record],
                                                 batch_settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", sample_records[:30])
    outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", workers=1, resume=True,
                                     screened_at=STAMP, progress="none"), batch_settings)
    assert outcome.exit_code is ExitCode.done
    assert not outcome.resumed
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 30


def test_run_killed_while_finishing_resumes(tmp_path: Path, sample_records: list[Record],
                                            batch_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_csv(tmp_path / "in.csv", sample_records[:80])
    options = BatchOptions(inputs=(source,), out=tmp_path / "out.parquet", workers=1, chunk_size=30,
                           screened_at=STAMP, progress="none")
    reference = run_batch(replace(options, out=tmp_path / "reference.parquet"), batch_settings)
    assert reference.exit_code is ExitCode.done

    from service.batch import job, writers

    def rename_one_then_die(paths: writers.OutputPaths) -> None:
        first = paths.finals[0]
        os.replace(writers.OutputPaths.partial(first), first)
        raise OSError("power cut")

    monkeypatch.setattr(job, "rename_finals", rename_one_then_die)
    with pytest.raises(OSError, match="power cut"):
        run_batch(options, batch_settings)
    assert json.loads((tmp_path / "out.parquet.journal").read_text())["phase"] == "finalizing"
    assert not (tmp_path / "out.parquet").exists()
    monkeypatch.undo()

    resumed = run_batch(replace(options, resume=True), batch_settings)
    assert resumed.exit_code is ExitCode.done
    assert resumed.resumed
    assert (tmp_path / "out.parquet").read_bytes() == (tmp_path / "reference.parquet").read_bytes()
    assert (tmp_path / "out.parquet.results.jsonl").read_bytes() == (
        tmp_path / "reference.parquet.results.jsonl").read_bytes()
    assert not (tmp_path / "out.parquet.journal").exists()
