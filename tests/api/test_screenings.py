"""GET /v1/screenings and /v1/screenings/{id}: screeners see their own, readers see all; filters and pages."""

from __future__ import annotations

from typing import Any

from service.store import Role
from tests.api.conftest import Api, clear_record


def _screen(api: Api, label: str, record: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/screen", role=label, json=record)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_detail_holds_record_result_and_provenance(api: Api, shipment: dict[str, Any]) -> None:
    made = _screen(api, "screener", shipment)
    detail = api.get(f"/v1/screenings/{made['screening_id']}", role="screener")
    assert detail.status_code == 200
    body = detail.json()
    assert body["id"] == made["screening_id"]
    assert body["record"]["id"] == shipment["id"]
    assert body["result"]["flags"] == made["flags"]
    assert body["pack_digest"] == made["pack"]["digest"]
    assert body["source"] == "api"
    assert body["screened_at"].replace("Z", "+00:00")[:19] == made["screened_at"].replace("Z", "+00:00")[:19]


def test_screeners_see_only_their_own_screenings(api: Api) -> None:
    other = api.add_key("other screener", Role.screener)
    mine = _screen(api, "screener", clear_record("mine"))
    theirs = _screen(api, "other screener", clear_record("theirs"))
    assert api.get(f"/v1/screenings/{theirs['screening_id']}", role="screener").status_code == 404
    listed = api.get("/v1/screenings", role="screener").json()
    assert [item["id"] for item in listed["items"]] == [mine["screening_id"]]
    assert other  # the other key sees its own only, too
    assert [i["record_id"] for i in api.get("/v1/screenings", role="other screener").json()["items"]] == ["theirs"]
    for reader in ("reviewer", "approver", "admin"):
        assert api.get(f"/v1/screenings/{theirs['screening_id']}", role=reader).status_code == 200
        assert len(api.get("/v1/screenings", role=reader).json()["items"]) == 2


def test_filters_and_cursor_pages(api: Api, shipment: dict[str, Any]) -> None:
    made = [_screen(api, "screener", clear_record(f"r-{i % 2}")) for i in range(6)]
    flagged = _screen(api, "screener", shipment)
    by_record = api.get("/v1/screenings", role="reviewer", params={"record_id": "r-1"}).json()
    assert [i["id"] for i in by_record["items"]] == [m["screening_id"] for m in reversed(made[1::2])]
    by_decision = api.get("/v1/screenings", role="reviewer", params={"decision": flagged["decision"]}).json()
    assert [i["id"] for i in by_decision["items"]] == [flagged["screening_id"]]
    future = api.get("/v1/screenings", role="reviewer", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["items"] == []
    past = api.get("/v1/screenings", role="reviewer", params={"until": "2000-01-01T00:00:00+00:00"}).json()
    assert past["items"] == []

    ids: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = api.get("/v1/screenings", role="reviewer", params=params).json()
        ids += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert ids == [flagged["screening_id"], *(m["screening_id"] for m in reversed(made))]


def test_bad_filters_are_422_naming_the_parameter(api: Api) -> None:
    for params, field in [({"decision": "maybe"}, "query.decision"), ({"since": "yesterday"}, "query.since"),
                          ({"since": "2026-06-01T00:00:00"}, "query.since"), ({"limit": 0}, "query.limit"),
                          ({"limit": 501}, "query.limit")]:
        response = api.get("/v1/screenings", role="admin", params=params)
        assert response.status_code == 422, params
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_unknown_screening_is_404(api: Api) -> None:
    response = api.get("/v1/screenings/0196f1a2-7b3c-7d4e-8f5a-6b7c8d9e0f1a", role="admin")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_log_on_postgresql(pg_api: Api) -> None:
    made = _screen(pg_api, "screener", clear_record("pg-log"))
    assert pg_api.get(f"/v1/screenings/{made['screening_id']}", role="screener").json()["record_id"] == "pg-log"
    assert [i["record_id"] for i in pg_api.get("/v1/screenings", role="admin",
                                               params={"record_id": "pg-log"}).json()["items"]] == ["pg-log"]
