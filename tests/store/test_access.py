"""Roles grant permissions; principals are checked by permission, never by role name."""

from __future__ import annotations

import pytest

from service.store import ROLE_PERMISSIONS, Permission, Principal, PrincipalKind, Role


def test_every_role_has_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_admin_holds_every_permission() -> None:
    assert ROLE_PERMISSIONS[Role.admin] == frozenset(Permission)


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.screener, {Permission.screen, Permission.read_own_screenings, Permission.read_pack}),
    (Role.reviewer, {Permission.read_pack, Permission.read_pack_entries, Permission.read_own_screenings,
                     Permission.read_all_screenings}),
    (Role.approver, {Permission.read_pack, Permission.read_pack_entries, Permission.read_own_screenings,
                     Permission.read_all_screenings}),
    (Role.admin, set(Permission)),
])
def test_role_matrix(role: Role, allowed: set[Permission]) -> None:
    principal = Principal.for_api_key(7, "client", role)
    assert {p for p in Permission if principal.can(p)} == allowed


def test_key_principal_labels() -> None:
    principal = Principal.for_api_key(12, "orders", Role.screener)
    assert principal.actor == "key:12"
    assert principal.api_key_id == 12


def test_user_principal_is_not_an_api_key() -> None:
    user = Principal(PrincipalKind.user, 3, "alice", frozenset({Role.reviewer, Role.approver}))
    assert user.actor == "user:3"
    assert user.api_key_id is None
    assert user.can(Permission.read_all_screenings)
    assert not user.can(Permission.screen)


def test_anonymous_principal_is_admin_by_default() -> None:
    anonymous = Principal.anonymous()
    assert anonymous.actor == "anonymous"
    assert anonymous.api_key_id is None
    assert all(anonymous.can(p) for p in Permission)
