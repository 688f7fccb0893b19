"""``screening batch``: screen files of records (JSONL, CSV, Parquet) locally or on a Dask cluster.

Register with ``service.batch.commands.register(app)``. ``screening batch INPUT... --out OUT`` runs a job
(the ``run`` subcommand is implied); ``screening batch mapping FILE.csv`` proposes a mapping file.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from service.batch.job import BatchOptions, BatchOutcome, ExitCode, prepare_batch
from service.errors import BatchError, ScreeningError
from service.settings import Settings

log = logging.getLogger("service.batch")


class _DefaultRunGroup(TyperGroup):
    """A group whose default subcommand is ``run``: ``batch a.csv --out r.csv`` means ``batch run a.csv ...``,
    while ``batch mapping FILE`` reaches the mapping subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the click Context typer vendors
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


class FailOn(StrEnum):
    review = "review"
    block = "block"


class EngineChoice(StrEnum):
    local = "local"
    dask = "dask"


class ProgressChoice(StrEnum):
    auto = "auto"
    bar = "bar"
    log = "log"
    none = "none"


batch_app = typer.Typer(
    cls=_DefaultRunGroup, no_args_is_help=True,
    help="Screen files of records: `screening batch INPUT... --out OUTPUT` (short for `batch run`; its options: "
         "`batch run --help`), or propose a CSV mapping with `screening batch mapping FILE.csv`. Exit codes: "
         "0 done, 1 --fail-on threshold reached, 2 usage error, 3 finished with bad rows, 4 run failed (rerun "
         "with --resume).",
)


def register(app: typer.Typer) -> None:
    """Add the ``batch`` command group to the ``screening`` application."""
    app.add_typer(batch_app, name="batch")


def _parse_timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BatchError(f"--screened-at {text!r} is not an ISO 8601 timestamp (e.g. 2025-01-31T02:00:00Z)") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _configure_logging(settings: Settings) -> None:
    # The service's own logging setup wins when the application configured one already.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("service.batch").setLevel(settings.log_level.upper())


@batch_app.command("run")
def run_command(
    inputs: Annotated[list[Path], typer.Argument(help="Input files: .jsonl/.ndjson, .csv/.tsv or .parquet.",
                                                 metavar="INPUT", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: .jsonl (full results) or .csv/.parquet "
                                      "(one summary row per record, full results in OUT.results.jsonl).")],
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m", help="YAML mapping of CSV/Parquet columns "
                                                 "to record fields (default: the default layout).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Worker processes (default: cores).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report here, and summary.json "
                                                "beside it.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run of the same inputs and "
                                         "output (starts a new run when there is nothing to resume).")] = False,
    fail_on: Annotated[FailOn | None, typer.Option("--fail-on", help="Exit 1 when any record is at least this "
                                                   "decision.")] = None,
    store: Annotated[bool, typer.Option("--store", help="Feed the store: every record to the monitored set, "
                                         "results with flags to the screening log and review queue, with the "
                                         "allow-list applied (in the output files too).")] = False,
    engine: Annotated[EngineChoice, typer.Option("--engine", help="Where chunks are screened.")] = EngineChoice.local,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786); "
                                                  "default: a local cluster.")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Records per chunk (the unit of work and of "
                                            "--resume).")] = 1000,
    screened_at: Annotated[str | None, typer.Option("--screened-at", help="Timestamp for every result (ISO 8601); "
                                                    "default: the start of the run.")] = None,
    progress: Annotated[ProgressChoice, typer.Option("--progress", help="auto: a bar on a terminal, log lines "
                                                     "otherwise.")] = ProgressChoice.auto,
    log_every: Annotated[float, typer.Option("--log-every", help="Seconds between progress log lines.")] = 10.0,
    pack: Annotated[Path | None, typer.Option("--pack", help="Rule pack folder (default: SCREENING_PACK_PATH or "
                                              "the bundled pack).")] = None,
) -> None:
    """Screen INPUT files into OUTPUT, in chunks, on local worker processes or a Dask cluster."""
    settings = Settings()
    _configure_logging(settings)
    out_console = Console()
    err_console = Console(stderr=True, soft_wrap=True)
    try:
        options = BatchOptions(
            inputs=tuple(inputs), out=out, mapping=mapping,
            workers=workers if workers is not None else os.cpu_count() or 1, report=report, resume=resume,
            fail_on=_literal(fail_on), store=store,
            engine="dask" if engine is EngineChoice.dask else "local",
            scheduler=scheduler, chunk_size=chunk_size, screened_at=_parse_timestamp(screened_at),
            progress=_progress_mode(progress), log_every=log_every, pack_path=pack)
        prepared = prepare_batch(options, settings)
    except BatchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(int(ExitCode.usage)) from None
    try:
        outcome = prepared.run(err_console)
    except KeyboardInterrupt:
        err_console.print(f"[yellow]interrupted[/]: rerun with --resume to continue from {out}.journal")
        raise typer.Exit(130) from None
    except (ScreeningError, OSError) as exc:
        err_console.print(f"[bold red]run failed:[/] {exc}\nFinished chunks are kept; rerun with --resume to continue.",
                          highlight=False)
        raise typer.Exit(int(ExitCode.failed)) from None
    _print_summary(out_console, outcome)
    raise typer.Exit(int(outcome.exit_code))


