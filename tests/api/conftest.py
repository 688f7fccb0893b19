"""API tests drive the real app (bundled pack, real store) in-process through httpx's ASGI transport.

Fixture strategy: the (pack, screener) pair is built once per session from the bundled pack and handed to
every app, since building it is the slow part. Each app gets its own SQLite file in a temporary folder;
the ``pg_api`` variants run on the session's PostgreSQL schema. The app's lifespan runs for real (store
migration, first key, log writer), inside an event loop on a helper thread, so tests are plain functions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from service.api import create_app
from service.api.packs import LoadedPack
from service.api.runtime import Runtime
from service.engine import Screener
from service.rulepack import Pack
from service.settings import Settings
from service.store import ApiKeyRepository, Role
from tests.store.databases import empty_tables, postgres_schema_url

__all__ = ["postgres_schema_url"]

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "tests" / "examples" / "shipment.json"


class Api:
    """A running app and a client for it; ``keys`` maps a role name to a key of that role."""

    def __init__(self, app: FastAPI, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self.app = app
        self.portal = portal
        self.client = client
        self.keys: dict[str, str] = {}

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def call(self, function: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine function on the app's event loop and return its result."""
        return self.portal.call(function)

    def request(self, method: str, url: str, *, role: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.portal.call(partial(self.client.request, method, url, headers=headers, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def add_key(self, label: str, role: Role) -> str:
        issued = ApiKeyRepository(self.runtime.database).create(label, role, created_by="test")
        self.keys[label] = issued.secret
        return issued.secret


@contextmanager
def running(app: FastAPI) -> Iterator[Api]:
    """Start ``app`` (lifespan included) on an event loop in a helper thread; stop it afterwards."""
    with start_blocking_portal(backend="asyncio") as portal, \
            portal.wrap_async_context_manager(app.router.lifespan_context(app)):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        try:
            yield Api(app, portal, client)
        finally:
            portal.call(client.aclose)


@pytest.fixture(scope="session")
def loaded_pack(bundled_pack: Pack, screener: Screener) -> LoadedPack:
    return LoadedPack(bundled_pack, screener)


def start_api(stack: ExitStack, data_dir: Path, pack: LoadedPack | None, *, with_keys: bool = True,
              app_options: dict[str, Any] | None = None, **overrides: Any) -> Api:
    """Start an app whose store lives in ``data_dir``; it stops when ``stack`` closes. ``overrides`` are
    settings, ``app_options`` keyword arguments of ``create_app``."""
    overrides.setdefault("data_dir", data_dir)
    settings = Settings(**overrides)
    app = create_app(settings, pack=pack, pack_sync_seconds=0.2, **(app_options or {}))
    api = stack.enter_context(running(app))
    if with_keys:
        keys = ApiKeyRepository(api.runtime.database)
        for role in Role:
            api.add_key(role.value, role)
        api.add_key("revoked", Role.admin)
        keys.revoke(keys.list()[-1].id)
    return api


@pytest.fixture
def make_api(tmp_path: Path, loaded_pack: LoadedPack) -> Iterator[Callable[..., Api]]:
    """Build and start apps with setting overrides; every role gets a key named after it, and the key named
    ``revoked`` is an admin key that was revoked."""
    with ExitStack() as stack:
        def make(*, pack: LoadedPack | None = loaded_pack, with_keys: bool = True,
                 app_options: dict[str, Any] | None = None, **overrides: Any) -> Api:
            return start_api(stack, tmp_path / "data", pack, with_keys=with_keys, app_options=app_options,
                             **overrides)

        yield make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """An app on a fresh SQLite store with a key for every role (``api.keys['screener']`` ...)."""
    return make_api()


@pytest.fixture
def pg_api(make_api: Callable[..., Api], postgres_schema_url: str) -> Api:
    """The same app on the session's PostgreSQL schema (emptied first)."""
    empty_tables(postgres_schema_url)
    return make_api(database_url=postgres_schema_url)


@pytest.fixture(scope="session")
def shipment() -> dict[str, Any]:
    """The README's example shipment (a consignee at Alabuga, an FPGA): flagged by the bundled pack."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return data


def clear_record(record_id: str = "clear-0001") -> dict[str, Any]:
    """A shipment of office chairs between two German companies: nothing to flag."""
    return {"id": record_id, "parties": [
        {"role": "seller", "name": "Bueromoebel Schmidt GmbH", "country": "DE"},
        {"role": "buyer", "name": "Stadtwerke Kassel AG", "country": "DE"}],
        "goods": [{"description": "office chairs, swivel", "hs_code": "9401.30"}],
        "route": [{"role": "origin", "place": "Hamburg", "country": "DE"},
                  {"role": "destination", "place": "Kassel", "country": "DE"}]}


async def gather_all(*coroutines: Awaitable[T]) -> list[T]:
    return list(await asyncio.gather(*coroutines))
