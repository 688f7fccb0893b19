"""Review tests run on a real store, SQLite and PostgreSQL (``database`` is parametrised over both), with
the bundled pack's session-wide screener (tests/conftest.py).

Fixture strategy: users are created per test through the service layer; records are small counterparties
that the bundled pack flags (Vertikal Alabuga is listed, so it blocks).
"""

from __future__ import annotations

from typing import Any

import pytest

from service.engine import Screener
from service.model import ScreeningResult, parse_record
from service.review import User, create_user, record_screening
from service.store import Database, new_screening_id
from tests.store.databases import database, database_url, postgres_schema_url

__all__ = ["database", "database_url", "postgres_schema_url"]

PASSWORD = "correct horse battery"


def listed_counterparty(record_id: str = "cp-1", name: str = "Vertikal Alabuga", country: str = "RU",
                        **party: Any) -> dict[str, Any]:
    """A counterparty the bundled pack blocks (a listed name)."""
    return {"id": record_id, "kind": "counterparty",
            "parties": [{"role": "counterparty", "name": name, "country": country, **party}]}


def screen(screener: Screener, data: dict[str, Any]) -> ScreeningResult:
    return screener.screen(parse_record(data))


def open_alert(database: Database, screener: Screener, data: dict[str, Any] | None = None) -> int:
    """Screen ``data`` (default: a listed counterparty) and return the id of the alert it opened."""
    from service.review import AlertFilter, list_alerts

    record = data or listed_counterparty()
    result = screen(screener, record)
    record_screening(database, screening_id=new_screening_id(), source="api", record=record, result=result)
    (alert,) = list_alerts(database, AlertFilter(record_id=record["id"])).items
    return alert.id


@pytest.fixture
def people(database: Database) -> dict[str, User]:
    """Two reviewers, two approvers and an admin."""
    roles = {"rita": ["reviewer"], "rob": ["reviewer"], "anna": ["approver"], "alex": ["approver", "reviewer"],
             "adam": ["admin"]}
    return {name: create_user(database, name, PASSWORD, held, actor="test") for name, held in roles.items()}


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its smallest cost: the tests check behaviour, not hash strength (real cost in production)."""
    from argon2 import PasswordHasher

    from service.review import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
