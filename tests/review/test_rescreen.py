"""Continuous rescreening: the monitored set is written with the screening log; a list diff rescreens only the
records that could match the changed entries; every run is recorded; the baseline decides what a rescreen
compares (bench/rescreen.py builds the synthetic scenario)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from sqlalchemy import delete

from bench.rescreen import LIST_NAME, Scenario, build_scenario, monitor, scenario_packs
from service.engine import Screener
from service.engine import screener as screener_module
from service.errors import StoreError
from service.lists.diff import diff_lists
from service.model import parse_record
from service.review import AlertFilter, list_alerts, list_audit
from service.review import rescreen as rescreen_module
from service.review.alerts import result_digest
from service.review.rescreen import (
    VESSEL_QUERY_ROLES,
    BackgroundRescreens,
    PackState,
    changed_pack_entries,
    plan_all,
    plan_changes,
    rescreen_all,
    rescreen_entries,
    rules_digest,
    run_rescreen,
)
from service.store import Database, ScreeningRepository, new_screening_id
from service.store.monitored import MONITOR_KEY, MonitoredRepository, MonitoredScreening
from service.store.rescreens import RescreenRunRepository, RunStatus
from service.store.tables import ListSnapshotRow

Small = tuple[Scenario, Screener, Screener]


@pytest.fixture(scope="module")
def small() -> Small:
    scenario = build_scenario(2_000)
    old_pack, new_pack = scenario_packs(scenario)
    return scenario, Screener(old_pack), Screener(new_pack)


def expected(scenario: Scenario) -> set[str]:
    return scenario.expect_alerted | scenario.expect_cleared


def alerted(database: Database) -> set[str]:
    return {a.record_id for a in list_alerts(database, AlertFilter(), limit=100).items}


def test_the_screening_log_writes_the_monitored_set_in_the_same_transaction(database: Database,
                                                                            screener: Screener) -> None:
    record: dict[str, Any] = {"id": "cp-7", "kind": "shipment",
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
    assert [(p.kind, p.role, p.name, p.identifiers) for p in parties] == [
        ("party", "seller", "Nordic Valves AB", {"inn": "7716123459"}),
        ("vessel", "vessel", "Sea Qualm", {"imo": "9387421"})]
    (stored,) = monitored.records(["cp-7", "unknown"]).values()
    assert stored.last_screening_id == screening_id and stored.record["parties"][0]["name"] == "Nordic Valves AB"
    assert monitored.counts() == (1, 2)


def test_a_list_diff_alerts_exactly_the_affected_records(database: Database, small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    diff = diff_lists(scenario.old_entries, scenario.new_entries)
    report = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="test")
    assert report.status == "finished" and report.entries_changed == 10
    assert set(report.changed_records) == expected(scenario)
    assert report.records_rescreened == report.candidate_records < 20  # of 1,000 records
    assert report.alerts_opened == len(scenario.expect_alerted) and report.now_clear == 1
    assert {c.after for c in report.changes if c.record_id in scenario.expect_cleared} == {"clear"}
    assert alerted(database) == scenario.expect_alerted
    # the same diff again changes nothing: outcomes are compared, not re-alerted
    again = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="test")
    assert again.outcomes_changed == 0 and again.alerts_opened == 0


def test_every_run_is_recorded_and_audited(database: Database, small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    diff = diff_lists(scenario.old_entries, scenario.new_entries)
    report = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="pack-reload", actor="key:3")
    run = RescreenRunRepository(database).last()
    assert run is not None and run.id == report.run_id
    assert (run.status, run.trigger, run.mode, run.actor) == (RunStatus.finished, "pack-reload", "entries", "key:3")
    assert run.counts == report.counts() and run.pack == new.pack.info and run.finished_at is not None
    assert {c["record_id"] for c in run.detail["changes"]} == expected(scenario)
    assert run.detail["changes_total"] == len(expected(scenario))
    assert run.baseline is None  # a list of entries given by hand says nothing about the rest
    (entry,) = list_audit(database, object_type="rescreen")
    assert (entry.action, entry.actor, entry.object_id) == ("rescreen.run", "key:3", str(run.id))
    assert entry.after is not None and entry.after["alerts_opened"] == report.alerts_opened


def test_the_sub_linear_rescreen_agrees_with_rescreening_everything(database: Database, small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    full = rescreen_all(database, new, trigger="test")
    assert full.mode == "all" and full.records_rescreened == len(scenario.records)
    assert set(full.changed_records) == expected(scenario)


def test_the_first_rescreen_covers_everything_then_only_what_changed(database: Database, small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    first = run_rescreen(database, old, plan_changes(full_when_unknown=True), trigger="cli")
    assert first.mode == "all" and "no earlier rescreen" in first.reason
    assert first.records_rescreened == len(scenario.records) and first.outcomes_changed == 0
    runs = RescreenRunRepository(database)
    assert runs.latest_baseline() == PackState.of(old.pack).as_baseline()
    # The list file changes (no previous version given): the baseline's snapshot says what it held.
    second = run_rescreen(database, new, plan_changes(full_when_unknown=True), trigger="cli")
    assert (second.mode, second.reason) == ("changed", "changes since the last baseline")
    assert second.lists == {LIST_NAME: {"added": 6, "removed": 2, "changed": 2}}
    assert set(second.changed_records) == expected(scenario) and second.records_rescreened < 20
    assert alerted(database) == scenario.expect_alerted
    assert runs.latest_baseline() == PackState.of(new.pack).as_baseline()
    third = run_rescreen(database, new, plan_changes(full_when_unknown=True), trigger="cli")
    assert (third.entries_changed, third.records_rescreened, third.lists) == (0, 0, {})


def _with_fewer_rules(screener: Screener) -> Screener:
    return Screener(dataclasses.replace(screener.pack, rules=screener.pack.rules[:-1]))


def test_changed_rules_mean_everything_from_the_command_line_and_a_note_otherwise(database: Database,
                                                                                  small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    run_rescreen(database, old, plan_all(), trigger="cli")
    changed_rules = _with_fewer_rules(new)
    assert rules_digest(changed_rules.pack) != rules_digest(new.pack)
    assert PackState.of(changed_rules.pack).lists == PackState.of(new.pack).lists
    automatic = run_rescreen(database, changed_rules, plan_changes(None, full_when_unknown=False),
                             trigger="pack-reload")
    assert automatic.mode == "changed" and set(automatic.changed_records) == expected(scenario)
    assert any("rules" in note and "screening rescreen" in note for note in automatic.notes)
    runs = RescreenRunRepository(database)
    baseline = runs.latest_baseline()
    assert baseline is not None and baseline["rules"] == rules_digest(old.pack)  # the rules are still owed
    assert baseline["lists"] == PackState.of(new.pack).lists
    command = run_rescreen(database, changed_rules, plan_changes(full_when_unknown=True), trigger="cli")
    assert command.mode == "all" and "rules" in command.reason
    assert runs.latest_baseline() == PackState.of(changed_rules.pack).as_baseline()


def test_without_a_baseline_an_automatic_rescreen_diffs_the_previous_lists(database: Database,
                                                                          small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    report = run_rescreen(database, new, plan_changes({LIST_NAME: scenario.old_entries}, full_when_unknown=False),
                          trigger="list-import")
    assert report.mode == "changed" and "no baseline" in report.reason and report.notes
    assert report.lists == {LIST_NAME: {"added": 6, "removed": 2, "changed": 2}}
    assert set(report.changed_records) == expected(scenario)
    assert RescreenRunRepository(database).latest_baseline() is None


def _forget_snapshots(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(delete(ListSnapshotRow.__table__))


def test_the_version_a_change_replaced_stands_in_for_the_baselines_snapshot(database: Database,
                                                                            small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    run_rescreen(database, old, plan_all(), trigger="cli")
    _forget_snapshots(database)
    report = run_rescreen(database, new, plan_changes(dict(old.pack.party_lists), full_when_unknown=False),
                          trigger="pack-reload")
    assert set(report.changed_records) == expected(scenario) and not report.notes
    assert RescreenRunRepository(database).latest_baseline() == PackState.of(new.pack).as_baseline()


def test_a_missing_snapshot_falls_back_safely(database: Database, small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    run_rescreen(database, old, plan_all(), trigger="cli")
    _forget_snapshots(database)
    # The change replaced another version than the baseline's, whose snapshot is gone: diff what is known.
    replaced = {LIST_NAME: scenario.old_entries[:-1]}
    automatic = run_rescreen(database, new, plan_changes(replaced, full_when_unknown=False), trigger="pack-reload")
    assert set(automatic.changed_records) == expected(scenario)
    assert any("no longer kept" in note for note in automatic.notes)
    runs = RescreenRunRepository(database)
    assert runs.latest_baseline() == PackState.of(old.pack).as_baseline()  # not advanced: it was a guess
    command = run_rescreen(database, new, plan_changes(full_when_unknown=True), trigger="cli")
    assert command.mode == "all" and "no longer kept" in command.reason
    assert runs.latest_baseline() == PackState.of(new.pack).as_baseline()


def test_one_rescreen_at_a_time(database: Database, small: Small) -> None:
    _, _, new = small
    runs = RescreenRunRepository(database)
    other = runs.start(trigger="pack-reload", mode="changed", actor="key:1", pack=new.pack.info)
    assert other is not None
    with pytest.raises(StoreError, match=f"another rescreen is running \\(run {other.id}, pack-reload"):
        run_rescreen(database, new, plan_all(), trigger="cli", wait=0.0)


def test_a_failed_run_is_recorded_and_raised(database: Database, small: Small) -> None:
    _, _, new = small

    def broken(context: object) -> Any:
        raise ValueError("planner broke")

    with pytest.raises(ValueError, match="planner broke"):
        run_rescreen(database, new, broken, trigger="cli")
    run = RescreenRunRepository(database).last()
    assert run is not None and run.status is RunStatus.failed and run.error == "ValueError: planner broke"
    assert run.baseline is None and run.finished_at is not None


def test_a_cancelled_run_stops_between_steps(database: Database, small: Small) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    cancel = threading.Event()
    cancel.set()
    report = run_rescreen(database, new, plan_all(), trigger="pack-reload", cancel=cancel)
    assert report.status == "cancelled" and report.records_rescreened == 0
    assert RescreenRunRepository(database).latest_baseline() is None


def test_a_record_screened_again_meanwhile_keeps_its_newer_screening(database: Database, small: Small,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    target = sorted(scenario.expect_alerted)[0]
    original = rescreen_module.suppress_allow_listed

    def screened_again_meanwhile(database_: Database, pack: Any, screened: Any) -> Any:
        # A request screens the record (with the old pack) between the rescreen's read and its write.
        data = next(r for r in scenario.records if r["id"] == target)
        result = old.screen(parse_record(data))
        screening_id = new_screening_id()
        ScreeningRepository(database).add_many([{
            "id": screening_id, "screened_at": result.screened_at, "source": "api", "api_key_id": None,
            "record_id": target, "decision": result.decision.value, "risk_score": result.risk_score,
            "pack_version": "v", "pack_digest": "d", "latency_ms": 1.0, "record": data,
            "result": result.model_dump(mode="json"),
            MONITOR_KEY: MonitoredScreening(target, data, "api", screening_id, result.decision.value,
                                            result_digest(result), result.screened_at, "d")}])
        return original(database_, pack, screened)

    monkeypatch.setattr(rescreen_module, "suppress_allow_listed", screened_again_meanwhile)
    diff = diff_lists(scenario.old_entries, scenario.new_entries)
    report = rescreen_entries(database, new, diff.entries_to_rescreen(), trigger="test")
    assert report.skipped_newer == 1 and target not in report.changed_records
    assert set(report.changed_records) == expected(scenario) - {target}
    assert alerted(database) == scenario.expect_alerted - {target}


def test_a_pack_change_is_diffed_over_every_party_list(small: Small) -> None:
    scenario, old, new = small
    ids = {entry.id for entry in changed_pack_entries(old.pack, new.pack)}
    assert ids == {e.id for e in scenario.new_entries + scenario.old_entries if not e.id.startswith("syn-stable")}


def test_list_digests_follow_the_entries_and_the_rules_digest_ignores_them(small: Small) -> None:
    _, old, new = small
    before, after = PackState.of(old.pack), PackState.of(new.pack)
    assert before.rules == after.rules
    assert before.lists["curated"] == after.lists["curated"] and before.lists[LIST_NAME] != after.lists[LIST_NAME]


def test_vessel_query_roles_are_the_screeners() -> None:
    assert {role.value for role in screener_module._VESSEL_ROLES} == VESSEL_QUERY_ROLES


def test_background_rescreens_run_and_never_raise(database: Database, small: Small,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, old, new = small
    monitor(database, scenario, old)
    background = BackgroundRescreens()
    background.submit(database, new, dict(old.pack.party_lists), trigger="pack-reload", actor="key:1")
    assert background.wait_idle(120)
    assert background.last_report is not None and set(background.last_report.changed_records) == expected(scenario)
    # A failure is logged and recorded, and the next submission still runs.
    monkeypatch.setattr(MonitoredRepository, "counts", lambda self: (_ for _ in ()).throw(StoreError("store gone")))
    background.submit(database, new, dict(old.pack.party_lists), trigger="pack-reload", actor="key:1")
    assert background.wait_idle(120)
    assert background.last_error == "StoreError: store gone"
    failed = RescreenRunRepository(database).last()
    assert failed is not None and failed.status is RunStatus.failed and "store gone" in (failed.error or "")
    background.close()
    background.submit(database, new, None, trigger="pack-reload", actor="key:1")  # closed: ignored
    assert background.wait_idle(1)


def test_background_requests_arriving_meanwhile_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[tuple[object, object]] = []

    def fake_run(database: object, screener: object, planner: object, **options: object) -> None:
        calls.append((screener, options["trigger"]))
        started.set()
        release.wait(10)

    monkeypatch.setattr(rescreen_module, "run_rescreen", fake_run)
    merged: list[object] = []
    monkeypatch.setattr(rescreen_module, "plan_changes", lambda previous, **_: merged.append(previous))
    background = BackgroundRescreens()
    database: Any = object()
    background.submit(database, "pack-1", {"a": []}, trigger="t1", actor="x")
    assert started.wait(10)
    background.submit(database, "pack-2", {"b": []}, trigger="t2", actor="x")
    background.submit(database, "pack-3", {"c": []}, trigger="t3", actor="x")
    release.set()
    assert background.wait_idle(10)
    # The first ran; the two that came meanwhile became one run with the latest pack and the earliest lists.
    assert calls == [("pack-1", "t1"), ("pack-3", "t3")] and merged == [{"a": []}, {"b": []}]


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
        assert report.candidate_checks < 1_000  # name pairs scored in full: far fewer than 100,000
        assert report.records_rescreened < 100
        assert set(report.changed_records) == expected(scenario)
        assert alerted(database) == scenario.expect_alerted
    finally:
        database.dispose()


@pytest.mark.parametrize("seed", [5, 23])
def test_a_large_diff_changes_exactly_what_rescreening_everything_changes(seed: int, tmp_path: Any) -> None:
    """The scan keeps only the best few changed names per monitored name (as the screener does over the whole
    list): with 600 entries added that share words with the monitored companies, many records really change,
    and the targeted rescreen must change exactly the records a rescreen of everything changes."""
    from service.store import open_database

    scenario = build_scenario(4000, seed=seed, added=600)
    old_pack, new_pack = scenario_packs(scenario)
    old, new = Screener(old_pack), Screener(new_pack)
    targeted, everything = (open_database(f"sqlite:///{tmp_path / name}.sqlite3") for name in ("a", "b"))
    try:
        for database in (targeted, everything):
            monitor(database, scenario, old)
        diff = diff_lists(scenario.old_entries, scenario.new_entries)
        found = rescreen_entries(targeted, new, diff.entries_to_rescreen(), trigger="test")
        full = rescreen_all(everything, new, trigger="test")
        assert len(full.changed_records) > 100  # the diff matters
        assert found.candidate_records < full.records_rescreened  # and the scan narrowed it
        assert set(found.changed_records) == set(full.changed_records)
    finally:
        targeted.dispose()
        everything.dispose()
