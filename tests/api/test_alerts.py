"""/v1/alerts and /v1/audit: screenings open alerts, reviewers act through JSON, four eyes holds over the
API, allow-listed matches come back suppressed, and the role matrix of the new endpoints."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.conftest import Api

LISTED = {"id": "cp-1", "kind": "counterparty",
          "parties": [{"role": "counterparty", "name": "Vertikal Alabuga", "country": "RU"}]}


def _open(api: Api, record: dict[str, Any] = LISTED) -> dict[str, Any]:
    screened = api.post("/v1/screen", json=record, role="screener")
    assert screened.status_code == 200, screened.text
    page = api.get("/v1/alerts", role="reviewer").json()
    (alert,) = [a for a in page["items"] if a["record_id"] == record["id"]]
    detail: dict[str, Any] = api.get(f"/v1/alerts/{alert['id']}", role="reviewer").json()
    return detail


def test_screening_opens_one_alert(api: Api) -> None:
    detail = _open(api)
    assert detail["alert"]["state"] == "open" and detail["alert"]["decision"] == "block"
    assert [m["entry"] for m in detail["matches"]] == ["ru-vertikal-alabuga"]
    assert api.post("/v1/screen", json=LISTED, role="screener").status_code == 200
    assert len(api.get("/v1/alerts", role="reviewer").json()["items"]) == 1
    assert api.get("/v1/alerts/counts", role="reviewer").json()["open"] == 1


@pytest.mark.parametrize(("role", "status"), [("screener", 403), ("reviewer", 200), ("approver", 200),
                                              ("admin", 200), ("revoked", 401)])
def test_alert_queue_role_matrix(api: Api, role: str, status: int) -> None:
    assert api.get("/v1/alerts", role=role).status_code == status


@pytest.mark.parametrize(("role", "status"), [("screener", 403), ("reviewer", 403), ("approver", 200),
                                              ("admin", 200)])
def test_audit_role_matrix(api: Api, role: str, status: int) -> None:
    assert api.get("/v1/audit", role=role).status_code == status


def test_screener_cannot_act_on_alerts(api: Api) -> None:
    alert_id = _open(api)["alert"]["id"]
    response = api.post(f"/v1/alerts/{alert_id}/start", role="screener")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def _decide_and_propose(api: Api, role: str = "reviewer") -> int:
    detail = _open(api)
    alert_id, match_id = detail["alert"]["id"], detail["matches"][0]["id"]
    assert api.post(f"/v1/alerts/{alert_id}/start", role=role).json()["state"] == "in_review"
    missing = api.post(f"/v1/alerts/{alert_id}/matches/{match_id}", role=role,
                       json={"decision": "false_positive", "comment": ""})
    assert missing.status_code == 422
    decided = api.post(f"/v1/alerts/{alert_id}/matches/{match_id}", role=role,
                       json={"decision": "false_positive", "comment": "other company", "allow_list": True})
    assert decided.status_code == 200, decided.text
    proposed = api.post(f"/v1/alerts/{alert_id}/close", role=role, json={"outcome": "cleared", "comment": "not them"})
    assert proposed.json()["proposed_outcome"] == "cleared" and proposed.json()["state"] == "in_review"
    return int(alert_id)


def test_four_eyes_over_the_api(api: Api) -> None:
    alert_id = _decide_and_propose(api)
    assert api.post(f"/v1/alerts/{alert_id}/approve", role="reviewer", json={"comment": "ok"}).status_code == 403
    approved = api.post(f"/v1/alerts/{alert_id}/approve", role="approver", json={"comment": "agreed"})
    assert approved.status_code == 200 and approved.json()["outcome"] == "cleared"
    history = [e["action"] for e in api.get(f"/v1/alerts/{alert_id}", role="reviewer").json()["history"]]
    assert history == ["opened", "start", "decide", "propose_clearance", "approve_clearance"]


def test_the_proposer_cannot_approve(api: Api) -> None:
    alert_id = _decide_and_propose(api, role="approver")
    response = api.post(f"/v1/alerts/{alert_id}/approve", role="approver", json={"comment": "mine"})
    assert response.status_code == 403 and "four eyes" in response.json()["detail"]


def test_wrong_state_is_a_conflict(api: Api) -> None:
    alert_id = _open(api)["alert"]["id"]
    response = api.post(f"/v1/alerts/{alert_id}/close", role="reviewer",
                        json={"outcome": "confirmed_hit", "comment": "x"})
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert api.get("/v1/alerts/999999", role="reviewer").status_code == 404


def test_allow_listed_match_comes_back_suppressed(api: Api) -> None:
    _decide_and_propose(api)
    again = api.post("/v1/screen", json={**LISTED, "id": "cp-2"}, role="screener").json()
    assert again["decision"] == "clear"
    assert again["flags"][0]["suppressed"] is True
    assert again["flags"][0]["evidence"][0]["suppressed_by"]
    moved = api.post("/v1/screen", json={**LISTED, "id": "cp-3", "parties": [
        {"role": "counterparty", "name": "Vertikal Alabuga", "country": "KZ"}]}, role="screener").json()
    assert moved["decision"] != "clear"


def test_bulk_assign_and_escalate(api: Api) -> None:
    first = _open(api)["alert"]["id"]
    second = _open(api, {**LISTED, "id": "cp-9"})["alert"]["id"]
    response = api.post("/v1/alerts/bulk", role="reviewer",
                        json={"alert_ids": [first, second, 999999], "action": "escalate", "comment": "legal"})
    assert [r["ok"] for r in response.json()["results"]] == [True, True, False]
    assert api.get("/v1/alerts?state=escalated", role="reviewer").json()["items"][0]["state"] == "escalated"


def test_audit_export_as_csv_and_json(api: Api) -> None:
    alert_id = _decide_and_propose(api)
    as_json = api.get("/v1/audit", role="admin").json()
    actions = [e["action"] for e in as_json]
    assert {"alert.open", "alert.start", "alert.decide", "allow_list.add", "alert.propose_clearance"} <= set(actions)
    as_csv = api.get("/v1/audit?format=csv", role="admin")
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert str(alert_id) in {r["object_id"] for r in rows}
    assert api.get("/v1/audit?since=2999-01-01T00:00:00Z", role="admin").json() == []


def test_alerts_on_postgresql(pg_api: Api) -> None:
    alert_id = _decide_and_propose(pg_api)
    assert pg_api.post(f"/v1/alerts/{alert_id}/approve", role="approver",
                       json={"comment": "agreed"}).json()["state"] == "closed"
