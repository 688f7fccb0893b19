"""The audit trail is append-only in the database itself (triggers on SQLite and PostgreSQL), and exports
neutralise spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.review import audit_csv, audit_json, list_audit
from service.review.audit import audit_event, iter_audit, neutralise_cell
from service.store import Database


def test_update_is_refused_by_the_database(database: Database) -> None:
    audit_event(database, "user:1", "alert.decide", "alert", 7, after={"decision": "true_match"})
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    assert list_audit(database)[0].actor == "user:1"


def test_delete_is_refused_by_the_database(database: Database) -> None:
    audit_event(database, "user:1", "login", "user", 1)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))
    assert len(list_audit(database)) == 1


def test_truncate_is_refused_on_postgresql(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    audit_event(database, "user:1", "login", "user", 1)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_log"))


def test_list_filters_by_time_and_pages_by_id(database: Database) -> None:
    for number in range(5):
        audit_event(database, "user:1", "alert.assign", "alert", number)
    everything = list_audit(database)
    assert [e.object_id for e in everything] == ["0", "1", "2", "3", "4"]
    assert [e.object_id for e in list_audit(database, after_id=everything[1].id, limit=2)] == ["2", "3"]
    assert list_audit(database, since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(list(iter_audit(database, page=2))) == 5


@pytest.mark.parametrize(("cell", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("plain", "plain"), ("", ""),
])
def test_cells_are_neutralised(cell: str, expected: str) -> None:
    assert neutralise_cell(cell) == expected


def test_csv_export_neutralises_every_cell(database: Database) -> None:
    audit_event(database, "=cmd|'/c calc'!A1", "alert.decide", "alert", "@1", after={"comment": "=1+1"})
    text_out = "".join(audit_csv(list_audit(database)))
    rows = list(csv.reader(io.StringIO(text_out)))
    assert rows[0] == ["id", "at", "actor", "action", "object_type", "object_id", "before", "after"]
    assert rows[1][2] == "'=cmd|'/c calc'!A1"
    assert rows[1][5] == "'@1"
    assert json.loads(rows[1][7]) == {"comment": "=1+1"}  # JSON starts with '{', safe as is


def test_json_export_is_one_array(database: Database) -> None:
    audit_event(database, "user:2", "user.create", "user", 2, after={"username": "rita"})
    data = json.loads("".join(audit_json(list_audit(database))))
    assert [(d["actor"], d["action"], d["after"]) for d in data] == [("user:2", "user.create",
                                                                       {"username": "rita"})]
