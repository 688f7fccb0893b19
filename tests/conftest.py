"""Fixtures shared by the whole suite.

Fixture strategy: the smallest fixture that works. Engine and rule tests use the bundled pack (``rules/``)
loaded once per session, because it is the product; tests that need a particular list content build a tiny
pack in a temporary folder with ``tests.factory.write_pack``. Nothing here needs ``../shared``: tests that
measure against the shared evaluation data or the real sanctions lists use the ``shared_dir`` fixture, which
skips them cleanly when the folder is absent. Store tests run on SQLite and, when reachable, on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engine import Screener
from service.rulepack import Pack, load_pack

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_PACK = ROOT / "rules"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def bundled_pack() -> Pack:
    return load_pack(BUNDLED_PACK)


@pytest.fixture(scope="session")
def screener(bundled_pack: Pack) -> Screener:
    return Screener(bundled_pack)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (reference data, lists and evaluation sets)")
    return SHARED
