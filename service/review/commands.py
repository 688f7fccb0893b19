"""``screening users add|disable|reset|list`` and ``screening audit export``.

Register them on the main Typer app with ``register(app)``. Settings come from the environment
(``SCREENING_*``), read once here at the edge. Changes made here are audited with the actor ``cli:<login>``.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Literal

import typer

from service.errors import NotFoundError, RecordError, StoreError
from service.review.audit import audit_csv, audit_json, iter_audit
from service.review.users import create_user, disable_user, list_users, reset_user
from service.settings import Settings
from service.store import Database, Role, open_database

users_app = typer.Typer(help="People who log in to the review UI (argon2-hashed passwords).", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:100]
    except Exception:  # no login name in some containers
        return "cli"


@contextmanager
def _database() -> Iterator[Database]:
    try:
        database = open_database(Settings().resolved_database_url())
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        yield database
    except (RecordError, NotFoundError, StoreError) as exc:
        raise _fail(str(exc)) from None
    finally:
        database.dispose()


def _password(given: str | None, stdin: bool) -> str:
    if given:
        return given
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Again", hide_input=True) != first:
        raise _fail("the passwords differ")
    return str(first)


RoleOption = Annotated[list[Role], typer.Option("--role", help="reviewer, approver or admin (repeat for several).")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line of "
                                                                      "standard input (for scripts).")]


@users_app.command("add")
def add_user(username: Annotated[str, typer.Argument(help="Login name (no spaces).")], role: RoleOption,
             password_stdin: PasswordStdin = False) -> None:
    """Create a user; the password is prompted for (or read from stdin)."""
    password = _password(None, password_stdin)
    with _database() as database:
        user = create_user(database, username, password, role, actor=_actor())
    typer.echo(json.dumps({"id": user.id, "username": user.username, "roles": sorted(user.roles)}))


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end their sessions (users are never deleted; the audit trail names them)."""
    with _database() as database:
        user = disable_user(database, username, actor=_actor())
    typer.echo(json.dumps({"id": user.id, "username": user.username, "active": user.active}))


@users_app.command("reset")
def reset(username: Annotated[str, typer.Argument()], password_stdin: PasswordStdin = False,
          role: Annotated[list[Role] | None, typer.Option("--role", help="Replace the roles too.")] = None) -> None:
    """Set a new password, re-enable the user and lift a lockout (optionally new roles)."""
    password = _password(None, password_stdin)
    with _database() as database:
        user = reset_user(database, username, password, actor=_actor(), roles=role or None)
    typer.echo(json.dumps({"id": user.id, "username": user.username, "roles": sorted(user.roles),
                           "active": user.active}))


@users_app.command("list")
def list_all() -> None:
    """Every user with roles and state, one JSON object a line."""
    with _database() as database:
        for user in list_users(database):
            typer.echo(json.dumps({"id": user.id, "username": user.username, "roles": sorted(user.roles),
                                   "active": user.active,
                                   "locked_until": user.locked_until.isoformat() if user.locked_until else None}))


def _day(text: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option}: expected a date like 2026-01-31 (or an ISO 8601 time), got {text!r}") from None
    if len(text) == 10:
        parsed = datetime.combine(date.fromisoformat(text), time(), UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("export")
def export(since: Annotated[str, typer.Option(help="First day (UTC) or ISO 8601 time to include.")],
           until: Annotated[str | None, typer.Option(help="Stop before this day or time.")] = None,
           format: Annotated[Literal["csv", "json"], typer.Option("--format")] = "csv",
           output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")]
           = None) -> None:
    """Export the audit trail for examiners; CSV cells are neutralised against formula injection."""
    start = _day(since, "--since")
    stop = _day(until, "--until") if until else None
    with _database() as database:
        entries = iter_audit(database, since=start, until=stop)
        chunks = audit_csv(entries) if format == "csv" else audit_json(entries)
        if output is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        partial = output.with_name(output.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(output)  # never leave a half-written export under the final name


def register(app: typer.Typer) -> None:
    """Add ``users`` and ``audit`` to the main command line."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
