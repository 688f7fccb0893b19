"""A batch run from start to finish: check the arguments, read inputs in chunks, screen them on a runner,
append outcomes in input order, keep the journal, finish the outputs, report, and choose the exit code."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console

from service.batch.journal import Journal, read_journal, write_journal
from service.batch.mapping import ColumnMapping, load_mapping
from service.batch.packs import load_run_pack
from service.batch.progress import ProgressMode, RunProgress
from service.batch.readers import InputFile, input_fingerprint, open_input, read_chunks
from service.batch.report import RunFacts, build_summary, write_report
from service.batch.runners import ChunkRunner, DaskRunner, LocalRunner
from service.batch.store_sink import StoreSink
from service.batch.worker import ChunkStats, ChunkTask, RunContext
from service.batch.writers import (
    OutputLock,
    OutputPaths,
    OutputWriter,
    discard_partials,
    output_format,
    prepare_finals,
    rename_finals,
    summary_format,
)
from service.errors import BatchError, PackError

if TYPE_CHECKING:
    from service.rulepack import Pack
    from service.settings import Settings

log = logging.getLogger(__name__)

#: Most payload bytes in one chunk, so a file of very large records still moves in modest pieces.
MAX_CHUNK_BYTES = 8_000_000


class ExitCode(IntEnum):
    """Exit codes of ``screening batch`` (``--fail-on`` wins over bad rows when both apply)."""

    done = 0
    fail_on = 1
    usage = 2
    bad_rows = 3
    failed = 4


@dataclass(frozen=True)
class BatchOptions:
    """The arguments of one run (see ``screening batch --help``)."""

    inputs: tuple[Path, ...]
    out: Path
    mapping: Path | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    report: Path | None = None
    resume: bool = False
    fail_on: Literal["review", "block"] | None = None
    store: bool = False
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    chunk_size: int = 1000
    screened_at: datetime | None = None
    progress: ProgressMode = "auto"
    log_every: float = 10.0
    pack_path: Path | None = None


@dataclass
class BatchOutcome:
    """How a run ended: the exit code, the counts, and the files it left."""

    exit_code: ExitCode
    stats: ChunkStats
    outputs: dict[str, Path]
    summary: dict[str, Any]
    wall_seconds: float
    resumed: bool


@dataclass
class _Plan:
    options: BatchOptions
    paths: OutputPaths
    mapping: ColumnMapping
    inputs: list[InputFile]
    pack: Pack
    digest: str
    settings_key: dict[str, Any]


def _validate(options: BatchOptions, settings: Settings) -> _Plan:
    """Every check that can fail before any work starts; BatchError (a usage error) names what is wrong."""
    if not options.inputs:
        raise BatchError("give at least one input file")
    if options.workers < 1:
        raise BatchError("--workers must be at least 1")
    if options.chunk_size < 1:
        raise BatchError("--chunk-size must be at least 1")
    if options.scheduler and options.engine != "dask":
        raise BatchError("--scheduler only applies with --engine dask")
    out_format = output_format(options.out)
    if not options.out.parent.is_dir():
        raise BatchError(f"--out {options.out}: folder {options.out.parent} does not exist")
    paths = OutputPaths(options.out, out_format)
    resolved_inputs = {p.resolve() for p in options.inputs}
    for written in [*paths.finals, paths.journal, *paths.staging.values()]:
        if written.resolve() in resolved_inputs:
            raise BatchError(f"--out {options.out} would overwrite the input {written}")
    if options.report is not None:
        if options.report.suffix.lower() not in (".html", ".htm"):
            raise BatchError(f"--report {options.report}: the report is an .html file")
        if not options.report.parent.is_dir():
            raise BatchError(f"--report {options.report}: folder {options.report.parent} does not exist")
    mapping = load_mapping(options.mapping) if options.mapping else ColumnMapping.default()
    inputs = [open_input(path, mapping) for path in options.inputs]
    for source in inputs:
        for warning in source.warnings:
            log.warning("%s", warning)
    try:
        pack = load_run_pack(settings, options.pack_path)
    except PackError as exc:
        raise BatchError(f"the rule pack at {options.pack_path or settings.pack_path} is invalid:\n{exc}") from None
    settings_key = {"out": str(options.out.resolve()), "format": out_format.value, "mapping": mapping.digest}
    return _Plan(options, paths, mapping, inputs, pack, pack.info.digest, settings_key)


def _start_journal(plan: _Plan) -> tuple[Journal, bool]:
    """The journal to run under: the interrupted run's (``--resume``) or a new one. Returns (journal, resumed)."""
    options, paths = plan.options, plan.paths
    fingerprints = [input_fingerprint(p) for p in options.inputs]
    pack_identity = {"name": plan.pack.info.name, "version": plan.pack.info.version,
                     "digest": plan.digest, "lists": ",".join(sorted(plan.pack.list_digests))}
    if paths.journal.exists():
        if options.resume:
            journal = read_journal(paths.journal)
            _check_resumable(journal, fingerprints, pack_identity, plan.settings_key, options.screened_at)
            journal.attempts += 1
            log.info("resuming run %s after %s records (%d chunks)", journal.run_id, f"{journal.stats.records:,}",
                     journal.chunks_done)
            return journal, True
        log.warning("an interrupted run left %s; starting over (pass --resume to continue it instead)",
                    paths.journal)
    elif options.resume:
        log.info("nothing to resume for %s; starting a new run", options.out)
    now = datetime.now(UTC)
    journal = Journal(run_id=uuid.uuid4().hex[:12], screened_at=options.screened_at or now, started_at=now,
                      pack=pack_identity, inputs=fingerprints, settings=plan.settings_key)
    return journal, False


