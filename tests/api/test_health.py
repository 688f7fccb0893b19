"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import re
from typing import Any

from tests.api.conftest import Api, clear_record


def test_healthz(api: Api) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_pack_store_and_writer(api: Api) -> None:
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"pack": "ok", "store": "ok", "log_writer": "ok"},
                            "warnings": []}


def test_readyz_is_503_when_the_store_is_gone(pg_api: Api) -> None:
    # Point the app at a server that does not answer (a closed port): a real connection failure.
    from service.store import Database

    working = pg_api.runtime.database
    pg_api.runtime.database = Database("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    try:
        response = pg_api.get("/readyz")
    finally:
        # Put the working store back, so that stopping the app closes its connections (the background tasks
        # still hold it): disposing it here would let a connection they check out later outlive the test.
        pg_api.runtime.database.dispose()
        pg_api.runtime.database = working
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["store"].startswith("store failed")
    assert body["checks"]["pack"] == "ok"


def test_readyz_is_503_when_the_log_writer_stopped(api: Api) -> None:
    api.call(api.runtime.writer.close)
    response = api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["log_writer"] == "stopped"
    # With no log writer the service refuses to screen rather than screen without a record.
    refused = api.post("/v1/screen", role="screener", json=clear_record())
    assert refused.status_code == 503
    assert refused.json()["code"] == "store_unavailable"


def _sample(text: str, metric: str, /, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(metric + "{") and not line.startswith(metric + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_decisions_flags_and_pack(api: Api, shipment: dict[str, Any]) -> None:
    flagged = api.post("/v1/screen", role="screener", json=shipment).json()
    for i in range(3):
        api.post("/v1/screen", role="screener", json=clear_record(f"m-{i}"))
    api.post("/v1/screen", role="screener", json={"id": ""})
    api.get("/v1/screenings/unknown", role="admin")
    api.get("/nowhere")
    text = api.get("/metrics").text
    assert _sample(text, "screening_http_requests_total", route="/v1/screen", status="200", method="POST") == 4
    assert _sample(text, "screening_http_requests_total", route="/v1/screen", status="422") == 1
    assert _sample(text, "screening_http_requests_total", route="/v1/screenings/{screening_id}",
                   status="404") == 1
    assert _sample(text, "screening_http_requests_total", route="unmatched", status="404") == 1
    assert _sample(text, "screening_http_request_duration_seconds_count", route="/v1/screen", status="200") == 4
    assert _sample(text, "screening_decisions_total", decision="clear") == 3
    assert _sample(text, "screening_decisions_total", decision=flagged["decision"]) == 1
    for flag in flagged["flags"]:
        assert _sample(text, "screening_flags_total", rule=flag["rule"], severity=flag["severity"]) >= 1
    info = api.runtime.holder.current.pack.info
    assert _sample(text, "screening_pack_info", name=info.name, version=info.version, digest=info.digest) == 1
    assert _sample(text, "screening_log_batch_rows_sum") == 4
    assert _sample(text, "screening_log_pending_rows") == 0


def test_two_apps_keep_separate_metrics(make_api: Any) -> None:
    first, second = make_api(), make_api()
    first.get("/healthz")
    assert _sample(first.get("/metrics").text, "screening_http_requests_total", route="/healthz") == 1
    assert _sample(second.get("/metrics").text, "screening_http_requests_total", route="/healthz") == 0
