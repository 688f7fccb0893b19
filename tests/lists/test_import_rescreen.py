"""``screening lists import`` rescreens the monitored parties its changes could affect, when there is a store
(``--rescreen``, on by default), and never creates one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from service.engine import Screener
from service.model import parse_record
from service.review import AlertFilter, list_alerts
from service.review.alerts import result_digest
from service.settings import Settings
from service.store import open_database
from service.store.monitored import MonitoredRepository, MonitoredScreening
from service.store.rescreens import RescreenRunRepository
from service.store.screenings import new_screening_id

LISTED = {"id": "cp-korea", "kind": "counterparty",
          "parties": [{"role": "counterparty", "name": "Korea Mining Development Trading Corporation",
                       "country": "KP"}]}
ORDINARY = {"id": "cp-nordic", "kind": "counterparty",
            "parties": [{"role": "counterparty", "name": "Nordic Pumps AB", "country": "SE"}]}


def _env(data: Path, lists: list[str]) -> dict[str, str]:
    return {"SCREENING_DATA_DIR": str(data), "SCREENING_DATABASE_URL": "",
            "SCREENING_IMPORTED_LISTS": json.dumps(lists), "COLUMNS": "200"}


def _monitor(data: Path, screener: Screener) -> str:
    """A store holding two counterparties screened before any list was imported; returns its URL."""
    url = Settings(data_dir=data, database_url=None).resolved_database_url()
    database = open_database(url)
    now = datetime.now(UTC)
    items = []
    for record in (LISTED, ORDINARY):
        result = screener.screen(parse_record(record))
        items.append(MonitoredScreening(str(record["id"]), record, "api", new_screening_id(now),
                                        result.decision.value, result_digest(result), now, "d"))
    MonitoredRepository(database).add_many(items)
    database.dispose()
    return url


def _runs(url: str) -> list[Any]:
    database = open_database(url)
    try:
        return RescreenRunRepository(database).list()
    finally:
        database.dispose()


def test_an_import_rescreens_the_parties_its_entries_could_match(cli: typer.Typer, fixtures: Path, tmp_path: Path,
                                                                 screener: Screener) -> None:
    data = tmp_path / "data"
    url = _monitor(data, screener)
    result = CliRunner().invoke(cli, ["lists", "import", "un", str(fixtures / "un")],
                                env=_env(data, ["un-consolidated"]))
    assert result.exit_code == 0, result.output
    assert "Imported un-consolidated" in result.output and "Rescreen run 1 finished" in result.output
    assert "un-consolidated: 19 added, 0 removed, 0 changed" in result.output
    assert "no baseline yet" in result.output  # the first import: every entry is new
    (run,) = _runs(url)
    assert (run.trigger, run.mode, run.status.value) == ("list-import", "changed", "finished")
    assert [c["record_id"] for c in run.detail["changes"]] == ["cp-korea"]
    database = open_database(url)
    try:
        assert [a.record_id for a in list_alerts(database, AlertFilter()).items] == ["cp-korea"]
    finally:
        database.dispose()
    # The same publication again: nothing changed, nothing rescreened.
    again = CliRunner().invoke(cli, ["lists", "import", "un", str(fixtures / "un")],
                               env=_env(data, ["un-consolidated"]))
    assert again.exit_code == 0, again.output
    assert "0 changed entries compared" in again.output and "0 outcomes" in again.output


def test_no_rescreen_without_a_store_a_list_in_use_or_the_flag(cli: typer.Typer, fixtures: Path, tmp_path: Path,
                                                              screener: Screener) -> None:
    runner = CliRunner()
    fresh = tmp_path / "fresh"
    no_store = runner.invoke(cli, ["lists", "import", "un", str(fixtures / "un")], env=_env(fresh, []))
    assert no_store.exit_code == 0, no_store.output
    assert "rescreen    skipped: no store" in no_store.output
    assert not (fresh / "screening.sqlite3").exists()  # an import never creates a store
    data = tmp_path / "data"
    url = _monitor(data, screener)
    unused = runner.invoke(cli, ["lists", "import", "un", str(fixtures / "un")], env=_env(data, []))
    assert unused.exit_code == 0 and "the pack does not screen with un-consolidated" in unused.output
    flag = runner.invoke(cli, ["lists", "import", "un", str(fixtures / "un"), "--no-rescreen"],
                         env=_env(data, ["un-consolidated"]))
    assert flag.exit_code == 0 and "Rescreen run" not in flag.output and "rescreen    " not in flag.output
    assert _runs(url) == []


def test_a_rescreen_that_cannot_run_keeps_the_import_and_exits_4(cli: typer.Typer, fixtures: Path,
                                                                tmp_path: Path, screener: Screener) -> None:
    data = tmp_path / "data"
    _monitor(data, screener)
    # The pack names a list that was never imported: the import stands, the rescreen cannot load the pack.
    result = CliRunner().invoke(cli, ["lists", "import", "un", str(fixtures / "un")],
                                env=_env(data, ["un-consolidated", "ofac-sdn"]))
    assert result.exit_code == 4, result.output
    assert "rescreen not run" in result.output and "ofac-sdn" in result.output
    assert (data / "lists" / "un-consolidated.json.gz").is_file()
