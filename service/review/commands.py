"""``screening users add|disable|reset|list``, ``screening audit export`` and ``screening rescreen``.

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
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from service.errors import ListImportError, NotFoundError, PackError, RecordError, StoreError
from service.review.audit import audit_csv, audit_json, iter_audit
from service.review.users import create_user, disable_user, list_users, reset_user
from service.settings import Settings
from service.store import Database, Role, open_database

if TYPE_CHECKING:
    from service.review.rescreen import RescreenReport

users_app = typer.Typer(help="People who log in to the review UI (argon2-hashed passwords).", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def cli_actor() -> str:
    """``cli:<login>``: who ran a command, for the audit trail."""
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
        user = create_user(database, username, password, role, actor=cli_actor())
    typer.echo(json.dumps({"id": user.id, "username": user.username, "roles": sorted(user.roles)}))


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end their sessions (users are never deleted; the audit trail names them)."""
    with _database() as database:
        user = disable_user(database, username, actor=cli_actor())
    typer.echo(json.dumps({"id": user.id, "username": user.username, "active": user.active}))


@users_app.command("reset")
def reset(username: Annotated[str, typer.Argument()], password_stdin: PasswordStdin = False,
          role: Annotated[list[Role] | None, typer.Option("--role", help="Replace the roles too.")] = None) -> None:
    """Set a new password, re-enable the user and lift a lockout (optionally new roles)."""
    password = _password(None, password_stdin)
    with _database() as database:
        user = reset_user(database, username, password, actor=cli_actor(), roles=role or None)
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


def rescreen(
    all_records: Annotated[bool, typer.Option("--all", help="Screen every monitored record again.")] = False,
    since_list: Annotated[list[Path] | None, typer.Option(
        "--since-list", help="An earlier compiled list file (.json.gz): rescreen what changed between it and the "
                             "same list now (repeat for several lists).")] = None,
    pack: Annotated[Path | None, typer.Option("--pack", help="Rule pack folder (default: SCREENING_PACK_PATH or "
                                                             "the bundled pack).")] = None,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for a rescreen already running (one runs "
                                                    "at a time per store).")] = 0.0,
    output_format: Annotated[Literal["text", "json"], typer.Option("--format", help="text or json.")] = "text",
    show: Annotated[int, typer.Option(min=0, help="Changed records listed (text format).")] = 20,
) -> None:
    """Screen the monitored records again after list or rule changes, opening alerts only where an outcome
    changed.

    By default only what changed since the last rescreen's baseline: changed list entries are diffed and only
    the records whose parties could match them are screened again; changed rules (or no baseline yet) mean
    every record. Every run is recorded (GET /v1/rescreen/last) and audited.
    """
    from service.engine import Screener
    from service.lists.loading import load_configured_pack
    from service.lists.storage import load_compiled_list
    from service.review.rescreen import Trigger, plan_all, plan_changes, plan_since_lists, run_rescreen

    if all_records and since_list:
        raise _fail("--all and --since-list exclude each other", 2)
    settings = Settings()
    try:
        old_lists = [load_compiled_list(path) for path in since_list or ()]
        loaded = load_configured_pack(settings, pack)
    except ListImportError as exc:
        raise _fail(str(exc)) from None
    except PackError as exc:
        raise _fail("the rule pack or its lists do not load:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None
    planner = plan_all() if all_records else plan_since_lists(old_lists) if old_lists else \
        plan_changes(full_when_unknown=True)
    screener = Screener(loaded)
    with _database() as database:
        report = run_rescreen(database, screener, planner, trigger=Trigger.cli.value, actor=cli_actor(), wait=wait)
    if output_format == "json":
        typer.echo(json.dumps(report.as_dict()))
    else:
        print_report(report, Console(highlight=False), show=show)


def print_report(report: RescreenReport, console: Console, *, show: int = 20) -> None:
    """A rescreen's summary for people: why, with what, what was compared, what changed."""
    status = {"finished": "green", "failed": "bold red", "cancelled": "yellow"}.get(report.status, "")
    console.print(Text.assemble(("Rescreen run ", "bold"), (str(report.run_id), "bold"), " ",
                                (report.status, status), f" in {report.seconds:.1f} s ({report.trigger}, "
                                                         f"{report.mode}: {report.reason})"))
    rows = [
        ("pack", f"{report.pack_name} {report.pack_version} (sha256:{report.pack_digest[:16]})"),
        ("lists", "; ".join(f"{name}: {c['added']:,} added, {c['removed']:,} removed, {c['changed']:,} changed"
                            for name, c in report.lists.items()) or "-"),
        ("entries", f"{report.entries_changed:,} changed entries compared"),
        ("monitored", f"{report.monitored_records:,} records, {report.monitored_parties:,} parties and vessels"),
        ("checked", "every monitored record (no look-up needed)" if report.mode == "all" else
                    f"{report.names_analysed:,} distinct names looked up in {report.scan_seconds:.1f} s, "
                    f"{report.candidate_checks:,} name pairs scored"),
        ("candidates", f"{report.candidate_records:,} records to screen again; {report.records_rescreened:,} "
                       "screened"),
        ("changed", f"{report.outcomes_changed:,} outcomes: {report.alerts_opened:,} alerts opened, "
                    f"{report.alerts_updated:,} updated, {report.alerts_reopened:,} reopened, "
                    f"{report.now_clear:,} now clear"),
        ("skipped", f"{report.skipped_newer:,} screened again meanwhile (left alone), "
                    f"{report.unreadable_records:,} no longer readable"),
    ]
    for label, value in rows:
        console.print(Text.assemble(f"  {label:<11} ", value))
    for note in report.notes:
        console.print(Text.assemble(("  note: ", "yellow"), note))
    if report.error:
        console.print(Text.assemble(("  error: ", "bold red"), report.error))
    if report.changes and show:
        table = Table(title=f"Changed outcomes (first {min(show, len(report.changes))} of {len(report.changes):,})",
                      title_justify="left")
        for column in ("record", "before", "after", "alert", "screening"):
            table.add_column(column)
        for change in report.changes[:show]:
            alert = "none (now clear)" if change.alert == "not_flagged" else change.alert
            table.add_row(Text(change.record_id), change.before, change.after, alert, change.screening_id)
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``users``, ``audit`` and ``rescreen`` to the main command line."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command("rescreen")(rescreen)
