"""API keys: shown once, stored hashed, found by prefix, revocable; the first admin key exactly once."""

from __future__ import annotations

import threading
from datetime import UTC

import pytest
from sqlalchemy import select

from service.errors import NotFoundError
from service.store import ApiKeyRepository, ApiKeyRow, Database, Role, hash_key


def test_created_key_authenticates_and_is_stored_only_hashed(database: Database) -> None:
    keys = ApiKeyRepository(database)
    issued = keys.create("order system", Role.screener, created_by="cli")
    assert issued.secret.startswith(issued.key.prefix + "_")
    assert len(issued.secret) > 40
    with database.session("test") as session:
        row = session.scalars(select(ApiKeyRow)).one()
        assert row.key_hash == hash_key(issued.secret)
        assert issued.secret not in (row.key_hash, row.prefix, row.name)
    found = keys.authenticate(issued.secret)
    assert found is not None
    assert (found.id, found.role, found.name, found.created_by) == (issued.key.id, Role.screener,
                                                                      "order system", "cli")
    assert found.created_at.tzinfo is UTC


@pytest.mark.parametrize("tamper", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # right prefix, wrong secret
    lambda s: s.split("_", 2)[0] + "_" + s.split("_", 2)[1],  # prefix alone
    lambda s: "scr_00000000_" + s.split("_", 2)[2],  # wrong prefix
    lambda s: "Bearer " + s,
    lambda s: "",
    lambda s: "not-a-key",
])
def test_wrong_or_malformed_keys_are_refused(database: Database, tamper: object) -> None:
    keys = ApiKeyRepository(database)
    issued = keys.create("client", Role.reviewer, created_by="cli")
    assert callable(tamper)
    assert keys.authenticate(tamper(issued.secret)) is None


def test_revoked_key_is_refused_and_revoking_is_idempotent(database: Database) -> None:
    keys = ApiKeyRepository(database)
    issued = keys.create("client", Role.admin, created_by="cli")
    first = keys.revoke(issued.key.id)
    assert first.revoked_at is not None
    assert not first.active
    assert keys.authenticate(issued.secret) is None
    assert keys.revoke(issued.key.id).revoked_at == first.revoked_at
    assert keys.count_active() == 0


def test_revoking_or_reading_an_unknown_key_is_not_found(database: Database) -> None:
    keys = ApiKeyRepository(database)
    with pytest.raises(NotFoundError):
        keys.revoke(999)
    with pytest.raises(NotFoundError):
        keys.get(999)


def test_list_in_creation_order_with_and_without_revoked(database: Database) -> None:
    keys = ApiKeyRepository(database)
    made = [keys.create(f"client {i}", role, created_by="cli") for i, role in enumerate(Role)]
    keys.revoke(made[1].key.id)
    assert [k.name for k in keys.list()] == [f"client {i}" for i in range(len(Role))]
    assert [k.id for k in keys.list(include_revoked=False)] == [m.key.id for i, m in enumerate(made) if i != 1]
    assert keys.get(made[2].key.id).role == list(Role)[2]


def test_a_key_needs_a_name(database: Database) -> None:
    with pytest.raises(ValueError, match="name"):
        ApiKeyRepository(database).create("   ", Role.screener, created_by="cli")


def test_first_admin_key_is_created_once(database: Database) -> None:
    keys = ApiKeyRepository(database)
    issued = keys.create_bootstrap_admin()
    assert issued is not None
    assert issued.key.role is Role.admin
    assert issued.key.created_by == "bootstrap"
    assert keys.authenticate(issued.secret) is not None
    assert keys.create_bootstrap_admin() is None
    # Even with every key revoked, the service does not hand out a new one by itself.
    keys.revoke(issued.key.id)
    assert keys.create_bootstrap_admin() is None


def test_no_first_admin_key_when_keys_already_exist(database: Database) -> None:
    keys = ApiKeyRepository(database)
    keys.create("made by hand", Role.admin, created_by="cli")
    assert keys.create_bootstrap_admin() is None
    assert len(keys.list()) == 1


def test_first_admin_key_is_race_safe(database_url: str) -> None:
    """Server workers starting together (each with its own connections) create exactly one key."""
    workers = 6
    barrier = threading.Barrier(workers)
    outcomes: list[object] = []
    lock = threading.Lock()

    def start_worker() -> None:
        db = Database(database_url)
        try:
            barrier.wait()
            outcome: object = ApiKeyRepository(db).create_bootstrap_admin()
        except Exception as exc:  # collected and asserted below
            outcome = exc
        finally:
            db.dispose()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=start_worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert errors == []
    assert sum(o is not None for o in outcomes) == 1
    check = Database(database_url)
    try:
        assert len(ApiKeyRepository(check).list()) == 1
    finally:
        check.dispose()
