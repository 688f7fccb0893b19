"""Users: argon2 hashes, lockout after repeated failures, sessions stored hashed, CSRF tokens bound to the
session, disable and reset; logins and changes are audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.errors import RecordError
from service.review import (
    LoginFailure,
    User,
    authenticate,
    check_csrf,
    create_session,
    create_user,
    csrf_token,
    end_session,
    list_audit,
    resolve_session,
)
from service.review.users import disable_user, reset_user
from service.settings import Settings
from service.store import Database, Role
from service.store.tables import SessionRow, UserRow
from tests.review.conftest import PASSWORD

SETTINGS = Settings(login_max_failures=3, login_lockout_minutes=10)


def _rita(database: Database) -> User:
    return create_user(database, "rita", PASSWORD, [Role.reviewer], actor="user:0")


def test_password_is_stored_as_an_argon2_hash(database: Database) -> None:
    user = _rita(database)
    with database.session("test") as session:
        stored = session.scalars(select(UserRow.password_hash).where(UserRow.id == user.id)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert user.roles == frozenset({Role.reviewer})


@pytest.mark.parametrize(("username", "password", "roles"), [
    ("rita", "short", ["reviewer"]), ("two words", PASSWORD, ["reviewer"]), ("rita", PASSWORD, []),
    ("rita", PASSWORD, ["screener"]),
])
def test_bad_users_are_refused(database: Database, username: str, password: str, roles: list[str]) -> None:
    with pytest.raises(RecordError):
        create_user(database, username, password, roles, actor="user:0")


def test_taken_username_is_refused(database: Database) -> None:
    _rita(database)
    with pytest.raises(RecordError, match="taken"):
        _rita(database)


def test_login_succeeds_and_fails(database: Database) -> None:
    user = _rita(database)
    assert authenticate(database, SETTINGS, "rita", PASSWORD) == user
    assert authenticate(database, SETTINGS, "rita", "wrong password!") is LoginFailure.invalid
    assert authenticate(database, SETTINGS, "nobody", PASSWORD) is LoginFailure.invalid
    actions = [e.action for e in list_audit(database, object_type="user")]
    assert actions == ["user.create", "login", "login.failed", "login.failed"]


def test_lockout_after_repeated_failures_then_it_lifts(database: Database) -> None:
    _rita(database)
    now = datetime.now(UTC)
    outcomes = [authenticate(database, SETTINGS, "rita", "wrong password!", now=now) for _ in range(3)]
    assert outcomes == [LoginFailure.invalid, LoginFailure.invalid, LoginFailure.locked]
    assert authenticate(database, SETTINGS, "rita", PASSWORD, now=now + timedelta(minutes=9)) is LoginFailure.locked
    later = authenticate(database, SETTINGS, "rita", PASSWORD, now=now + timedelta(minutes=11))
    assert isinstance(later, User)


def test_a_success_resets_the_failure_count(database: Database) -> None:
    _rita(database)
    for _ in range(2):
        authenticate(database, SETTINGS, "rita", "wrong password!")
    assert isinstance(authenticate(database, SETTINGS, "rita", PASSWORD), User)
    assert authenticate(database, SETTINGS, "rita", "wrong password!") is LoginFailure.invalid


def test_sessions_store_only_a_hash_and_end(database: Database) -> None:
    user = _rita(database)
    token = create_session(database, SETTINGS, user)
    assert resolve_session(database, token) == user
    with database.session("test") as session:
        assert token not in session.scalars(select(SessionRow.token_hash)).one()
    assert resolve_session(database, token + "x") is None
    assert resolve_session(database, token, now=datetime.now(UTC) + timedelta(hours=13)) is None
    end_session(database, token)
    assert resolve_session(database, token) is None


def test_csrf_token_is_bound_to_the_session(database: Database) -> None:
    user = _rita(database)
    first, second = create_session(database, SETTINGS, user), create_session(database, SETTINGS, user)
    assert check_csrf(first, csrf_token(first))
    assert not check_csrf(first, csrf_token(second))
    assert not check_csrf(first, None)
    assert not check_csrf(first, "")


def test_disable_ends_sessions_and_refuses_logins(database: Database) -> None:
    user = _rita(database)
    token = create_session(database, SETTINGS, user)
    disable_user(database, "rita", actor="user:0")
    assert resolve_session(database, token) is None
    assert authenticate(database, SETTINGS, "rita", PASSWORD) is LoginFailure.invalid


def test_reset_sets_a_new_password_and_lifts_a_lockout(database: Database) -> None:
    _rita(database)
    for _ in range(3):
        authenticate(database, SETTINGS, "rita", "wrong password!")
    reset_user(database, "rita", "a brand new passphrase", actor="user:0", roles=["reviewer", "approver"])
    user = authenticate(database, SETTINGS, "rita", "a brand new passphrase")
    assert isinstance(user, User) and user.roles == frozenset({Role.reviewer, Role.approver})
    assert authenticate(database, SETTINGS, "rita", PASSWORD) is LoginFailure.invalid
