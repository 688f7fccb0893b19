"""Fixtures of the list importer tests.

Fixture strategy: every format has a small excerpt of a real publication under ``fixtures/`` (cut from
../shared/data/lists by ``fixtures/make_fixtures.py``; the EU FSF XML and the OpenSanctions FtM file are written
by hand in the published layouts, see ``fixtures/README.md``). Tests import them into temporary data folders;
the ``shared`` tests import the full real files and skip when ../shared is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from service.lists import CompiledList, import_list
from service.lists.commands import register
from service.rulepack.spec import PartySpec

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def sdn_csv() -> CompiledList:
    return import_list("ofac-sdn", FIXTURES / "ofac_sdn")


def by_id(compiled: CompiledList) -> dict[str, PartySpec]:
    return {entry.id: entry for entry in compiled.entries}


@pytest.fixture
def cli() -> typer.Typer:
    """The lists commands in an app of their own."""
    app = typer.Typer()
    register(app)

    @app.command()
    def version() -> None:  # a second command, so that "lists" stays a sub-command as in the real app
        """Unused."""

    return app
