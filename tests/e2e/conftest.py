"""End-to-end tests: Debian's chromium, driven by Playwright for Python, against a live uvicorn server.

Fixture strategy: one server per test module on a free loopback port, serving the real app (bundled pack,
SQLite store in a temporary folder) from a thread of the test process, so tests can seed people and alerts
through the service layer on the same store. The browser is the system chromium (``apt-get install -y
chromium``), never a downloaded one; without it the tests are skipped, saying so.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from service.api import create_app
from service.api.packs import LoadedPack
from service.engine import Screener
from service.rulepack import Pack
from service.settings import Settings
from service.store import Database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    app: FastAPI
    url: str

    @property
    def database(self) -> Database:
        database: Database = self.app.state.runtime.database
        return database


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, bundled_pack: Pack,
                screener: Screener) -> Iterator[LiveServer]:
    """The app served by uvicorn on 127.0.0.1:<free port> until the module's tests are done."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("e2e-data"))
    app = create_app(settings, pack=LoadedPack(bundled_pack, screener), pack_sync_seconds=60)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium from Debian's package, launched by its path.

    Module scope, not session: Playwright's sync API keeps an event loop running in the main thread while it is
    open, and every later test that calls asyncio.run() would then fail.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
