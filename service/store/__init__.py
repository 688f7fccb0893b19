"""The store: API keys, the screening log and pack loads, on SQLite or PostgreSQL.

SQLAlchemy 2 ORM classes (``*Row``) in ``tables``, one repository per concern, Alembic migrations shipped
in ``migrations/`` and applied by ``upgrade_database(url)``.
"""

from service.store.access import ROLE_PERMISSIONS, Permission, Principal, PrincipalKind, Role
from service.store.database import Database, open_database, upgrade_database
from service.store.keys import ApiKey, ApiKeyRepository, IssuedKey, hash_key
from service.store.packs import PackLoadRepository
from service.store.screenings import ScreeningFilter, ScreeningRepository, new_screening_id
from service.store.tables import ApiKeyRow, Base, PackLoadRow, ScreeningRow, ServiceStateRow
from service.store.writer import AsyncScreeningWriter, ScreeningWriter

__all__ = [
    "ROLE_PERMISSIONS",
    "ApiKey",
    "ApiKeyRepository",
    "ApiKeyRow",
    "AsyncScreeningWriter",
    "Base",
    "Database",
    "IssuedKey",
    "PackLoadRepository",
    "PackLoadRow",
    "Permission",
    "Principal",
    "PrincipalKind",
    "Role",
    "ScreeningFilter",
    "ScreeningRepository",
    "ScreeningRow",
    "ScreeningWriter",
    "ServiceStateRow",
    "hash_key",
    "new_screening_id",
    "open_database",
    "upgrade_database",
]