def _check_resumable(journal: Journal, fingerprints: list[dict[str, Any]], pack: dict[str, str],
                     settings_key: dict[str, Any], screened_at: datetime | None) -> None:
    def refuse(reason: str) -> BatchError:
        return BatchError(f"cannot resume: {reason}; run without --resume to start over")

    if journal.inputs != fingerprints:
        raise refuse("the inputs are not the ones the interrupted run read (names, sizes or times differ)")
    if journal.pack["digest"] != pack["digest"]:
        raise refuse(f"the rule pack or its imported lists changed (was {journal.pack['version']} "
                     f"{journal.pack['digest'][:12]}, now {pack['version']} {pack['digest'][:12]})")
    if journal.settings != settings_key:
        raise refuse("the output format or the mapping file changed")
    if screened_at is not None and screened_at != journal.screened_at:
        raise refuse(f"--screened-at differs from the interrupted run's {journal.screened_at.isoformat()}")


def _tasks(plan: _Plan, journal: Journal, positions: dict[int, tuple[int, int, int, int]]) -> Iterator[ChunkTask]:
    """Chunks from the journal's position onwards. ``positions`` receives, per chunk, the reading position
    after it (input index, offset, row, line) for the journal."""
    seq = journal.chunks_done
    for index in range(journal.input_index, len(plan.inputs)):
        source = plan.inputs[index]
        start = (journal.offset, journal.row, journal.line) if index == journal.input_index else (0, 0, 0)
        name = str(plan.options.inputs[index])
        for chunk in read_chunks(source, plan.mapping, *start, max_rows=plan.options.chunk_size,
                                 max_bytes=MAX_CHUNK_BYTES):
            positions[seq] = (index, chunk.end_offset, chunk.end_row, chunk.end_line)
            yield ChunkTask(seq, index, name, source.kind, source.plan, chunk.block)
            seq += 1


def _progress_units(plan: _Plan, input_index: int, offset: int) -> float:
    done = sum(float(source.size) for source in plan.inputs[:input_index])
    if input_index < len(plan.inputs):
        done += plan.inputs[input_index].progress_units(offset)
    return done


class PreparedRun:
    """A checked run holding its output lock, ready to :meth:`run`. Everything that can be wrong with the
    arguments has been found by the time this exists, so a failure from :meth:`run` is a run failure (the
    journal stays and ``--resume`` continues), never a usage error."""

    def __init__(self, plan: _Plan, lock: OutputLock, journal: Journal, resumed: bool,
                 sink: StoreSink | None, runner: ChunkRunner | None) -> None:
        self.plan = plan
        self.journal = journal
        self.resumed = resumed
        self._lock = lock
        self._sink = sink
        self._runner = runner

    def run(self, console: Console | None = None) -> BatchOutcome:
        """Screen, finish the outputs, write the report; releases the lock whatever happens."""
        plan, journal = self.plan, self.journal
        try:
            clock = _AttemptClock(journal.elapsed_seconds)
            if journal.phase == "running":
                assert self._runner is not None
                _screen(plan, journal, self.resumed, console or Console(stderr=True), clock, self._runner,
                        self._sink)
                if self._sink is not None:
                    log.info("stored %s records in the monitored set and %s screenings with flags in the log",
                             f"{self._sink.monitored:,}", f"{self._sink.logged:,}")
                prepare_finals(plan.paths)
                journal.phase = "finalizing"
                journal.elapsed_seconds = clock.elapsed()
                write_journal(plan.paths.journal, journal)
            # From here every step can be repeated: a run killed while finishing resumes here.
            journal.elapsed_seconds = clock.elapsed()
            outcome = _finish(plan, journal, self.resumed)
            rename_finals(plan.paths)
            plan.paths.journal.unlink(missing_ok=True)
            return outcome
        finally:
            self.release()

    def release(self) -> None:
        """Give the lock, the workers and the store connection back; called by :meth:`run`, or instead of it."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        self._lock.release()


def prepare_batch(options: BatchOptions, settings: Settings) -> PreparedRun:
    """Check arguments, inputs, mapping and pack, take the output lock and decide between a new run and
    resuming; BatchError (a usage error) says what is wrong. No output file is touched yet."""
    plan = _validate(options, settings)
    lock = OutputLock(plan.paths.lock)
    lock.acquire()
    sink: StoreSink | None = None
    try:
        journal, resumed = _start_journal(plan)
        if options.store:
            sink = StoreSink.open(settings, journal.run_id, journal.screened_at, plan.pack)
        runner: ChunkRunner | None = None
        if journal.phase == "running":
            context = RunContext(plan.pack, plan.digest, journal.screened_at, summary_format(plan.paths.format),
                                 store=sink is not None, allow_list=sink.allow_list() if sink is not None else ())
            runner = (LocalRunner(options.workers, context) if options.engine == "local"
                      else DaskRunner(options.workers, context, options.scheduler, journal.run_id))
    except BaseException:
        if sink is not None:
            sink.close()
        lock.release()
        raise
    return PreparedRun(plan, lock, journal, resumed, sink, runner)


def run_batch(options: BatchOptions, settings: Settings, console: Console | None = None) -> BatchOutcome:
    """Prepare and run a batch job (see :func:`prepare_batch` and :meth:`PreparedRun.run`)."""
    return prepare_batch(options, settings).run(console)


class _AttemptClock:
    """Wall time of the run: what earlier attempts recorded plus this attempt's time so far."""

    def __init__(self, before: float) -> None:
        self.before = before
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return self.before + time.monotonic() - self.started


