"""The ``screening`` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from service import __version__
from service.errors import PackError, RecordError
from service.model import ScreeningResult
from service.settings import Settings

app = typer.Typer(help="Sanctions and export-control screening of parties, goods and routes.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
rules_app = typer.Typer(help="Check, test and describe a rule pack.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

err = Console(stderr=True, soft_wrap=True)

PackOption = Annotated[Path | None, typer.Option("--pack", help="Rule pack folder (default: SCREENING_PACK_PATH "
                                                 "or the bundled pack).")]
PackArgument = Annotated[Path | None, typer.Argument(help="Rule pack folder (default: the configured pack).")]


def _pack_path(settings: Settings, override: Path | None) -> Path:
    return override if override is not None else settings.pack_path


def _load(path: Path, settings: Settings | None = None) -> Any:
    """The pack alone, or with the imported lists it names when ``settings`` are given."""
    from service.rulepack import load_pack

    try:
        if settings is not None:
            from service.lists.loading import load_pack_with_lists

            return load_pack_with_lists(path, settings.data_dir, settings.imported_lists)
        return load_pack(path)
    except PackError as exc:
        err.print(f"[bold red]The rule pack in {path} is invalid:[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _read_records(text: str) -> Iterator[tuple[int, Any]]:
    """One JSON record (possibly pretty-printed), or JSON Lines: (line number, decoded value or error)."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    else:
        if isinstance(whole, dict):
            yield 1, whole
            return
        if isinstance(whole, list):
            yield from enumerate(whole, start=1)
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, exc


@app.command()
def screen(
    file: Annotated[str, typer.Argument(help="A JSON record, a JSON array or JSON Lines; '-' reads stdin.")],
    pack: PackOption = None,
    output_format: Annotated[str, typer.Option("--format", help="json (one result per line) or table.")] = "json",
) -> None:
    """Screen records: one JSON result per input record, in input order."""
    from service.engine import Screener

    if output_format not in {"json", "table"}:
        err.print("--format must be json or table")
        raise typer.Exit(2)
    settings = Settings()
    screener = Screener(_load(_pack_path(settings, pack), settings))
    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    bad = 0
    results: list[ScreeningResult] = []
    for number, data in _read_records(text):
        if isinstance(data, Exception):
            err.print(f"line {number}: not valid JSON: {data}", markup=False, highlight=False)
            bad += 1
            continue
        try:
            result = screener.screen_data(data)
        except RecordError as exc:
            for path, message in exc.errors:
                err.print(f"line {number}: {path}: {message}", markup=False, highlight=False)
            bad += 1
            continue
        if output_format == "json":
            sys.stdout.write(result.model_dump_json() + "\n")
        else:
            results.append(result)
    if output_format == "table":
        _print_results(results)
    if bad:
        raise typer.Exit(3)


def _print_results(results: list[ScreeningResult]) -> None:
    console = Console()
    colours = {"block": "bold red", "review": "yellow", "clear": "green"}
    for result in results:
        header = Text(result.record_id, style="bold")
        header.append(f"  {result.decision.upper()}", style=colours[result.decision])
        header.append(f"  risk {result.risk_score}")
        console.print(header)
        if not result.flags:
            continue
        table = Table(show_header=True, header_style="bold", expand=True)
        table.add_column("rule")
        table.add_column("action")
        table.add_column("reason", ratio=3)
        table.add_column("evidence", ratio=2)
        for flag in result.flags:
            evidence = "\n".join(f"{e.field} = {e.value!r} ~ {e.matched or '-'} ({e.score:.2f}, {e.method})"
                                 for e in flag.evidence)
            # Text(), not markup: reasons quote list entries as [id], which rich would read as style tags.
            table.add_row(Text(flag.rule), Text(f"{flag.action} / {flag.severity}"), Text(flag.reason),
                          Text(evidence))
        console.print(table)


@rules_app.command("check")
def rules_check(path: PackArgument = None) -> None:
    """Validate a pack: every problem as 'file: entry: field: message', then counts and warnings."""
    from service.rulepack.load import alias_collisions

    settings = Settings()
    loaded = _load(_pack_path(settings, path))
    console = Console()
    console.print(f"[green]ok[/] {loaded.info.name} {loaded.info.version} sha256:{loaded.info.digest[:16]}")
    for key, value in loaded.counts.items():
        console.print(f"  {key:16} {value}")
    for warning in [*loaded.warnings, *alias_collisions(loaded)]:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


@rules_app.command("test")
def rules_test(path: PackArgument = None,
               rule: Annotated[list[str] | None, typer.Option(help="Only these rule ids.")] = None) -> None:
    """Run every rule's cases; exit 1 when a case does not behave as written."""
    from service.engine import Screener, run_cases

    settings = Settings()
    screener = Screener(_load(_pack_path(settings, path)))
    outcomes = run_cases(screener, set(rule) if rule else None)
    console = Console(soft_wrap=True)
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        want = "fire" if outcome.expected_fire else "not fire"
        console.print(f"[red]FAIL[/] {outcome.rule}: {outcome.case}: expected to {want}; "
                      f"decision {outcome.decision}", highlight=False)
    console.print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@rules_app.command("schema")
def rules_schema(write: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None
                 ) -> None:
    """The JSON schema of pack files (what rules/schema.json holds)."""
    from service.rulepack.schema import schema_text

    text = schema_text()
    if write is None:
        sys.stdout.write(text)
    else:
        write.write_text(text, encoding="utf-8")


@rules_app.command("stats")
def rules_stats(path: PackArgument = None) -> None:
    """A summary table of the pack: entries, names, codes, rules and sources."""
    from service.rulepack.stats import pack_stats

    settings = Settings()
    loaded = _load(_pack_path(settings, path))
    table = Table(title=f"{loaded.info.name} {loaded.info.version}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    for what, count, detail in pack_stats(loaded):
        table.add_row(what, str(count), detail)
    Console().print(table)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def _register_adapters() -> None:
    """Commands of the adapters (lists, API, batch), each in its own module."""
    from service.api.commands import register as register_api
    from service.batch.commands import register as register_batch
    from service.lists.commands import register as register_lists
    from service.review.commands import register as register_review

    register_api(app)
    register_lists(app)
    register_batch(app)
    register_review(app)


_register_adapters()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
