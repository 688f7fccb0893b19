"""The migrations build exactly the schema the ORM classes describe, and can be applied repeatedly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.store import Base, Database, upgrade_database


def test_migrated_schema_matches_the_orm_classes(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_table_is_created(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert {"api_keys", "screenings", "pack_loads", "service_state", "alembic_version"} <= tables


def test_upgrading_twice_is_harmless(database: Database) -> None:
    upgrade_database(database.url)
    upgrade_database(database.url)
    with database.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0004"


def test_sqlite_store_is_created_in_a_missing_folder(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "does" / "not" / "exist"
    upgrade_database(f"sqlite:///{folder / 'store.sqlite3'}")
    assert (folder / "store.sqlite3").is_file()
