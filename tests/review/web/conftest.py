"""UI tests drive the real app (bundled pack, SQLite store in a temporary folder) in-process through httpx's
ASGI transport (as tests/api does; Starlette's TestClient warns about httpx), one client and cookie jar per
person, so four-eyes scenarios involve two real browser sessions.

Fixture strategy: the app and its lifespan are started once per test by ``ui``; people are created through
the service layer (tests/review/conftest.py makes argon2 cheap); alerts are opened by screening small
counterparty records with the session-wide screener and handing the results to ``record_screening``, as the
API does. Nothing is mocked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from service.api import create_app
from service.api.packs import LoadedPack
from service.api.runtime import Runtime
from service.engine import Screener
from service.review import AlertFilter, create_user, list_alerts, record_screening
from service.rulepack import Pack
from service.settings import Settings
from service.store import Database, new_screening_id
from tests.review.conftest import PASSWORD, listed_counterparty, screen

#: Who logs in during the tests, and the roles they hold.
PEOPLE = {"rita": ["reviewer"], "rob": ["reviewer"], "anna": ["approver"], "alex": ["approver", "reviewer"],
          "adam": ["admin"]}
MAX_FAILURES = 3

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Client:
    """A synchronous face on an httpx client running on the app's event loop; keeps its cookies."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.portal = portal
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                      follow_redirects=False)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self.http.get, url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self.http.post, url, **kwargs))

    def close(self) -> None:
        self.portal.call(self.http.aclose)


class Ui:
    """The running app, its store, and a logged-in client per person."""

    def __init__(self, app: FastAPI, portal: BlockingPortal, pack: Pack, screener: Screener) -> None:
        self.app = app
        self.portal = portal
        self.pack = pack
        self.screener = screener
        self.clients: dict[str, Client] = {}
        self.strangers: list[Client] = []

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def database(self) -> Database:
        return self.runtime.database

    def anonymous(self) -> Client:
        client = Client(self.app, self.portal)
        self.strangers.append(client)
        return client

    def login(self, client: Client, username: str, password: str = PASSWORD) -> httpx.Response:
        page = client.get("/ui/login")
        return client.post("/ui/login", data={"username": username, "password": password,
                                              "csrf_token": csrf_of(page.text), "next": "/ui/queue"})

    def as_(self, username: str) -> Client:
        """A client logged in as ``username`` (one per person, kept for the test)."""
        if username not in self.clients:
            client = self.anonymous()
            response = self.login(client, username)
            assert response.status_code == 303, response.text
            self.clients[username] = client
        return self.clients[username]

    def post_form(self, username: str, page_url: str, action: str, data: dict[str, Any]) -> httpx.Response:
        """Load ``page_url`` as ``username`` and post ``data`` to ``action`` with the page's CSRF token."""
        client = self.as_(username)
        page = client.get(page_url)
        assert page.status_code == 200, page.text
        return client.post(action, data={**data, "csrf_token": csrf_of(page.text)})

    def open_alert(self, record: dict[str, Any] | None = None) -> int:
        data = record or listed_counterparty()
        result = screen(self.screener, data)
        record_screening(self.database, screening_id=new_screening_id(), source="api", record=data, result=result)
        (alert,) = list_alerts(self.database, AlertFilter(record_id=data["id"])).items
        return alert.id


@pytest.fixture
def ui(tmp_path: Path, bundled_pack: Pack, screener: Screener) -> Iterator[Ui]:
    settings = Settings(data_dir=tmp_path / "data", login_max_failures=MAX_FAILURES, login_lockout_minutes=15)
    app = create_app(settings, pack=LoadedPack(bundled_pack, screener), pack_sync_seconds=60)
    with start_blocking_portal(backend="asyncio") as portal, \
            portal.wrap_async_context_manager(app.router.lifespan_context(app)):
        running = Ui(app, portal, bundled_pack, screener)
        for name, roles in PEOPLE.items():
            create_user(running.database, name, PASSWORD, roles, actor="test")
        try:
            yield running
        finally:
            for client in running.strangers:
                client.close()
