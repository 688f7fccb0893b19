"""Every input format reads back the records written to it, and every output format the results."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from service.batch import BatchOptions, ExitCode, run_batch
from service.batch.mapping import ColumnMapping, load_mapping
from service.batch.readers import Row, open_input, read_chunks, read_rows
from service.batch.worker import SUMMARY_COLUMNS, parse_payload
from service.engine import Screener
from service.model import Record, ScreeningResult
from service.settings import Settings
from tests.batch.conftest import (
    STAMP,
    write_csv,
    write_jsonl,
    write_parquet_flat,
    write_parquet_nested,
)

WRITERS: dict[str, tuple[str, Callable[[Path, Sequence[Record]], Path]]] = {
    "jsonl": ("in.jsonl", write_jsonl),
    "ndjson": ("in.ndjson", write_jsonl),
    "csv": ("in.csv", write_csv),
    "parquet-flat": ("in.parquet", write_parquet_flat),
    "parquet-nested": ("in.parquet", write_parquet_nested),
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_input_format_round_trips(fmt: str, tmp_path: Path, sample_records: list[Record]) -> None:
    name, writer = WRITERS[fmt]
    path = writer(tmp_path / name, sample_records)
    mapping = ColumnMapping.default()
    source = open_input(path, mapping)
    read_back: list[Record] = []
    chunks = list(read_chunks(source, mapping, 0, 0, 0, max_rows=50, max_bytes=10**9))
    assert len(chunks) == 5
    rows = [row for chunk in chunks for row in chunk.block.rows()]
    assert [row for row, _, _, _ in rows] == list(range(1, len(sample_records) + 1))
    for _, _, payload, problem in rows:
        assert problem is None
        parsed, errors, _ = parse_payload(source.kind, source.plan, payload)
        assert errors == []
        assert parsed is not None
        read_back.append(parsed)
    assert read_back == sample_records


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet-flat", "parquet-nested"])
def test_reading_resumes_from_any_reported_position(fmt: str, tmp_path: Path, sample_records: list[Record]) -> None:
    name, writer = WRITERS[fmt]
    mapping = ColumnMapping.default()
    source = open_input(writer(tmp_path / name, sample_records), mapping)
    everything = list(read_rows(source, mapping, 0, 0, 0))
    cut = everything[100]
    assert list(read_rows(source, mapping, cut.end_offset, cut.row, cut.end_line)) == everything[101:]
    # chunks hold the same rows however they are cut (by count or by size), and reading from the position
    # after any chunk gives the rows of the chunks after it
    whole: list[Row] = [(raw.row, raw.line, raw.payload, raw.problem) for raw in everything]
    for max_rows, max_bytes in ((37, 10**9), (1000, 2000)):
        chunks = list(read_chunks(source, mapping, 0, 0, 0, max_rows=max_rows, max_bytes=max_bytes))
        assert len(chunks) > 3
        sizes = [len(list(chunk.block.rows())) for chunk in chunks]
        assert [row for chunk in chunks for row in chunk.block.rows()] == whole
        for index in (0, len(chunks) // 2, len(chunks) - 2):
            end = chunks[index]
            rest = read_chunks(source, mapping, end.end_offset, end.end_row, end.end_line, max_rows=10,
                               max_bytes=10**9)
            assert [row for chunk in rest for row in chunk.block.rows()] == whole[sum(sizes[:index + 1]):]


def _expected_results(screener: Screener, records: Sequence[Record]) -> list[ScreeningResult]:
    return [screener.screen(record, STAMP) for record in records]


def _expected_summary(results: Sequence[ScreeningResult]) -> list[dict[str, object]]:
    rows = []
    for result in results:
        evidence = [e for flag in result.flags for e in flag.evidence if e.entry]
        top = max(evidence, key=lambda e: e.score, default=None)
        rows.append({"record_id": result.record_id, "decision": result.decision.value,
                     "risk_score": result.risk_score,
                     "rules": ";".join(dict.fromkeys(f.rule for f in result.flags)),
                     "top_match_entry": top.entry if top else None, "top_match_name": top.matched if top else None,
                     "top_match_list": top.list if top else None, "top_match_score": top.score if top else None})
    return rows


def test_output_formats_round_trip(tmp_path: Path, sample_records: list[Record], screener: Screener,
                                   batch_settings: Settings) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", sample_records)
    expected = _expected_results(screener, sample_records)
    assert any(r.flags for r in expected), "the sample must hold hits for the summary columns to be tested"
    summary = _expected_summary(expected)
    outputs = {}
    for out_name in ("out.jsonl", "out.csv", "out.parquet"):
        outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / out_name, workers=1, chunk_size=50,
                                         screened_at=STAMP, progress="none"), batch_settings)
        assert outcome.exit_code is ExitCode.done
        outputs[out_name] = outcome.outputs

    results_path = outputs["out.jsonl"]["results"]
    lines = results_path.read_text(encoding="utf-8").splitlines()
    assert [ScreeningResult.model_validate_json(line) for line in lines] == expected
    # the full results beside a CSV or Parquet summary are the same bytes as the JSONL output
    assert outputs["out.csv"]["results"].read_bytes() == results_path.read_bytes()
    assert outputs["out.parquet"]["results"].read_bytes() == results_path.read_bytes()

    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as stream:
        csv_rows = list(csv.DictReader(stream))
    assert tuple(csv_rows[0]) == SUMMARY_COLUMNS
    assert csv_rows == [{k: "" if v is None else str(v) for k, v in row.items()} for row in summary]

    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == list(SUMMARY_COLUMNS)
    assert table.to_pylist() == summary

    for out_name in outputs:
        assert (tmp_path / f"{out_name}.errors.jsonl").read_bytes() == b""
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "data")
    assert left == sorted(["in.jsonl", "out.jsonl", "out.jsonl.errors.jsonl", "out.csv", "out.csv.results.jsonl",
                           "out.csv.errors.jsonl", "out.parquet", "out.parquet.results.jsonl",
                           "out.parquet.errors.jsonl"]), "no journal, lock or temporary file is left behind"


def test_every_input_format_gives_the_same_results(tmp_path: Path, sample_records: list[Record],
                                                   batch_settings: Settings) -> None:
    records = sample_records[:60]
    inputs = []
    for fmt in ("jsonl", "csv", "parquet-flat", "parquet-nested"):
        folder = tmp_path / fmt
        folder.mkdir()
        name, writer = WRITERS[fmt]
        inputs.append(writer(folder / name, records))
    outcome = run_batch(BatchOptions(inputs=tuple(inputs), out=tmp_path / "all.jsonl", workers=1, chunk_size=25,
                                     screened_at=STAMP, progress="none"), batch_settings)
    assert outcome.exit_code is ExitCode.done
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 * len(records)
    quarters = [lines[i * len(records):(i + 1) * len(records)] for i in range(4)]
    assert quarters[0] == quarters[1] == quarters[2] == quarters[3]
    assert json.loads(lines[0])["record_id"] == records[0].id


def test_parquet_summary_is_reproducible_byte_for_byte(tmp_path: Path, sample_records: list[Record],
                                                       batch_settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", sample_records[:90])
    written = []
    for chunk_size in (7, 1000):
        out = tmp_path / f"chunks-{chunk_size}" / "out.parquet"
        out.parent.mkdir()
        run_batch(BatchOptions(inputs=(source,), out=out, workers=1, chunk_size=chunk_size, screened_at=STAMP,
                               progress="none"), batch_settings)
        written.append(out.read_bytes())
    assert written[0] == written[1]


def test_csv_dialect_and_encoding_from_the_mapping(tmp_path: Path) -> None:
    mapping_path = tmp_path / "map.yaml"
    mapping_path.write_text("columns:\n  Ref: id\n  Empfänger: parties[consignee].name\n"
                            "  Land: parties[consignee].country\nconstants:\n  kind: counterparty\n"
                            "delimiter: ';'\nencoding: cp1252\n", encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_bytes("Ref;Empfänger;Land\nK-1;Café Nord, Ltd;FR\n".encode("cp1252"))
    mapping = load_mapping(mapping_path)
    source = open_input(export, mapping)
    (raw,) = list(read_rows(source, mapping, 0, 0, 0))
    parsed, errors, _ = parse_payload(source.kind, source.plan, raw.payload)
    assert errors == []
    assert parsed == Record.model_validate({"id": "K-1", "kind": "counterparty", "parties": [
        {"role": "consignee", "name": "Café Nord, Ltd", "country": "FR"}]})
