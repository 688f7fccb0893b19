"""Structured JSON logs: one object per line with the request id, extras and exceptions."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from service.api.logs import JsonFormatter, request_id_var
from tests.api.conftest import Api, clear_record


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("service.test", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_formatter_writes_one_json_object_with_request_id_and_extras() -> None:
    token = request_id_var.set("req-1")
    try:
        line = JsonFormatter().format(_record("pack swapped in", pack_digest="sha256:1", count=3))
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "pack swapped in"
    assert entry["level"] == "warning"
    assert entry["logger"] == "service.test"
    assert entry["request_id"] == "req-1"
    assert (entry["pack_digest"], entry["count"]) == ("sha256:1", 3)
    assert entry["time"].endswith("+00:00")


def test_formatter_includes_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]
    assert "request_id" not in entry


def test_each_request_is_logged_with_its_id_and_actor(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="service.api.access")
    ids: list[str | None] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            ids.append(request_id_var.get())

    capture = Capture()
    logging.getLogger("service.api.access").addHandler(capture)
    try:
        response = api.post("/v1/screen", role="screener", json=clear_record(),
                            headers={"X-Request-ID": "trace-42"})
    finally:
        logging.getLogger("service.api.access").removeHandler(capture)
    assert response.status_code == 200
    access = [r for r in caplog.records if r.name == "service.api.access"]
    assert len(access) == 1
    fields = access[0].__dict__
    assert (fields["method"], fields["route"], fields["status"]) == ("POST", "/v1/screen", 200)
    assert fields["actor"].startswith("key:")
    assert fields["duration_ms"] > 0
    assert ids == ["trace-42"]
