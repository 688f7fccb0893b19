"""GET /v1/rescreen/last, /v1/rescreen and /v1/rescreen/{id} with every role, and the rescreen a pack reload
starts in the background (bench/rescreen.py's scenario: a list version differing by 10 entries)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.rescreen import LIST_NAME, Scenario, build_scenario, monitor
from service.api.packs import LoadedPack
from service.errors import StoreError
from service.lists.model import CompiledList, ListMeta, count_by_type
from service.lists.storage import save_compiled_list
from service.review import AlertFilter, list_alerts
from service.review.rescreen import plan_all, run_rescreen
from service.rulepack.spec import PartySpec
from service.store import Role
from service.store.monitored import MonitoredRepository
from tests.api.conftest import Api, clear_record, start_api
from tests.store.databases import empty_tables

ENDPOINTS = ["/v1/rescreen/last", "/v1/rescreen", "/v1/rescreen/{run_id}"]
READERS = {Role.reviewer, Role.approver, Role.admin}


@pytest.fixture(scope="module")
def matrix_api(tmp_path_factory: pytest.TempPathFactory, loaded_pack: LoadedPack) -> Iterator[Api]:
    with ExitStack() as stack:
        api = start_api(stack, tmp_path_factory.mktemp("rescreen-matrix"), loaded_pack)
        report = run_rescreen(api.runtime.database, loaded_pack.screener, plan_all(), trigger="cli", actor="cli:ops")
        api.app.state.run_id = report.run_id
        yield api


def _url(api: Api, path: str) -> str:
    return path.format(run_id=api.app.state.run_id)


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("path", ENDPOINTS)
def test_role_matrix(matrix_api: Api, path: str, role: Role) -> None:
    response = matrix_api.get(_url(matrix_api, path), role=role.value)
    if role in READERS:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden" and role.value in response.json()["detail"]


@pytest.mark.parametrize("credentials", ["none", "revoked", "unknown"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_needs_a_valid_key(matrix_api: Api, path: str, credentials: str) -> None:
    headers = {"none": {}, "revoked": {"Authorization": f"Bearer {matrix_api.keys['revoked']}"},
               "unknown": {"Authorization": "Bearer scr_0badc0de_" + "x" * 43}}[credentials]
    response = matrix_api.get(_url(matrix_api, path), headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"


def test_a_run_reads_back_as_recorded(matrix_api: Api) -> None:
    run_id = matrix_api.app.state.run_id
    last = matrix_api.get("/v1/rescreen/last", role="reviewer").json()
    assert (last["id"], last["trigger"], last["mode"], last["status"], last["actor"]) == (
        run_id, "cli", "all", "finished", "cli:ops")
    assert last["pack"] == matrix_api.runtime.holder.current.pack.info.model_dump()
    assert last["changes"] == [] and last["changes_total"] == 0 and last["finished_at"] is not None
    assert matrix_api.get(f"/v1/rescreen/{run_id}", role="admin").json() == last
    page = matrix_api.get("/v1/rescreen", role="approver", params={"limit": 5}).json()
    assert [item["id"] for item in page["items"]] == [run_id] and page["next_cursor"] is None
    assert "changes" not in page["items"][0]
    missing = matrix_api.get(f"/v1/rescreen/{run_id + 1000}", role="admin")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert matrix_api.get("/v1/rescreen", role="admin", params={"limit": 0}).status_code == 422


def test_last_is_404_before_any_rescreen(api: Api) -> None:
    response = api.get("/v1/rescreen/last", role="reviewer")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.get("/v1/rescreen", role="reviewer").json() == {"items": [], "next_cursor": None}


def test_the_openapi_page_documents_the_reports(api: Api) -> None:
    document = api.get("/openapi.json").json()
    assert {"/v1/rescreen/last", "/v1/rescreen", "/v1/rescreen/{run_id}"} <= set(document["paths"])
    last = document["paths"]["/v1/rescreen/last"]["get"]
    assert {"200", "401", "403", "404"} <= set(last["responses"])
    (example,) = document["components"]["schemas"]["RescreenRunResponse"]["examples"]
    assert example["alerts_opened"] == 6 and example["changes"][0]["alert"] == "opened"


# --- the rescreen after a reload -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario(600)


def save_list(data_dir: Path, entries: list[PartySpec]) -> None:
    meta = ListMeta(name=LIST_NAME, title="Synthetic watch list", source_format="test",
                    imported_at=datetime.now(UTC), entry_count=len(entries), counts_by_type=count_by_type(entries),
                    source_digest=f"sha256:{len(entries)}")
    save_compiled_list(CompiledList(meta=meta, entries=entries), data_dir)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def list_api(request: pytest.FixtureRequest, make_api: Callable[..., Api], tmp_path: Path,
             scenario: Scenario) -> Api:
    """An app screening with the bundled pack and the synthetic list's old version, its monitored set filled."""
    save_list(tmp_path / "data", scenario.old_entries)
    store: dict[str, Any] = {}
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_schema_url")
        empty_tables(url)
        store["database_url"] = url
    api = make_api(pack=None, imported_lists=[LIST_NAME], **store)
    monitor(api.runtime.database, scenario, api.runtime.holder.current.screener)
    return api


