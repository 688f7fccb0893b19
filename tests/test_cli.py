"""The command line: screen, rules check/test/schema/stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import ROOT
from tests.factory import write_pack

runner = CliRunner()
EXAMPLE = ROOT / "tests" / "examples" / "shipment.json"


@pytest.fixture(autouse=True)
def no_imported_lists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCREENING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SCREENING_PACK_PATH", raising=False)
    monkeypatch.delenv("SCREENING_IMPORTED_LISTS", raising=False)


def test_screen_one_pretty_printed_record() -> None:
    result = runner.invoke(app, ["screen", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    assert json.loads(line)["decision"] == "block"


def test_screen_jsonl_keeps_order_and_reports_bad_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([
        json.dumps({"id": "a", "parties": [{"name": "SAHARA THUNDER"}]}),
        "{not json",
        json.dumps({"id": "b", "parties": [{"role": "boss", "name": "X"}]}),
        json.dumps({"id": "c", "goods": [{"description": "olive oil", "hs_code": "1509.20"}]}),
    ]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["screen", str(source)])
    assert result.exit_code == 3
    ids = [json.loads(line)["record_id"] for line in result.stdout.strip().splitlines()]
    assert ids == ["a", "c"]
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: parties[0].role:" in result.stderr


def test_screen_from_stdin_as_a_table() -> None:
    result = runner.invoke(app, ["screen", "-", "--format", "table"], input=EXAMPLE.read_text(),
                           env={"COLUMNS": "220"})
    assert result.exit_code == 0
    assert "BLOCK" in result.stdout
    assert "[ru-vertikal-alabuga]" in result.stdout


def test_rules_check_and_test_on_the_bundled_pack() -> None:
    checked = runner.invoke(app, ["rules", "check"])
    assert checked.exit_code == 0
    assert "drone-supply-chain" in checked.stdout
    tested = runner.invoke(app, ["rules", "test"])
    assert tested.exit_code == 0
    assert " 0 failed" in tested.stdout


def test_rules_check_names_file_entry_and_field(tmp_path: Path) -> None:
    pack = write_pack(tmp_path, parties=[{"id": "x-1", "type": "company", "name": "X"}])
    result = runner.invoke(app, ["rules", "check", str(pack)])
    assert result.exit_code == 1
    assert "lists/test.yaml: x-1: type: Input should be 'organization', 'person' or 'vessel'" in result.stderr


def test_rules_schema_matches_the_checked_in_file() -> None:
    result = runner.invoke(app, ["rules", "schema"])
    assert result.stdout == (ROOT / "rules" / "schema.json").read_text(encoding="utf-8")


def test_rules_stats() -> None:
    result = runner.invoke(app, ["rules", "stats"])
    assert result.exit_code == 0
    assert "HS codes" in result.stdout


def test_configured_list_that_was_never_imported_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_IMPORTED_LISTS", '["ofac-sdn"]')
    result = runner.invoke(app, ["screen", str(EXAMPLE)])
    assert result.exit_code == 1
    assert "ofac-sdn: imported_lists: list not imported" in result.stderr
