"""Store tests run every case on SQLite and on PostgreSQL (``database_url`` is parametrised over both;
PostgreSQL cases skip with the reason when ``SCREENING_TEST_POSTGRES_URL`` does not answer)."""

from tests.store.databases import database, database_url, postgres_schema_url

__all__ = ["database", "database_url", "postgres_schema_url"]
