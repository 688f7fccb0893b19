"""``screening lists import|status|diff``: official sanctions lists on the command line.

Register on the main Typer app with ``register(app)``. Settings come from the environment (``SCREENING_*``),
read once here at the edge; ``--data-dir`` overrides ``SCREENING_DATA_DIR``.

An import rescreens the monitored parties its changes could affect (``--rescreen``, on by default) when there
is a store to rescreen: ``SCREENING_DATABASE_URL`` is set, or the SQLite store in the data folder exists. An
import never creates a store, and a rescreen that cannot run does not undo the import (exit code 4 says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from service.errors import ListImportError, PackError, StoreError
from service.lists.diff import ListDiff, diff_lists
from service.lists.importer import SOURCES, import_list, timed_import
from service.lists.model import CompiledList
from service.lists.storage import SUFFIX, compiled_path, list_status, load_compiled_list, save_compiled_list
from service.rulepack.spec import PartySpec
from service.settings import Settings

lists_app = typer.Typer(help="Import official sanctions lists, check their age, compare versions.",
                        no_args_is_help=True)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", help="Data folder holding lists/ (default: SCREENING_DATA_DIR or the per-user data folder).")]


def register(app: typer.Typer) -> None:
    """Add the ``lists`` command group to the ``screening`` app."""
    app.add_typer(lists_app, name="lists")


def _data_dir(override: Path | None) -> Path:
    return override if override is not None else Settings().data_dir


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"


#: Exit code of an import that succeeded but whose rescreen did not run to the end.
RESCREEN_FAILED = 4


@lists_app.command("import")
def import_command(
    source: Annotated[str, typer.Argument(help=f"One of: {', '.join(SOURCES)}.")],
    path: Annotated[Path, typer.Argument(help="The list file, or the folder holding its files.")],
    data_dir: DataDirOption = None,
    rescreen: Annotated[bool, typer.Option(
        "--rescreen/--no-rescreen", help="Then rescreen the monitored parties the list's changes could affect "
                                         "(when a store exists; exit code 4 if that fails).")] = True,
) -> None:
    """Import an official list and store it compiled in the data folder (all or nothing), then rescreen
    what its changes could affect."""
    if source not in SOURCES:
        raise _fail(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}", 2)
    folder = _data_dir(data_dir)
    settings = Settings(data_dir=folder) if data_dir is not None else Settings()
    target = compiled_path(folder, SOURCES[source].value)
    try:
        compiled, seconds = timed_import(source, path)
        store = _store_url(settings) if rescreen else None
        previous = _previous_entries(target) if store else None
        written = save_compiled_list(compiled, folder)
    except ListImportError as exc:
        kept = f"; the previous list in {target} is unchanged" if target.is_file() else "; nothing was written"
        raise _fail(f"{exc}{kept}") from None
    except OSError as exc:
        raise _fail(f"cannot write {target}: {exc}") from None
    meta = compiled.meta
    out.print(f"Imported [bold]{meta.name}[/]: {meta.title}")
    out.print(f"  format      {meta.source_format} ({', '.join(meta.source_files)})")
    out.print(f"  published   {meta.published.isoformat() if meta.published else 'not given by the format'}")
    by_type = ", ".join(f"{count:,} {kind}" for kind, count in meta.counts_by_type.items())
    out.print(f"  entries     {meta.entry_count:,} ({by_type})")
    for reason, count in meta.skipped.items():
        out.print(f"  skipped     {count:,} {reason}")
    if meta.unresolved_countries:
        total = sum(meta.unresolved_countries.values())
        sample = ", ".join(list(meta.unresolved_countries)[:5])
        out.print(f"  countries   {total:,} values not mapped to a country code (e.g. {sample})")
    out.print(f"  digest      {meta.source_digest}")
    out.print(f"  written     {written} ({_size(written)}) in {seconds:.1f} s")
    if not rescreen:
        return
    if store is None:
        out.print("  rescreen    skipped: no store (set SCREENING_DATABASE_URL, or screen or serve once to create "
                  "the SQLite store in the data folder)")
        return
    _rescreen_after_import(settings, store, meta.name, previous)


def _store_url(settings: Settings) -> str | None:
    """The store to rescreen in, or None when there is none (an import never creates one)."""
    url = settings.resolved_database_url()
    if settings.database_url:
        return url
    return url if Path(url.removeprefix("sqlite:///")).is_file() else None


def _previous_entries(target: Path) -> dict[str, list[PartySpec]]:
    """The version the import replaces, by list name: empty when there was none (every entry is new), left
    out when it cannot be read (the rescreen then relies on the store's baseline)."""
    name = target.name.removesuffix(SUFFIX)
    if not target.is_file():
        return {name: []}
    try:
        return {name: load_compiled_list(target).entries}
    except ListImportError as exc:
        err.print(f"note: the previous {name} cannot be read ({exc}); the rescreen relies on the store's baseline",
                  markup=False)
        return {}


def _rescreen_after_import(settings: Settings, url: str, name: str,
                           previous: dict[str, list[PartySpec]] | None) -> None:
    from service.engine import Screener
    from service.lists.loading import load_configured_pack
    from service.review.commands import cli_actor, print_report
    from service.review.rescreen import Trigger, plan_changes, run_rescreen
    from service.store import open_database

    try:
        pack = load_configured_pack(settings)
    except PackError as exc:
        err.print("[bold red]rescreen not run:[/] the pack or its lists do not load; fix them, then run "
                  "'screening rescreen':", markup=True)
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(RESCREEN_FAILED) from None
    if name not in pack.party_lists:
        out.print(f"  rescreen    skipped: the pack does not screen with {name} (add it to imported_lists or "
                  "SCREENING_IMPORTED_LISTS)")
        return
    try:
        database = open_database(url)
        try:
            report = run_rescreen(database, Screener(pack), plan_changes(previous, full_when_unknown=False),
                                  trigger=Trigger.list_import.value, actor=cli_actor())
        finally:
            database.dispose()
    except StoreError as exc:
        err.print(f"[bold red]rescreen failed:[/] {exc}; the list is imported, run 'screening rescreen' once the "
                  "store answers", markup=True)
        raise typer.Exit(RESCREEN_FAILED) from None
    out.print()
    print_report(report, out)


@lists_app.command("status")
def status_command(
    data_dir: DataDirOption = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    strict: Annotated[bool, typer.Option(help="Exit with code 1 when a list is stale or unreadable.")] = False,
) -> None:
    """Each imported list: publication date, entries, digest, age in days and whether it is stale."""
    folder = _data_dir(data_dir)
    max_age = Settings().list_max_age_days
    statuses = list_status(folder, max_age)
    if output_format == "json":
        rows = [{"name": s.name, "path": str(s.path), "error": s.error,
                 "published": s.meta.published.isoformat() if s.meta and s.meta.published else None,
                 "imported_at": s.meta.imported_at.isoformat() if s.meta else None,
                 "entries": s.meta.entry_count if s.meta else None,
                 "digest": s.meta.source_digest if s.meta else None,
                 "age_days": s.age_days, "age_basis": s.age_basis, "stale": s.stale} for s in statuses]
        out.print_json(json.dumps(rows))
    elif not statuses:
        out.print(f"No imported lists in {folder / 'lists'}; run 'screening lists import SOURCE FILE'.")
    else:
        table = Table(title=f"Imported lists in {folder / 'lists'} (stale after {max_age} days)")
        for column in ("list", "published", "imported", "entries", "digest", "age", "status"):
            table.add_column(column, justify="right" if column in ("entries", "age") else "left")
        for s in statuses:
            if s.meta is None:
                table.add_row(s.name, "", "", "", "", "", f"[red]unreadable: {s.error}[/]")
                continue
            table.add_row(s.meta.name, s.meta.published.isoformat() if s.meta.published else "-",
                          s.meta.imported_at.strftime("%Y-%m-%d %H:%M"), f"{s.meta.entry_count:,}",
                          s.meta.source_digest.removeprefix("sha256:")[:16],
                          f"{s.age_days} d ({s.age_basis})", "[red]stale[/]" if s.stale else "ok")
        out.print(table)
    if strict and any(s.stale for s in statuses):
        raise typer.Exit(1)


def _load_side(value: str, source: str | None, folder: Path) -> CompiledList:
    """A side of a diff: a compiled file, an imported list's name, or (with --source) a publication."""
    path = Path(value)
    if source is not None:
        return import_list(source, path)
    if path.is_file() and path.name.endswith(SUFFIX):
        return load_compiled_list(path)
    named = compiled_path(folder, value)
    if not path.exists() and named.is_file():
        return load_compiled_list(named)
    raise ListImportError(f"{value}: not a compiled list ({SUFFIX}) nor the name of an imported list; to "
                          "compare list publications give --source")


def _print_diff(diff: ListDiff, limit: int) -> None:
    out.print(f"{len(diff.added):,} added, {len(diff.removed):,} removed, {len(diff.changed):,} changed, "
              f"{len(diff.updated):,} updated (no matching field changed), {diff.unchanged:,} unchanged")
    for title, entries in (("Added", diff.added), ("Removed", diff.removed)):
        if entries:
            out.print(f"\n[bold]{title}[/]")
            for entry in entries[:limit]:
                out.print(f"  {entry.id}  {entry.name} ({entry.type})", markup=False)
            if len(entries) > limit:
                out.print(f"  ... and {len(entries) - limit:,} more")
    for title, changes in (("Changed", diff.changed), ("Updated", diff.updated)):
        if changes:
            out.print(f"\n[bold]{title}[/]")
            for change in changes[:limit]:
                out.print(f"  {change.id}  {change.new.name}", markup=False)
                for detail in change.details:
                    out.print(f"      {detail}", markup=False)
            if len(changes) > limit:
                out.print(f"  ... and {len(changes) - limit:,} more")


@lists_app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="Older version: a compiled .json.gz file, an imported list's "
                                            "name, or with --source a list file or folder.")],
    new: Annotated[str, typer.Argument(help="Newer version, given the same way.")],
    source: Annotated[str | None, typer.Option(help=f"Read OLD and NEW as publications of this source "
                                                    f"({', '.join(SOURCES)}).")] = None,
    data_dir: DataDirOption = None,
    limit: Annotated[int, typer.Option(min=0, help="Entries shown per section.")] = 50,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Entries added, removed and changed (name, alias, identifier, country, type or flag) between versions."""
    if source is not None and source not in SOURCES:
        raise _fail(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}", 2)
    folder = _data_dir(data_dir)
    try:
        before, after = _load_side(old, source, folder), _load_side(new, source, folder)
    except ListImportError as exc:
        raise _fail(str(exc)) from None
    if before.meta.name != after.meta.name:
        err.print(f"note: comparing two different lists ({before.meta.name} and {after.meta.name})")
    diff = diff_lists(before, after)
    if output_format == "json":
        out.print_json(json.dumps({
            "old": before.meta.model_dump(mode="json"), "new": after.meta.model_dump(mode="json"),
            "added": [e.id for e in diff.added], "removed": [e.id for e in diff.removed],
            "changed": [{"id": c.id, "fields": list(c.fields), "details": list(c.details)} for c in diff.changed],
            "updated": [{"id": c.id, "fields": list(c.fields), "details": list(c.details)} for c in diff.updated],
            "unchanged": diff.unchanged}))
    else:
        _print_diff(diff, limit)
