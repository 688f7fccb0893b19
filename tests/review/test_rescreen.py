"""Continuous rescreening: the monitored set is written with the screening log, and a list diff rescreens
only the records that could match the changed entries (bench/rescreen.py builds the synthetic scenario)."""

from __future__ import annotations

import pytest

from bench.rescreen import build_scenario, monitor, scenario_packs
from service.engine import Screener
from service.lists.diff import diff_lists
from service.model import parse_record
from service.review import AlertFilter, list_alerts
from service.review.alerts import result_digest
from service.review.rescreen import changed_pack_entries, rescreen_all, rescreen_entries
from service.store import Database, ScreeningRepository, new_screening_id
from service.store.monitored import MONITOR_KEY, MonitoredRepository, MonitoredScreening


@pytest.fixture(scope="module")
def small() -> tuple[object, Screener, Screener]:
    scenario = build_scenario(2_000)
    old_pack, new_pack = scenario_packs(scenario)
    return scenario, Screener(old_pack), Screener(new_pack)


def test_the_screening_log_writes_the_monitored_set_in_the_same_transaction(database: Database,
                                                                            screener: Screener) -> None:
    record = {"id": "cp-7", "kind": "shipment",
              "parties": [{"role": "seller", "name": "Nordic Pumps AB", "country": "SE",
                           "identifiers": {"inn": "7716123459"}}],
              "vessels": [{"name": "Sea Qualm", "imo": "9387421"}]}
    for name in ("Nordic Pumps AB", "Nordic Valves AB"):  # screened twice: the second replaces the first
        record["parties"][0]["name"] = name
        result = screener.screen(parse_record(record))
        screening_id = new_screening_id()
        row = {"id": screening_id, "screened_at": result.screened_at, "source": "api", "api_key_id": None,
               "record_id": "cp-7", "decision": result.decision.value, "risk_score": result.risk_score,
               "pack_version": "v", "pack_digest": "d", "latency_ms": 1.0, "record": None,
               "result": result.model_dump(mode="json"),
               MONITOR_KEY: MonitoredScreening("cp-7", record, "api", screening_id, result.decision.value,
                                               result_digest(result), result.screened_at, "d")}
        ScreeningRepository(database).add_many([row])
    monitored = MonitoredRepository(database)
    parties = monitored.parties()
    assert [(p.kind, p.name, p.identifiers) for p in parties] == [
        ("party", "Nordic Valves AB", {"inn": "7716123459"}), ("vessel", "Sea Qualm", {"imo": "9387421"})]
    (stored,) = monitored.records(["cp-7", "unknown"]).values()
    assert stored.last_screening_id == screening_id and stored.record["parties"][0]["name"] == "Nordic Valves AB"
    assert monitored.counts() == (1, 2)


def test_a_list_diff_alerts_exactly_the_affected_records(database: Database, small: tuple) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    diff = diff_lists(scenario.old_entries, scenario.new_entries)
    report = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="test")
    assert report.entries_changed == 10
    assert set(report.changed_records) == scenario.expect_alerted | scenario.expect_cleared
    assert report.alerts_opened == len(scenario.expect_alerted) and report.now_clear == 1
    alerted = {a.record_id for a in list_alerts(database, AlertFilter(), limit=100).items}
    assert alerted == scenario.expect_alerted
    # the same diff again changes nothing: outcomes are compared, not re-alerted
    again = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="test")
    assert again.outcomes_changed == 0 and again.alerts_opened == 0


def test_the_sub_linear_rescreen_agrees_with_rescreening_everything(database: Database, small: tuple,
                                                                    tmp_path: object) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    full = rescreen_all(database, new, trigger="test")
    assert full.records_rescreened == len(scenario.records)
    assert set(full.changed_records) == scenario.expect_alerted | scenario.expect_cleared


def test_a_pack_change_is_diffed_over_every_party_list(small: tuple) -> None:
    scenario, old, new = small
    ids = {entry.id for entry in changed_pack_entries(old.pack, new.pack)}
    assert ids == {e.id for e in scenario.new_entries + scenario.old_entries if not e.id.startswith("syn-stable")}


@pytest.mark.slow
def test_100k_monitored_parties_and_a_diff_of_10_entries(tmp_path: object) -> None:
    from pathlib import Path

    from service.store import open_database

    scenario = build_scenario(100_000)
    assert scenario.parties >= 100_000
    old_pack, new_pack = scenario_packs(scenario)
    database = open_database(f"sqlite:///{Path(str(tmp_path)) / 'store.sqlite3'}")
    try:
        monitor(database, scenario, Screener(old_pack))
        diff = diff_lists(scenario.old_entries, scenario.new_entries)
        report = rescreen_entries(database, Screener(new_pack), diff.entries_to_rescreen(), trigger="test")
        assert report.monitored_parties == scenario.parties
        assert report.candidate_checks < 1_000  # far fewer than 100,000
        assert report.records_rescreened < 100
        assert set(report.changed_records) == scenario.expect_alerted | scenario.expect_cleared
        alerted = {a.record_id for a in list_alerts(database, AlertFilter(), limit=100).items}
        assert alerted == scenario.expect_alerted
    finally:
        database.dispose()
