"""``screening lists import|status|diff`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from service.lists import import_list, load_compiled_list, save_compiled_list


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("SCREENING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_import_prints_counts_date_and_digest(cli: typer.Typer, runner: CliRunner, fixtures: Path,
                                              tmp_path: Path) -> None:
    result = runner.invoke(cli, ["lists", "import", "un", str(fixtures / "un")])
    assert result.exit_code == 0, result.output
    assert "Imported un-consolidated: UN Security Council Consolidated List" in result.output
    assert "published   2026-02-27" in result.output
    assert "entries     19 (8 organization, 11 person)" in result.output
    assert "digest      sha256:" in result.output
    compiled = load_compiled_list(tmp_path / "data" / "lists" / "un-consolidated.json.gz")
    assert compiled.meta.entry_count == 19


def test_import_reports_skipped_and_missing_date(cli: typer.Typer, runner: CliRunner, fixtures: Path,
                                                 tmp_path: Path) -> None:
    result = runner.invoke(cli, ["lists", "import", "ofac-sdn", str(fixtures / "ofac_sdn"),
                                 "--data-dir", str(tmp_path / "elsewhere")])
    assert result.exit_code == 0, result.output
    assert "published   not given by the format" in result.output
    assert "skipped     2 alt.csv rows of entries not in sdn.csv" in result.output
    assert (tmp_path / "elsewhere" / "lists" / "ofac-sdn.json.gz").is_file()


def test_failed_import_exits_1_and_keeps_the_list(cli: typer.Typer, runner: CliRunner, fixtures: Path,
                                                  tmp_path: Path) -> None:
    assert runner.invoke(cli, ["lists", "import", "un", str(fixtures / "un")]).exit_code == 0
    path = tmp_path / "data" / "lists" / "un-consolidated.json.gz"
    before = path.read_bytes()
    broken = tmp_path / "un.xml"
    broken.write_text("<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL></INDIVIDUALS>", encoding="utf-8")
    result = runner.invoke(cli, ["lists", "import", "un", str(broken)])
    assert result.exit_code == 1
    assert "un.xml: line 1, column" in result.output
    assert "the previous list in" in result.output and "is unchanged" in result.output
    assert path.read_bytes() == before


def test_unknown_source(cli: typer.Typer, runner: CliRunner, fixtures: Path) -> None:
    result = runner.invoke(cli, ["lists", "import", "ofac", str(fixtures / "un")])
    assert result.exit_code == 2
    assert "unknown source 'ofac'" in result.output


def test_status(cli: typer.Typer, runner: CliRunner, fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = runner.invoke(cli, ["lists", "status"])
    assert empty.exit_code == 0 and "No imported lists" in empty.output
    runner.invoke(cli, ["lists", "import", "un", str(fixtures / "un")])
    runner.invoke(cli, ["lists", "import", "ofac-sdn", str(fixtures / "ofac_sdn")])
    table = runner.invoke(cli, ["lists", "status"])
    assert table.exit_code == 0, table.output
    assert "un-consolidated" in table.output and "ofac-sdn" in table.output
    rows = {row["name"]: row for row in json.loads(runner.invoke(cli, ["lists", "status", "--format", "json"]).output)}
    assert rows["ofac-sdn"]["entries"] == 32
    assert rows["ofac-sdn"]["age_basis"] == "imported" and rows["ofac-sdn"]["stale"] is False
    assert rows["un-consolidated"]["published"] == "2026-02-27"
    monkeypatch.setenv("SCREENING_LIST_MAX_AGE_DAYS", "1")
    strict = runner.invoke(cli, ["lists", "status", "--strict", "--format", "json"])
    stale = {row["name"]: row["stale"] for row in json.loads(strict.output)}
    assert stale["ofac-sdn"] is False
    assert strict.exit_code == (1 if stale["un-consolidated"] else 0)


def test_diff_compiled_files_and_names(cli: typer.Typer, runner: CliRunner, fixtures: Path, tmp_path: Path) -> None:
    old = import_list("uk", fixtures / "uk_conlist")
    old_path = save_compiled_list(old, tmp_path / "old")
    runner.invoke(cli, ["lists", "import", "uk", str(fixtures / "uk_tables")])
    result = runner.invoke(cli, ["lists", "diff", str(old_path), "uk-sanctions-list", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "5 added, 6 removed" in result.output
    assert "... and 3 more" in result.output
    as_json = json.loads(runner.invoke(cli, ["lists", "diff", str(old_path), "uk-sanctions-list",
                                             "--format", "json"]).output)
    assert "uk-dpr0075" in as_json["added"]
    assert as_json["new"]["source_format"] == "uk-sanctions-list-csv-tables"


def test_diff_publications_with_source(cli: typer.Typer, runner: CliRunner, fixtures: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    newer.mkdir()
    lines = (fixtures / "ofac_sdn" / "sdn.csv").read_bytes().split(b"\r\n")
    (newer / "sdn.csv").write_bytes(b"\r\n".join(line.replace(b"BANCO NACIONAL DE CUBA", b"BANCO NACIONAL DE CUBA SA")
                                                  for line in lines if not line.startswith(b"36,")))
    result = runner.invoke(cli, ["lists", "diff", str(fixtures / "ofac_sdn" / "sdn.csv"), str(newer / "sdn.csv"),
                                 "--source", "ofac-sdn"])
    assert result.exit_code == 0, result.output
    assert "0 added, 1 removed" in result.output
    assert "ofac-sdn-36  AEROCARIBBEAN AIRLINES (organization)" in result.output
    assert "name: 'BANCO NACIONAL DE CUBA' -> 'BANCO NACIONAL DE CUBA SA'" in result.output


def test_diff_of_something_that_is_not_a_list(cli: typer.Typer, runner: CliRunner, fixtures: Path) -> None:
    result = runner.invoke(cli, ["lists", "diff", str(fixtures / "un"), "un-consolidated"])
    assert result.exit_code == 1
    assert "not a compiled list" in result.output
