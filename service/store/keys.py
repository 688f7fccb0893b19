"""API keys: creation (the key is shown once), lookup by key, listing and revocation.

A key looks like ``scr_1a2b3c4d_<43 random characters>``. The part before the second underscore is a public
prefix, stored in clear to find the row and shown in listings; the whole key is stored only as its sha256.
A plain hash is enough because the key carries 256 bits of randomness: there is nothing to brute-force, so
the slow password hashes users need would only add latency to every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.errors import NotFoundError, StoreError
from service.store.access import Principal, Role
from service.store.database import Database
from service.store.tables import ApiKeyRow, ServiceStateRow
from service.store.upsert import insert_if_absent

KEY_SCHEME = "scr"
_BOOTSTRAP_STATE = "bootstrap_admin_key"


def hash_key(key: str) -> str:
    """The sha256 (hex) under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = f"{KEY_SCHEME}_{secrets.token_hex(4)}"
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key, or None when it cannot be one of ours."""
    scheme, _, rest = key.partition("_")
    short, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(short) != 8 or not secret:
        return None
    return f"{scheme}_{short}"


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed (never with the key itself)."""

    id: int
    prefix: str
    name: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal.for_api_key(self.id, self.name, self.role)

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKey:
        return cls(row.id, row.prefix, row.name, Role(row.role), row.created_at, row.created_by, row.revoked_at)


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: ``secret`` is the only copy of the key and is never stored."""

    key: ApiKey
    secret: str


class ApiKeyRepository:
    """API keys in the store."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, name: str, role: Role, created_by: str) -> IssuedKey:
        """Create a key for ``name`` with ``role``; the returned secret is shown once and never again."""
        if not name.strip():
            raise ValueError("a key needs a name saying who or what uses it")
        for _attempt in range(5):
            prefix, secret = _new_key()
            row = ApiKeyRow(prefix=prefix, key_hash=hash_key(secret), name=name.strip(), role=Role(role).value,
                            created_at=datetime.now(UTC), created_by=created_by)
            try:
                with self._db.session("creating an API key") as session:
                    session.add(row)
            except StoreError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # a prefix collision (1 in 4 billion): draw again
                raise
            return IssuedKey(ApiKey.from_row(row), secret)
        raise StoreError("could not draw a unique key prefix")

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None (unknown, malformed or revoked)."""
        prefix = key_prefix(secret)
        if prefix is None:
            return None
        with self._db.session("looking up an API key") as session:
            row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.key_hash, hash_key(secret)):
                return None
            return ApiKey.from_row(row)

    def get(self, key_id: int) -> ApiKey:
        with self._db.session("reading an API key") as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            return ApiKey.from_row(row)

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first."""
        statement = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if not include_revoked:
            statement = statement.where(ApiKeyRow.revoked_at.is_(None))
        with self._db.session("listing API keys") as session:
            return [ApiKey.from_row(row) for row in session.scalars(statement)]

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key (idempotent: revoking twice keeps the first time). Keys are never deleted, so the
        screening log keeps pointing at who asked."""
        with self._db.session("revoking an API key") as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            return ApiKey.from_row(row)

    def count_active(self) -> int:
        with self._db.session("counting API keys") as session:
            return session.scalar(select(func.count()).select_from(ApiKeyRow)
                                  .where(ApiKeyRow.revoked_at.is_(None))) or 0

    def create_bootstrap_admin(self) -> IssuedKey | None:
        """On a store that has never had a key, create the first admin key; otherwise None.

        Exactly one caller wins even when several server workers start at once: the winner is whoever
        inserts the bootstrap marker, in the same transaction as the key. The marker is written first so
        that on SQLite the transaction takes the write lock before it reads anything.
        """
        now = datetime.now(UTC)
        prefix, secret = _new_key()
        with self._db.session("creating the first admin key") as session:
            won = insert_if_absent(session, ServiceStateRow.__table__,  # type: ignore[arg-type]
                                   {"key": _BOOTSTRAP_STATE, "value": prefix, "updated_at": now}, ["key"])
            if not won or session.scalar(select(func.count()).select_from(ApiKeyRow)):
                return None
            row = ApiKeyRow(prefix=prefix, key_hash=hash_key(secret), name="first admin (created at start)",
                            role=Role.admin.value, created_at=now, created_by="bootstrap")
            session.add(row)
        return IssuedKey(ApiKey.from_row(row), secret)