def _screen(plan: _Plan, journal: Journal, resumed: bool, console: Console, clock: _AttemptClock,
            runner: ChunkRunner, sink: StoreSink | None) -> None:
    options, paths = plan.options, plan.paths
    if not resumed:
        discard_partials(paths)
    writer = OutputWriter(paths, journal.outputs if resumed else None)
    progress: RunProgress | None = None
    try:
        if not resumed:
            journal.outputs = writer.commit()
            write_journal(paths.journal, journal)
        log.info("screening %d input file%s on %s, pack %s %s", len(plan.inputs), "" if len(plan.inputs) == 1 else "s",
                 runner.description, plan.pack.info.name, plan.pack.info.version)
        total_units = sum(float(source.size) for source in plan.inputs)
        done_units = _progress_units(plan, journal.input_index, journal.offset)
        progress = RunProgress(options.progress, total_units, done_units, journal.stats.records, console,
                               options.log_every)
        positions: dict[int, tuple[int, int, int, int]] = {}
        for outcome in runner.map(_tasks(plan, journal, positions)):
            writer.append(outcome)
            journal.outputs = writer.commit()
            if sink is not None:
                sink.write(outcome.screened)
            journal.input_index, journal.offset, journal.row, journal.line = positions.pop(outcome.seq)
            journal.chunks_done = outcome.seq + 1
            journal.stats.merge(outcome.stats)
            journal.elapsed_seconds = clock.elapsed()
            write_journal(paths.journal, journal)
            progress.update(_progress_units(plan, journal.input_index, journal.offset), journal.stats)
        journal.input_index, journal.offset, journal.row, journal.line = len(plan.inputs), 0, 0, 0
    finally:
        if progress is not None:
            progress.close()
        writer.close()


def _finish(plan: _Plan, journal: Journal, resumed: bool) -> BatchOutcome:
    options, paths, stats = plan.options, plan.paths, journal.stats
    decisions = stats.decisions
    reached = (options.fail_on == "review" and decisions.get("review", 0) + decisions.get("block", 0) > 0) or (
        options.fail_on == "block" and decisions.get("block", 0) > 0)
    exit_code = ExitCode.fail_on if reached else ExitCode.bad_rows if stats.bad_rows else ExitCode.done
    outputs: dict[str, Path] = {"results": paths.results}
    if paths.summary is not None:
        outputs["summary"] = paths.summary
    outputs["errors"] = paths.errors
    facts = RunFacts(
        run_id=journal.run_id, screened_at=journal.screened_at, started_at=journal.started_at,
        finished_at=datetime.now(UTC), wall_seconds=journal.elapsed_seconds, attempts=journal.attempts,
        engine=options.engine, inputs=[str(p) for p in options.inputs],
        outputs={k: str(v) for k, v in outputs.items()}, fail_on=options.fail_on, exit_code=int(exit_code))
    summary = build_summary(stats, facts, plan.pack)
    if options.report is not None:
        outputs["summary.json"] = write_report(options.report, summary)
        outputs["report"] = options.report
    return BatchOutcome(exit_code, stats, outputs, summary, journal.elapsed_seconds, resumed)