def _literal(fail_on: FailOn | None) -> Literal["review", "block"] | None:
    return None if fail_on is None else "review" if fail_on is FailOn.review else "block"


def _progress_mode(choice: ProgressChoice) -> Literal["auto", "bar", "log", "none"]:
    modes: dict[ProgressChoice, Literal["auto", "bar", "log", "none"]] = {
        ProgressChoice.bar: "bar", ProgressChoice.log: "log", ProgressChoice.none: "none"}
    return modes.get(choice, "auto")


def _print_summary(console: Console, outcome: BatchOutcome) -> None:
    counts: dict[str, Any] = outcome.summary["counts"]
    run: dict[str, Any] = outcome.summary["run"]
    table = Table(title="Batch screening", show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("records", f"{counts['records']:,}")
    table.add_row("screened", f"{counts['screened']:,}")
    table.add_row("[red]block[/]", f"{counts['decisions']['block']:,}")
    table.add_row("[yellow]review[/]", f"{counts['decisions']['review']:,}")
    table.add_row("[green]clear[/]", f"{counts['decisions']['clear']:,}")
    table.add_row("bad rows", f"{counts['bad_rows']:,}")
    rate = run["records_per_second"]
    table.add_row("wall time", f"{outcome.wall_seconds:,.1f} s" + (f" ({rate:,.0f} records/s)" if rate else ""))
    if run["attempts"] > 1:
        table.add_row("attempts", f"{run['attempts']} (resumed)")
    for name, path in outcome.outputs.items():
        table.add_row(name, str(path))
    table.add_row("exit code", f"{int(outcome.exit_code)} ({outcome.exit_code.name})")
    console.print(table)


@batch_app.command("mapping")
def mapping_command(
    file: Annotated[Path, typer.Argument(help="A CSV (or flat Parquet) export whose header to read.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the mapping here instead of stdout.")] = None,
) -> None:
    """Propose a mapping file from the header of FILE; review it, then pass it with --mapping."""
    import yaml

    from service.batch.mapping import mapping_from_data, propose_mapping
    from service.batch.readers import read_header

    err_console = Console(stderr=True, soft_wrap=True)
    try:
        header = read_header(file)
        text = propose_mapping(header, str(file))
        try:
            mapping_from_data(yaml.safe_load(text), "proposal", "proposal")
        except BatchError as exc:
            # Still worth writing: the operator completes it (typically: which column is the record id).
            err_console.print(f"[yellow]the proposal needs editing before use:[/] {exc}", highlight=False)
        if out is None:
            sys.stdout.write(text)
            return
        if out.exists():
            raise BatchError(f"{out} exists; choose another name or delete it")
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {out}; review it, then run: screening batch {file} --mapping {out} --out ...",
                          highlight=False)
    except BatchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(int(ExitCode.usage)) from None
