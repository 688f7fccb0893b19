"""Output files: written under temporary names in the output's folder and renamed only when complete.

For ``--out OUT``:

* ``OUT.jsonl`` / ``OUT.ndjson``: one full ``ScreeningResult`` per line, in input order.
* ``OUT.csv`` / ``OUT.parquet``: one summary row per record (:data:`SUMMARY_COLUMNS`), and the full results
  beside it in ``OUT.csv.results.jsonl`` / ``OUT.parquet.results.jsonl``.
* Always ``OUT.errors.jsonl``: one line per bad row (empty when there were none), so a stale file from an
  earlier run never survives.

While running, each file ``F`` is written as ``.F.partial`` in the same folder (the Parquet summary is
staged as ``.F.rows.partial``, JSON arrays, and converted when the run completes); the journal is
``OUT.journal`` and a lock ``.OUT.lock`` keeps two runs from writing the same output.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from service.batch.journal import fsync_directory
from service.batch.worker import SUMMARY_COLUMNS, ChunkOutcome, SummaryFormat, csv_text
from service.errors import BatchError

PARQUET_ROW_GROUP = 65_536


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


_EXTENSIONS = {".jsonl": OutputFormat.jsonl, ".ndjson": OutputFormat.jsonl, ".csv": OutputFormat.csv,
               ".parquet": OutputFormat.parquet}


def output_format(path: Path) -> OutputFormat:
    """The output format, from the extension of ``--out``; BatchError for anything else."""
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise BatchError(f"--out {path}: unknown output format {path.suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(sorted(_EXTENSIONS))}")
    return found


def summary_format(out_format: OutputFormat) -> SummaryFormat:
    """How workers encode summary rows for this output: CSV rows, JSON arrays staged for Parquet, or none."""
    if out_format is OutputFormat.csv:
        return "csv"
    if out_format is OutputFormat.parquet:
        return "json"
    return "none"


@dataclass(frozen=True)
class OutputPaths:
    """The final and temporary names of every file a run writes."""

    out: Path
    format: OutputFormat

    @property
    def results(self) -> Path:
        return self.out if self.format is OutputFormat.jsonl else self.out.with_name(self.out.name + ".results.jsonl")

    @property
    def summary(self) -> Path | None:
        return None if self.format is OutputFormat.jsonl else self.out

    @property
    def errors(self) -> Path:
        return self.out.with_name(self.out.name + ".errors.jsonl")

    @property
    def journal(self) -> Path:
        return self.out.with_name(self.out.name + ".journal")

    @property
    def lock(self) -> Path:
        return self.out.with_name(f".{self.out.name}.lock")

    @staticmethod
    def partial(path: Path) -> Path:
        return path.with_name(f".{path.name}.partial")

    @property
    def staging(self) -> dict[str, Path]:
        """Temporary file per stream (the keys the journal records sizes under)."""
        files = {"results": self.partial(self.results), "errors": self.partial(self.errors)}
        if self.format is OutputFormat.csv:
            files["summary"] = self.partial(self.out)
        elif self.format is OutputFormat.parquet:
            files["summary"] = self.out.with_name(f".{self.out.name}.rows.partial")
        return files

    @property
    def finals(self) -> list[Path]:
        """The files a completed run leaves, in the order they are renamed into place."""
        return [p for p in (self.results, self.summary, self.errors) if p is not None]


class OutputLock:
    """An exclusive lock on an output name, held for the whole run (released when the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[bytes] | None = None

    def acquire(self) -> None:
        stream = self.path.open("ab")
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.close()
            raise BatchError(f"another batch run is writing {self.path.name.removeprefix('.').removesuffix('.lock')}"
                             f" (lock {self.path})") from None
        self._stream = stream

    def release(self) -> None:
        """Remove the lock file and unlock. (Removing it while still holding the lock means a later run
        creates a fresh file rather than inheriting one; the lock itself is what keeps runs apart.)"""
        if self._stream is None:
            return
        self.path.unlink(missing_ok=True)
        self._stream.close()
        self._stream = None


class OutputWriter:
    """Appends chunk outcomes to the temporary files and makes them durable on :meth:`commit`."""

    def __init__(self, paths: OutputPaths, committed: dict[str, int] | None) -> None:
        """Open the temporary files: fresh ones (``committed`` None) or, to resume, the existing ones cut
        back to the sizes the journal recorded."""
        self.paths = paths
        self._streams: dict[str, IO[bytes]] = {}
        for key, path in paths.staging.items():
            stream: IO[bytes]
            if committed is None:
                stream = path.open("wb")
            else:
                size = committed.get(key)
                try:
                    stream = path.open("r+b")
                except FileNotFoundError:
                    raise BatchError(f"cannot resume: {path} is missing; run without --resume") from None
                actual = os.fstat(stream.fileno()).st_size
                if size is None or actual < size:
                    stream.close()
                    raise BatchError(f"cannot resume: {path} holds {actual} bytes, the journal expects "
                                     f"{size}; run without --resume")
                stream.truncate(size)
                stream.seek(size)
            self._streams[key] = stream
        if committed is None and paths.format is OutputFormat.csv:
            self._streams["summary"].write(csv_text([SUMMARY_COLUMNS]))

    def append(self, outcome: ChunkOutcome) -> None:
        """Append a chunk's output (encoded by the worker, see :func:`summary_format`)."""
        self._streams["results"].write(outcome.results)
        self._streams["errors"].write(outcome.errors)
        if "summary" in self._streams:
            self._streams["summary"].write(outcome.summary)

    def commit(self) -> dict[str, int]:
        """Flush and fsync every temporary file; returns their sizes for the journal."""
        sizes = {}
        for key, stream in self._streams.items():
            stream.flush()
            os.fsync(stream.fileno())
            sizes[key] = stream.tell()
        return sizes

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams = {}


def prepare_finals(paths: OutputPaths) -> None:
    """Build every temporary file that is not written row by row (the Parquet summary), durably."""
    if paths.format is not OutputFormat.parquet:
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = summary_schema()
    target = OutputPaths.partial(paths.out)
    with pq.ParquetWriter(target, schema) as writer:
        for batch in _staged_rows(paths.staging["summary"]):
            columns = list(zip(*batch, strict=True))
            writer.write_table(pa.Table.from_arrays(
                [pa.array(column, type=schema.field(i).type) for i, column in enumerate(columns)], schema=schema))
    with target.open("rb") as stream:
        os.fsync(stream.fileno())


def _staged_rows(path: Path) -> Iterator[list[list[Any]]]:
    batch: list[list[Any]] = []
    with path.open("rb") as stream:
        for line in stream:
            batch.append(json.loads(line))
            if len(batch) == PARQUET_ROW_GROUP:
                yield batch
                batch = []
    if batch:
        yield batch


def summary_schema() -> Any:
    """The Arrow schema of the Parquet summary (same columns as the CSV summary)."""
    import pyarrow as pa

    return pa.schema([("record_id", pa.string()), ("decision", pa.string()), ("risk_score", pa.int32()),
                      ("rules", pa.string()), ("top_match_entry", pa.string()), ("top_match_name", pa.string()),
                      ("top_match_list", pa.string()), ("top_match_score", pa.float64())])


def rename_finals(paths: OutputPaths) -> None:
    """Move every complete temporary file to its final name (idempotent, so a run killed half-way through
    renaming finishes the job on resume), then remove what is left of the run."""
    temporary = {p: OutputPaths.partial(p) for p in paths.finals}
    for final, partial in temporary.items():
        if partial.exists():
            os.replace(partial, final)
    fsync_directory(paths.out.parent)
    for path in paths.staging.values():
        path.unlink(missing_ok=True)


def discard_partials(paths: OutputPaths) -> None:
    """Remove the temporary files of an abandoned run (the final files of earlier runs are left alone)."""
    for path in [*paths.staging.values(), *(OutputPaths.partial(p) for p in paths.finals)]:
        path.unlink(missing_ok=True)

