"""POST /v1/screen and /v1/screen/batch: results, the log entry behind each, and every kind of bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from service.model import parse_record
from service.store import ScreeningFilter
from tests.api.conftest import Api, clear_record


def test_screen_returns_the_engine_result_and_logs_it(api: Api, shipment: dict[str, Any]) -> None:
    response = api.post("/v1/screen", role="screener", json=shipment)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["record_id"] == shipment["id"]
    assert body["decision"] in ("block", "review")
    assert body["flags"]
    assert body["pack"] == api.runtime.holder.current.pack.info.model_dump()
    expected = api.runtime.holder.current.screener.screen(parse_record(shipment))
    assert [f["rule"] for f in body["flags"]] == [f.rule for f in expected.flags]

    row = api.runtime.screenings.get(body["screening_id"])
    screener_key = next(k for k in api.runtime.keys.list() if k.name == "screener")
    assert row.api_key_id == screener_key.id
    assert row.record_id == shipment["id"]
    assert row.decision == body["decision"]
    assert row.risk_score == body["risk_score"]
    assert row.pack_digest == body["pack"]["digest"]
    assert row.latency_ms > 0
    assert row.record is not None
    assert row.record["parties"][1]["name"] == shipment["parties"][1]["name"]
    assert {k: v for k, v in body.items() if k != "screening_id"} == {
        **row.result, "screened_at": body["screened_at"]}


def test_clear_records_are_kept_unless_configured_otherwise(make_api: Callable[..., Api],
                                                           shipment: dict[str, Any]) -> None:
    api = make_api(log_clear_records=False)
    clear = api.post("/v1/screen", role="screener", json=clear_record()).json()
    flagged = api.post("/v1/screen", role="screener", json=shipment).json()
    assert clear["decision"] == "clear"
    assert api.runtime.screenings.get(clear["screening_id"]).record is None
    assert api.runtime.screenings.get(clear["screening_id"]).result["decision"] == "clear"
    assert api.runtime.screenings.get(flagged["screening_id"]).record is not None


def test_clear_records_are_kept_by_default(api: Api) -> None:
    clear = api.post("/v1/screen", role="screener", json=clear_record()).json()
    assert api.runtime.screenings.get(clear["screening_id"]).record is not None


def test_invalid_record_is_422_naming_the_field(api: Api) -> None:
    record = clear_record()
    record["parties"][1]["name"] = ""
    record["goods"][0]["hs_code"] = "12"
    record["surprise"] = 1
    response = api.post("/v1/screen", role="screener", json=record)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    fields = {e["field"] for e in body["errors"]}
    assert {"parties[1].name", "goods[0].hs_code", "surprise"} <= fields
    assert api.runtime.screenings.list(ScreeningFilter()) == []


@pytest.mark.parametrize("payload", [b"{not json", b'{"id": "x",', b"\xff\xfe", b"[1, 2"])
def test_malformed_json_is_400(api: Api, payload: bytes) -> None:
    response = api.post("/v1/screen", role="screener", content=payload,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_json"


@pytest.mark.parametrize(("payload", "field"), [
    (b"", "body"),
    (b"null", "body"),
    (b"[]", "body"),
    (b'"text"', "body"),
    (b'{"id": ""}', "id"),
    (b'{"id": "x", "parties": [{"name": "A", "role": "king"}]}', "parties[0].role"),
])
def test_wrong_shapes_are_422_never_500(api: Api, payload: bytes, field: str) -> None:
    response = api.post("/v1/screen", role="screener", content=payload,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_body_over_the_limit_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=4096)
    record = clear_record()
    record["declared_end_use"] = "x" * 1990
    record["attributes"] = {f"k{i}": "y" * 1000 for i in range(5)}
    response = api.post("/v1/screen", role="screener", json=record)
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert "4096" in response.json()["detail"]


def test_streamed_body_over_the_limit_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=4096)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "x", "declared_end_use": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    response = api.post("/v1/screen", role="screener", content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_unknown_route_and_wrong_method(api: Api) -> None:
    missing = api.get("/v2/screen", role="admin")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "code": "not_found", "errors": []}
    wrong = api.get("/v1/screen", role="admin")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


def test_request_id_is_echoed_or_made(api: Api) -> None:
    given = api.get("/healthz", headers={"X-Request-ID": "order-77.retry-2"})
    assert given.headers["x-request-id"] == "order-77.retry-2"
    made = api.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
    error = api.post("/v1/screen", json=clear_record())
    assert error.status_code == 401
    assert error.headers["x-request-id"]


def test_batch_returns_results_in_order_and_logs_each(api: Api, shipment: dict[str, Any]) -> None:
    records = [clear_record("b-0"), shipment, clear_record("b-2")]
    response = api.post("/v1/screen/batch", role="screener", json={"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3
    assert [r["record_id"] for r in body["results"]] == ["b-0", shipment["id"], "b-2"]
    assert [r["decision"] for r in body["results"]] == ["clear", body["results"][1]["decision"], "clear"]
    assert body["results"][1]["decision"] != "clear"
    for result in body["results"]:
        assert api.runtime.screenings.get(result["screening_id"]).decision == result["decision"]


def test_batch_streams_ndjson_when_asked(api: Api, shipment: dict[str, Any]) -> None:
    records = [clear_record(f"n-{i}") for i in range(60)] + [shipment]
    response = api.post("/v1/screen/batch", role="screener", json={"records": records},
                        headers={"Accept": "application/x-ndjson"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["record_id"] for line in lines] == [r["id"] for r in records]
    assert len({line["screening_id"] for line in lines}) == 61
    assert len(api.runtime.screenings.list(ScreeningFilter(), limit=500)) == 61


def test_batch_over_the_limit_is_422(make_api: Callable[..., Api]) -> None:
    api = make_api(max_batch_records=3)
    response = api.post("/v1/screen/batch", role="screener",
                        json={"records": [clear_record(f"r{i}") for i in range(4)]})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "records", "message": "at most 3 records per call, got 4"}]


def test_batch_with_one_bad_record_screens_nothing(api: Api) -> None:
    records = [clear_record("ok-0"), {"id": "bad", "parties": [{"name": ""}]}, clear_record("ok-2")]
    response = api.post("/v1/screen/batch", role="screener", json={"records": records})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["records[1].parties[0].name"]
    assert api.runtime.screenings.list(ScreeningFilter()) == []


def test_empty_batch_is_422(api: Api) -> None:
    response = api.post("/v1/screen/batch", role="screener", json={"records": []})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "records"


def test_screening_on_postgresql(pg_api: Api, shipment: dict[str, Any]) -> None:
    response = pg_api.post("/v1/screen", role="screener", json=shipment)
    assert response.status_code == 200, response.text
    row = pg_api.runtime.screenings.get(response.json()["screening_id"])
    assert row.record is not None
    assert row.record["parties"][1]["name"] == shipment["parties"][1]["name"]
    batch = pg_api.post("/v1/screen/batch", role="admin", json={"records": [clear_record(f"pg-{i}")
                                                                            for i in range(30)]})
    assert batch.status_code == 200
    assert len(pg_api.runtime.screenings.list(ScreeningFilter(), limit=100)) == 31


def test_concurrent_screenings_are_all_logged(api: Api, shipment: dict[str, Any]) -> None:
    """64 requests at once: every answer is logged under its id, in shared commits."""
    headers = {"Authorization": f"Bearer {api.keys['screener']}"}

    async def burst() -> list[Any]:
        return list(await asyncio.gather(*(
            api.client.post("/v1/screen", json=shipment if i % 4 == 0 else clear_record(f"c-{i}"), headers=headers)
            for i in range(64))))

    responses = api.call(burst)
    assert [r.status_code for r in responses] == [200] * 64
    ids = {r.json()["screening_id"] for r in responses}
    assert {row.id for row in api.runtime.screenings.list(ScreeningFilter(), limit=100)} == ids
    assert "screening_log_batch_rows_count 64.0" not in api.get("/metrics").text  # fewer commits than rows
