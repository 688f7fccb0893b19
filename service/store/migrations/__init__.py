"""Alembic migrations of the store, run by ``service.store.upgrade_database``."""