def test_a_reload_rescreens_what_changed_in_the_background(list_api: Api, scenario: Scenario,
                                                           tmp_path: Path) -> None:
    save_list(tmp_path / "data", scenario.new_entries)  # a new version of the list is imported
    reloaded = list_api.post("/v1/pack/reload", role="admin")
    assert reloaded.status_code == 200, reloaded.text
    # the rules did not change, the list did: that is another pack answering (its digest covers the lists)
    assert reloaded.json()["changed"] is True
    assert reloaded.json()["current"]["digest"] != reloaded.json()["previous"]["digest"]
    assert list_api.runtime.rescreens.wait_idle(120)
    report = list_api.get("/v1/rescreen/last", role="reviewer").json()
    assert (report["trigger"], report["status"], report["mode"]) == ("pack-reload", "finished", "changed")
    assert report["actor"].startswith("key:")
    assert report["lists"] == {LIST_NAME: {"added": 6, "removed": 2, "changed": 2}}
    assert {c["record_id"] for c in report["changes"]} == scenario.expect_alerted | scenario.expect_cleared
    assert report["alerts_opened"] == len(scenario.expect_alerted) and report["records_rescreened"] < 20
    assert report["monitored_records"] == len(scenario.records)
    alerted = {a.record_id for a in list_alerts(list_api.runtime.database, AlertFilter(), limit=100).items}
    assert alerted == scenario.expect_alerted
    # A reload that changes nothing rescreens nothing.
    unchanged = list_api.post("/v1/pack/reload", role="admin")
    assert unchanged.status_code == 200 and unchanged.json()["changed"] is False
    assert list_api.runtime.rescreens.wait_idle(120)
    quiet = list_api.get("/v1/rescreen/last", role="reviewer").json()
    assert quiet["id"] == report["id"] + 1 and quiet["entries_changed"] == 0 and quiet["records_rescreened"] == 0


def test_a_failed_background_rescreen_is_recorded_and_the_server_keeps_serving(
        list_api: Api, scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def store_gone(self: MonitoredRepository) -> tuple[int, int]:
        raise StoreError("store failed while reading the monitored set: OperationalError: gone")

    monkeypatch.setattr(MonitoredRepository, "counts", store_gone)
    save_list(tmp_path / "data", scenario.new_entries)
    assert list_api.post("/v1/pack/reload", role="admin").status_code == 200
    assert list_api.runtime.rescreens.wait_idle(120)
    report = list_api.get("/v1/rescreen/last", role="admin").json()
    assert report["status"] == "failed" and "OperationalError: gone" in report["error"]
    assert list_api.get("/healthz").status_code == 200
    assert list_api.post("/v1/screen", role="screener", json=clear_record("after-failure")).status_code == 200


def test_other_workers_follow_a_reload_that_only_changes_a_list(make_api: Callable[..., Api], tmp_path: Path,
                                                                 scenario: Scenario) -> None:
    """Two apps on one store and data folder stand for two workers: after a list is re-imported, a reload
    through one makes the other screen with the new list too, though no file of the pack changed."""
    save_list(tmp_path / "data", scenario.old_entries)
    first = make_api(pack=None, imported_lists=[LIST_NAME])
    second = make_api(pack=None, imported_lists=[LIST_NAME], with_keys=False)
    second.keys = first.keys
    before = second.runtime.holder.current.pack.info.digest
    save_list(tmp_path / "data", scenario.new_entries)
    reloaded = first.post("/v1/pack/reload", role="admin").json()
    assert reloaded["changed"] is True
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and second.runtime.holder.current.pack.info.digest == before:
        time.sleep(0.1)
    assert second.get("/v1/pack", role="admin").json()["digest"] == reloaded["current"]["digest"]
    assert first.runtime.rescreens.wait_idle(120)
