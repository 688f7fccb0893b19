"""People who review alerts: accounts with argon2 password hashes, lockout after repeated failures,
login sessions stored as token hashes, and CSRF tokens bound to a session.

Used by the web UI (login form, session cookie) and by ``screening users ...``. Every change and every
login attempt is written to the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import NotFoundError, RecordError, StoreError
from service.review.audit import record_audit
from service.settings import Settings
from service.store.access import Principal, PrincipalKind, Role
from service.store.database import Database
from service.store.tables import SessionRow, UserRow

#: Roles a person may hold (``screener`` is for machine keys).
PERSON_ROLES = frozenset({Role.reviewer, Role.approver, Role.admin})
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
# Verifying against this when the user does not exist costs the same time as a real check, so response
# times do not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class User:
    """A person as the rest of the service sees them (never with the password hash)."""

    id: int
    username: str
    roles: frozenset[Role]
    active: bool
    locked_until: datetime | None
    created_at: datetime

    def principal(self) -> Principal:
        """The principal this user acts as (actor label ``user:<id>``)."""
        return Principal(PrincipalKind.user, self.id, self.username, self.roles)

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(row.id, row.username, parse_roles(row.roles), row.active, row.locked_until, row.created_at)


class LoginFailure(StrEnum):
    """Why a login was refused. The UI shows one message for both, so it does not reveal which applies."""

    invalid = "invalid"
    locked = "locked"


def parse_roles(text: str) -> frozenset[Role]:
    return frozenset(Role(part) for part in text.split(",") if part)


def _roles_text(roles: Iterable[Role | str]) -> str:
    chosen = sorted({Role(role) for role in roles})
    if not chosen:
        raise RecordError([("roles", "a user needs at least one role: reviewer, approver or admin")])
    wrong = [role.value for role in chosen if role not in PERSON_ROLES]
    if wrong:
        raise RecordError([("roles", f"not a role for people: {', '.join(wrong)} (use an API key)")])
    return ",".join(role.value for role in chosen)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RecordError([("password", f"at least {MIN_PASSWORD_LENGTH} characters")])


def hash_token(token: str) -> str:
    """The sha256 (hex) under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(database: Database, username: str, password: str, roles: Iterable[Role | str],
                actor: str) -> User:
    """Create a user; RecordError for a taken name, a short password or a role people cannot hold."""
    name = username.strip()
    if not name or len(name) > 100 or any(ch.isspace() for ch in name):
        raise RecordError([("username", "1 to 100 characters without spaces")])
    _check_password(password)
    roles_text = _roles_text(roles)
    now = datetime.now(UTC)
    row = UserRow(username=name, password_hash=_hasher.hash(password), roles=roles_text, active=True,
                  failed_logins=0, created_at=now, created_by=actor, password_changed_at=now)
    try:
        with database.session("creating a user") as session:
            session.add(row)
            session.flush()
            record_audit(session, actor, "user.create", "user", row.id,
                         after={"username": name, "roles": roles_text, "active": True})
    except StoreError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise RecordError([("username", f"{name!r} is taken")]) from None
        raise
    return User.from_row(row)


def _user_row(session: Session, username: str) -> UserRow:
    row = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    if row is None:
        raise NotFoundError(f"no user named {username!r}")
    return row


def get_user(database: Database, user_id: int) -> User:
    with database.session("reading a user") as session:
        row = session.get(UserRow, user_id)
        if row is None:
            raise NotFoundError(f"no user with id {user_id}")
        return User.from_row(row)


def find_user(database: Database, username: str) -> User:
    """The user with this name (NotFoundError when none)."""
    with database.session("reading a user") as session:
        return User.from_row(_user_row(session, username))


