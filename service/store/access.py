"""Who may do what: roles, the permissions each role grants, and the principal a request acts as.

A principal is whoever makes a request: an API key today, a logged-in user once the review workflow lands,
or the anonymous developer when authentication is switched off. Handlers ask ``principal.can(permission)``
and never test roles directly, so a new role or a new action is one line in ``ROLE_PERMISSIONS``.

Roles are stored as their string value (no database enum), so adding one needs no migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A named set of permissions; API keys hold one, users may hold several."""

    screener = "screener"
    reviewer = "reviewer"
    approver = "approver"
    admin = "admin"


class Permission(StrEnum):
    """One thing a principal may do. The review workflow adds its own (decide, approve, audit...)."""

    screen = "screen"
    read_own_screenings = "read_own_screenings"
    read_all_screenings = "read_all_screenings"
    read_pack = "read_pack"
    read_pack_entries = "read_pack_entries"
    reload_pack = "reload_pack"
    manage_keys = "manage_keys"


_READ_EVERYTHING = frozenset({
    Permission.read_pack,
    Permission.read_pack_entries,
    Permission.read_own_screenings,
    Permission.read_all_screenings,
})

#: The permissions each role grants. Admin holds every permission.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.screener: frozenset({Permission.screen, Permission.read_own_screenings, Permission.read_pack}),
    Role.reviewer: _READ_EVERYTHING,
    Role.approver: _READ_EVERYTHING,
    Role.admin: frozenset(Permission),
}


class PrincipalKind(StrEnum):
    api_key = "api_key"
    user = "user"
    anonymous = "anonymous"


@dataclass(frozen=True)
class Principal:
    """The caller of one request, with the roles it holds."""

    kind: PrincipalKind
    id: int | None
    name: str
    roles: frozenset[Role]

    def can(self, permission: Permission) -> bool:
        """Whether any of the principal's roles grants ``permission``."""
        return any(permission in ROLE_PERMISSIONS[role] for role in self.roles)

    @property
    def actor(self) -> str:
        """A stable label for logs and audit records: ``key:12``, ``user:3`` or ``anonymous``."""
        if self.kind is PrincipalKind.anonymous or self.id is None:
            return "anonymous"
        return f"{'key' if self.kind is PrincipalKind.api_key else 'user'}:{self.id}"

    @property
    def api_key_id(self) -> int | None:
        """The id of the API key this principal authenticated with, if any."""
        return self.id if self.kind is PrincipalKind.api_key else None

    @classmethod
    def for_api_key(cls, key_id: int, name: str, role: Role) -> Principal:
        return cls(PrincipalKind.api_key, key_id, name, frozenset({role}))

    @classmethod
    def anonymous(cls, roles: Iterable[Role] = (Role.admin,)) -> Principal:
        """The caller when authentication is disabled (local development): allowed everything by default."""
        return cls(PrincipalKind.anonymous, None, "anonymous", frozenset(roles))
