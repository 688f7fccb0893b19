"""Pack loads: which pack version was put into service, when and by whom.

Besides telling an examiner when each pack digest started answering, the table lets the workers of one
server follow a reload made through any of them: each polls the latest row and reloads when it changes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from service.model import PackInfo
from service.store.database import Database
from service.store.tables import PackLoadRow


class PackLoadRepository:
    """Reloads of the rule pack."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, info: PackInfo, actor: str) -> PackLoadRow:
        """Note that the pack ``info`` was put into service by ``actor``."""
        row = PackLoadRow(loaded_at=datetime.now(UTC), name=info.name, version=info.version, digest=info.digest,
                          actor=actor)
        with self._db.session("recording a pack load") as session:
            session.add(row)
        return row

    def latest(self) -> PackLoadRow | None:
        """The most recent reload, or None if the pack was never reloaded."""
        with self._db.session("reading pack loads") as session:
            return session.scalars(select(PackLoadRow).order_by(PackLoadRow.id.desc()).limit(1)).one_or_none()

    def list(self, limit: int = 100) -> list[PackLoadRow]:
        """Reloads, newest first."""
        with self._db.session("reading pack loads") as session:
            return list(session.scalars(select(PackLoadRow).order_by(PackLoadRow.id.desc()).limit(limit)))