def list_users(database: Database) -> list[User]:
    with database.session("listing users") as session:
        return [User.from_row(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]


def disable_user(database: Database, username: str, actor: str) -> User:
    """Disable a user and end their sessions (users are never deleted: the audit trail names them)."""
    now = datetime.now(UTC)
    with database.session("disabling a user") as session:
        row = _user_row(session, username)
        before = row.active
        row.active = False
        for live in session.scalars(select(SessionRow).where(SessionRow.user_id == row.id,
                                                             SessionRow.ended_at.is_(None))):
            live.ended_at = now
        record_audit(session, actor, "user.disable", "user", row.id, before={"active": before},
                     after={"active": False})
        return User.from_row(row)


def reset_user(database: Database, username: str, password: str, actor: str, *,
               roles: Iterable[Role | str] | None = None) -> User:
    """Set a new password (and optionally new roles), re-enable the user, clear the lockout and end their
    sessions."""
    _check_password(password)
    now = datetime.now(UTC)
    with database.session("resetting a user") as session:
        row = _user_row(session, username)
        before = {"active": row.active, "roles": row.roles, "locked_until": _iso(row.locked_until)}
        row.password_hash = _hasher.hash(password)
        row.password_changed_at = now
        row.active = True
        row.failed_logins = 0
        row.locked_until = None
        if roles is not None:
            row.roles = _roles_text(roles)
        for live in session.scalars(select(SessionRow).where(SessionRow.user_id == row.id,
                                                             SessionRow.ended_at.is_(None))):
            live.ended_at = now
        record_audit(session, actor, "user.reset", "user", row.id, before=before,
                     after={"active": True, "roles": row.roles, "locked_until": None, "password": "changed"})
        return User.from_row(row)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def authenticate(database: Database, settings: Settings, username: str, password: str,
                 *, now: datetime | None = None) -> User | LoginFailure:
    """Check a login: the User, or why it failed.

    After ``settings.login_max_failures`` wrong passwords in a row the user is locked for
    ``settings.login_lockout_minutes``; while locked even the right password is refused (``locked``).
    Unknown and disabled users get ``invalid`` after the same hashing work as a real check.
    """
    moment = now or datetime.now(UTC)
    with database.session("checking a login") as session:
        row = session.scalars(select(UserRow).where(UserRow.username == username.strip())).one_or_none()
        if row is None or not row.active:
            _verify(_DUMMY_HASH, password)
            record_audit(session, f"login:{username.strip()[:90]}", "login.failed", "user",
                         row.id if row else username.strip()[:200], after={"reason": "unknown or disabled"},
                         at=moment)
            return LoginFailure.invalid
        if row.locked_until is not None and row.locked_until > moment:
            record_audit(session, f"user:{row.id}", "login.refused_locked", "user", row.id,
                         after={"locked_until": row.locked_until.isoformat()}, at=moment)
            return LoginFailure.locked
        if not _verify(row.password_hash, password):
            row.failed_logins += 1
            after: dict[str, object] = {"failed_logins": row.failed_logins}
            if row.failed_logins >= settings.login_max_failures:
                row.locked_until = moment + timedelta(minutes=settings.login_lockout_minutes)
                row.failed_logins = 0
                after["locked_until"] = row.locked_until.isoformat()
            record_audit(session, f"user:{row.id}", "login.failed", "user", row.id, after=after, at=moment)
            return LoginFailure.locked if "locked_until" in after else LoginFailure.invalid
        row.failed_logins = 0
        row.locked_until = None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        record_audit(session, f"user:{row.id}", "login", "user", row.id, at=moment)
        return User.from_row(row)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def create_session(database: Database, settings: Settings, user: User) -> str:
    """Start a login session for ``user``; the returned token goes in the cookie and is stored only hashed."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with database.session("starting a session") as session:
        session.add(SessionRow(token_hash=hash_token(token), user_id=user.id, created_at=now,
                               expires_at=now + timedelta(hours=settings.session_hours)))
    return token


def resolve_session(database: Database, token: str, *, now: datetime | None = None) -> User | None:
    """The active user behind a session token, or None (unknown, ended, expired, or the user disabled)."""
    if not token:
        return None
    moment = now or datetime.now(UTC)
    with database.session("reading a session") as session:
        found = session.execute(
            select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.token_hash == hash_token(token))).one_or_none()
        if found is None:
            return None
        live, user = found
        if live.ended_at is not None or live.expires_at <= moment or not user.active:
            return None
        return User.from_row(user)


def end_session(database: Database, token: str) -> None:
    """Log out: the token stops working at once (unknown tokens are ignored)."""
    with database.session("ending a session") as session:
        live = session.scalars(select(SessionRow).where(SessionRow.token_hash == hash_token(token))).one_or_none()
        if live is not None and live.ended_at is None:
            live.ended_at = datetime.now(UTC)
            record_audit(session, f"user:{live.user_id}", "logout", "user", live.user_id)


def csrf_token(session_token: str) -> str:
    """The CSRF token for forms of this session: an HMAC keyed by the session token, so it needs no storage,
    cannot be computed without the cookie, and dies with the session."""
    return hmac.new(session_token.encode("utf-8"), b"csrf-v1", hashlib.sha256).hexdigest()


def check_csrf(session_token: str, presented: str | None) -> bool:
    """Whether ``presented`` is this session's CSRF token (constant-time comparison)."""
    return bool(presented) and hmac.compare_digest(csrf_token(session_token), presented or "")
