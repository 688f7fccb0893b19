"""Bad rows land in OUT.errors.jsonl with the right row numbers while the rest completes; exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from service.batch import BatchOptions, ExitCode, run_batch
from service.batch.commands import register
from service.model import Record
from service.settings import Settings
from tests.batch.conftest import STAMP
from tests.conftest import BUNDLED_PACK


def _good(record_id: str) -> str:
    return json.dumps({"id": record_id, "parties": [{"role": "consignee", "name": "Amber Coast Distribution",
                                                     "country": "DE"}]})


def _errors(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_bad_rows_are_reported_with_their_numbers(tmp_path: Path, batch_settings: Settings) -> None:
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join([
        _good("j1"),                                                    # line 1
        "",                                                             # line 2: blank, skipped
        '{"id": "j3", "parties": [',                                    # line 3: broken JSON
        _good("j4"),                                                    # line 4
        json.dumps({"id": "j5", "goods": [{"hs_code": "85"}]}),         # line 5: HS code too short
        json.dumps({"id": "j6", "colour": "red"}),                      # line 6: unknown field
        _good("j7"),                                                    # line 7
    ]) + "\n", encoding="utf-8")
    csv_path = tmp_path / "in.csv"
    csv_path.write_bytes(
        b"id,consignee_name,consignee_address,goods_hs_code\n"         # line 1: header (not a data row)
        b"c1,Amber Coast,ul. Lenina 1,8542.31\n"                          # line 2: row 1
        b"\n"                                                           # line 3: blank, not a row
        b'c2,Delta Supplies,"Dock 4\nBuilding 2",85\n'                  # lines 4-5: row 2, bad HS code
        b"c3,,,940370\n"                                                # line 6: row 3, consignee without name?
        b"c4,Lumen,x,940370,surplus\n"                                  # line 7: row 4, one cell too many
        b"c5,Caf\xe9 Nord,x,940370\n"                                   # line 8: row 5, not UTF-8
        b'c6,"Orion" Ltd,x,940370\n'                                    # line 9: row 6, broken quoting
        b"c7,Vega Trading,x,940370\n"                                   # line 10: row 7
    )
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["p1", "p2", "p3"], "consignee_name": ["Granite", None, "Cedar"],
                             "consignee_country": ["DE", "FR", "NL"], "goods_quantity": ["3", "4", "many"]}),
                   parquet)

    outcome = run_batch(BatchOptions(inputs=(jsonl, csv_path, parquet), out=tmp_path / "out.jsonl", workers=1,
                                     chunk_size=2, screened_at=STAMP, progress="none"), batch_settings)

    assert outcome.exit_code is ExitCode.bad_rows
    errors = _errors(tmp_path / "out.jsonl.errors.jsonl")
    located = [(Path(str(e["input"])).name, e["row"], e.get("line")) for e in errors]
    assert located == [
        ("in.jsonl", 3, 3), ("in.jsonl", 5, 5), ("in.jsonl", 6, 6),
        ("in.csv", 2, 4), ("in.csv", 4, 7), ("in.csv", 5, 8), ("in.csv", 6, 9),
        ("in.parquet", 2, None), ("in.parquet", 3, None),
    ]
    by_place = {(Path(str(e["input"])).name, e["row"]): e for e in errors}
    assert by_place[("in.jsonl", 3)]["message"].startswith("Invalid JSON")
    assert by_place[("in.jsonl", 5)]["record_id"] == "j5"
    assert by_place[("in.jsonl", 5)]["errors"] == [
        {"field": "goods[0].hs_code", "message": "Value error, an HS code needs 4 to 10 digits, got 2 in '85'"}]
    assert by_place[("in.jsonl", 6)]["errors"][0]["field"] == "colour"
    assert by_place[("in.csv", 2)]["record_id"] == "c2"
    assert by_place[("in.csv", 2)]["errors"][0] | {"message": ""} == {
        "field": "goods[0].hs_code", "column": "goods_hs_code", "message": ""}
    assert "5 cells but the header only 4" in str(by_place[("in.csv", 4)]["message"])
    assert by_place[("in.csv", 5)]["message"] == "not valid utf-8 text"
    assert "cannot read the row" in str(by_place[("in.csv", 6)]["message"])
    assert by_place[("in.parquet", 2)]["errors"][0]["field"] == "parties[0].name"
    assert by_place[("in.parquet", 2)]["errors"][0]["column"] == "consignee_name"
    assert by_place[("in.parquet", 3)]["errors"][0]["column"] == "goods_quantity"

    results = [json.loads(line)["record_id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert results == ["j1", "j4", "j7", "c1", "c3", "c7", "p1"]
    assert outcome.stats.records == len(results) + len(errors)
    assert outcome.stats.bad_rows == len(errors)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The batch commands on an application of their own, with settings that stay inside tmp_path."""
    monkeypatch.setenv("SCREENING_PACK_PATH", str(BUNDLED_PACK))
    monkeypatch.setenv("SCREENING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SCREENING_DATABASE_URL", raising=False)
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Stands in for the screening application."""

    register(app)
    return app


def test_fail_on_wins_over_bad_rows_and_default_command_runs(tmp_path: Path, cli: typer.Typer,
                                                             sample_records: list[Record]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(r.model_dump_json() + "\n" for r in sample_records[:40]) + "not json\n",
                      encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["batch", str(source), "--out", str(tmp_path / "out.csv"), "--workers", "1",
                                 "--fail-on", "review", "--progress", "none", "--screened-at", STAMP.isoformat()])
    assert result.exit_code == ExitCode.fail_on, result.output
    assert "records" in result.output
    assert "41" in result.output
    assert (tmp_path / "out.csv.errors.jsonl").read_text().count("\n") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["missing.jsonl", "--out", "{tmp}/o.jsonl"], "cannot read input missing.jsonl"),
    (["{tmp}/in.txt", "--out", "{tmp}/o.jsonl"], "unknown input format '.txt'"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/o.xlsx"], "unknown output format '.xlsx'"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/nowhere/o.jsonl"], "does not exist"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/in.jsonl"], "would overwrite the input"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/o.jsonl", "--store"], "--store: store not available"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/o.jsonl", "--scheduler", "tcp://x:1"], "only applies with --engine dask"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/o.jsonl", "--workers", "0"], "--workers must be at least 1"),
    (["{tmp}/in.jsonl", "--out", "{tmp}/o.jsonl", "--screened-at", "yesterday"], "not an ISO 8601 timestamp"),
    (["{tmp}/in.csv", "--out", "{tmp}/o.jsonl"], "in.csv: header: Ref, Cnee: not columns of the default layout"),
    (["{tmp}/in.csv", "--out", "{tmp}/o.jsonl", "--mapping", "{tmp}/map.yaml"], "map.yaml: columns.Cnee: "),
    (["{tmp}/in.jsonl", "--out", "{tmp}/o.jsonl", "--pack", "{tmp}"], "the rule pack at"),
])
def test_usage_errors_exit_2_and_write_nothing(tmp_path: Path, cli: typer.Typer, args: list[str],
                                               message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(_good("a") + "\n", encoding="utf-8")
    (tmp_path / "in.txt").write_text("x", encoding="utf-8")
    (tmp_path / "in.csv").write_text("Ref,Cnee\n1,x\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text("columns:\n  Ref: id\n  Cnee: parties[cnee].name\n", encoding="utf-8")
    if "--store" in args:
        monkeypatch.setenv("SCREENING_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["batch", *(a.replace("{tmp}", str(tmp_path)) for a in args)])
    assert result.exit_code == ExitCode.usage, result.output
    assert message in " ".join(result.output.split()), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_batch_mapping_proposes_a_loadable_mapping(tmp_path: Path, cli: typer.Typer) -> None:
    export = tmp_path / "export.csv"
    export.write_text("Shipment Ref;x\n", encoding="utf-8")
    export.write_text("Shipment Ref,Cnee Name,Cnee Ctry,HS Code 1,Remarks\nA1,OOO Test,RU,854231,\n",
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["batch", "mapping", str(export), "--out", str(tmp_path / "map.yaml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "map.yaml").read_text(encoding="utf-8")
    assert "Cnee Name: parties[consignee].name" in text
    assert "- Remarks" in text
    printed = CliRunner().invoke(cli, ["batch", "mapping", str(export)])
    assert printed.stdout == text
