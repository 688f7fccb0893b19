"""``screening rescreen`` on a real SQLite store, with the bundled pack and a synthetic imported list whose
versions differ by the 10 entries of bench/rescreen.py's scenario."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bench.rescreen import LIST_NAME, Scenario, build_scenario, monitor
from service.engine import Screener
from service.lists.loading import load_configured_pack
from service.lists.model import CompiledList, ListMeta, count_by_type
from service.lists.storage import save_compiled_list
from service.review.commands import register
from service.rulepack.spec import PartySpec
from service.settings import Settings
from service.store import open_database
from service.store.rescreens import RescreenRunRepository


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario(600)


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def save_list(data_dir: Path, entries: list[PartySpec]) -> Path:
    """``entries`` as the compiled list LIST_NAME in ``data_dir`` (as ``screening lists import`` leaves it)."""
    meta = ListMeta(name=LIST_NAME, title="Synthetic watch list", source_format="test",
                    imported_at=datetime.now(UTC), entry_count=len(entries), counts_by_type=count_by_type(entries),
                    source_digest=f"sha256:{len(entries)}")
    return save_compiled_list(CompiledList(meta=meta, entries=entries), data_dir)


@pytest.fixture
def monitored(tmp_path: Path, scenario: Scenario) -> dict[str, Any]:
    """A store whose monitored set was screened with the old list; returns the CLI's environment, the data
    folder and a copy of the old compiled list file."""
    data = tmp_path / "data"
    old_file = shutil.copy(save_list(data, scenario.old_entries), tmp_path / "old.json.gz")
    settings = Settings(data_dir=data, database_url=None, imported_lists=[LIST_NAME])
    database = open_database(settings.resolved_database_url())
    try:
        monitor(database, scenario, Screener(load_configured_pack(settings)))
    finally:
        database.dispose()
    env = {"SCREENING_DATA_DIR": str(data), "SCREENING_DATABASE_URL": "",
           "SCREENING_IMPORTED_LISTS": json.dumps([LIST_NAME]), "COLUMNS": "200"}
    return {"env": env, "data": data, "old": Path(old_file), "url": settings.resolved_database_url()}


def expected(scenario: Scenario) -> set[str]:
    return scenario.expect_alerted | scenario.expect_cleared


def test_the_first_rescreen_covers_everything_the_next_only_what_changed(cli: typer.Typer, scenario: Scenario,
                                                                         monitored: dict[str, Any]) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["rescreen"], env=monitored["env"])
    assert first.exit_code == 0, first.output
    assert "Rescreen run 1 finished" in first.output and "no earlier rescreen left a baseline" in first.output
    assert f"{len(scenario.records):,} screened" in first.output and "0 outcomes" in first.output
    save_list(monitored["data"], scenario.new_entries)  # a new version of the list is imported
    second = runner.invoke(cli, ["rescreen", "--format", "json"], env=monitored["env"])
    assert second.exit_code == 0, second.output
    report = json.loads(second.output)
    assert (report["run_id"], report["mode"], report["status"]) == (2, "changed", "finished")
    assert report["lists"] == {LIST_NAME: {"added": 6, "removed": 2, "changed": 2}}
    assert {c["record_id"] for c in report["changes"]} == expected(scenario)
    assert report["alerts_opened"] == len(scenario.expect_alerted) and report["records_rescreened"] < 20
    assert report["actor"].startswith("cli")


def test_since_list_compares_an_earlier_file_with_the_list_now(cli: typer.Typer, scenario: Scenario,
                                                              monitored: dict[str, Any]) -> None:
    save_list(monitored["data"], scenario.new_entries)
    result = CliRunner().invoke(cli, ["rescreen", "--since-list", str(monitored["old"])], env=monitored["env"])
    assert result.exit_code == 0, result.output
    assert "since-list" in result.output and f"{LIST_NAME}: 6 added, 2 removed, 2 changed" in result.output
    assert f"{len(expected(scenario))} outcomes: {len(scenario.expect_alerted)} alerts opened" in result.output
    assert "Changed outcomes" in result.output
    for record_id in expected(scenario):
        assert record_id in result.output
    database = open_database(monitored["url"])
    try:
        run = RescreenRunRepository(database).last()
        assert run is not None and run.mode == "since-list" and run.baseline is None
    finally:
        database.dispose()


def test_bad_arguments_and_a_busy_store_exit_with_an_error(cli: typer.Typer, tmp_path: Path,
                                                           monitored: dict[str, Any]) -> None:
    runner = CliRunner()
    both = runner.invoke(cli, ["rescreen", "--all", "--since-list", str(monitored["old"])], env=monitored["env"])
    assert both.exit_code == 2 and "exclude each other" in both.output
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip")
    unreadable = runner.invoke(cli, ["rescreen", "--since-list", str(broken)], env=monitored["env"])
    assert unreadable.exit_code == 1 and "damaged compiled list" in unreadable.output
    database = open_database(monitored["url"])
    try:
        pack = load_configured_pack(Settings(data_dir=monitored["data"], imported_lists=[LIST_NAME]))
        assert RescreenRunRepository(database).start(trigger="pack-reload", mode="changed", actor="key:1",
                                                     pack=pack.info) is not None
    finally:
        database.dispose()
    busy = runner.invoke(cli, ["rescreen"], env=monitored["env"])
    assert busy.exit_code == 1 and "another rescreen is running (run 1, pack-reload" in busy.output
