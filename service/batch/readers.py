"""Input files read as a stream of raw rows, each with its row number and the position right after it.

Readers do as little as possible in the coordinating process, which hands input to the workers in chunks
(:func:`read_chunks`): a JSONL chunk is the bytes of its lines in one piece, a Parquet chunk an Arrow record
batch, a CSV chunk its rows as lists of text (finding where a quoted CSV row ends takes parsing it). Workers
turn them into rows (:meth:`LineBlock.rows` ...), so the coordinator never becomes the bottleneck. A reader
can start at any position it produced before (``--resume``): a byte offset for JSONL and CSV, a row index
for Parquet.

Row numbers (used in ``OUTPUT.errors.jsonl``):

* JSONL/NDJSON: ``row`` and ``line`` are the 1-based line number; blank lines are skipped but counted.
* CSV: ``row`` is the 1-based data row (the header is not counted, blank lines are not counted);
  ``line`` is the physical line where the row starts (the header is line 1).
* Parquet: ``row`` is the 1-based row index; there is no ``line``.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Literal

from service.batch.mapping import ColumnMapping, RowPlan, plan_for_header
from service.errors import BatchError

PayloadKind = Literal["json", "flat", "record"]
#: One row as a worker screens it: (row number, line number or None, payload, problem reading it or None).
Row = tuple[int, int | None, Any, str | None]


class InputFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


_EXTENSIONS = {".jsonl": InputFormat.jsonl, ".ndjson": InputFormat.jsonl, ".csv": InputFormat.csv,
               ".tsv": InputFormat.csv, ".parquet": InputFormat.parquet, ".pq": InputFormat.parquet}


def input_format(path: Path) -> InputFormat:
    """The format of an input file, from its extension; BatchError for any other extension."""
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise BatchError(f"{path}: unknown input format {path.suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(sorted(_EXTENSIONS))}")
    return found


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as read: its numbers, its payload for the worker, and the reading position after it.

    ``payload`` is bytes (one JSON line), a list of cells (flat CSV/Parquet) or a dict (nested Parquet).
    ``problem`` is set when the row could not even be read (bad encoding, broken quoting).
    """

    row: int
    line: int | None
    payload: Any
    problem: str | None
    end_offset: int
    end_line: int


@dataclass(frozen=True, slots=True)
class InputFile:
    """An input file opened for reading: its format, how rows become records, and its size."""

    path: Path
    format: InputFormat
    kind: PayloadKind
    plan: RowPlan | None
    size: int
    total_rows: int | None
    warnings: tuple[str, ...]

    def progress_units(self, offset: int) -> float:
        """How much of the file (in bytes) a position stands for; Parquet row indexes are scaled."""
        if self.format is InputFormat.parquet:
            return self.size * (offset / self.total_rows) if self.total_rows else float(self.size)
        return float(offset)


def open_input(path: Path, mapping: ColumnMapping) -> InputFile:
    """Inspect an input file (header, schema) and check it against the mapping; BatchError if unusable."""
    fmt = input_format(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BatchError(f"cannot read input {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise BatchError(f"input {path} is not a file")
    if fmt is InputFormat.jsonl:
        return InputFile(path, fmt, "json", None, size, None, ())
    if fmt is InputFormat.csv:
        header, _, _ = _read_csv_header(path, mapping)
        plan, warnings = plan_for_header(header, mapping, str(path))
        return InputFile(path, fmt, "flat", plan, size, None, tuple(warnings))
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise BatchError(f"{path}: not a readable Parquet file: {exc}") from None
    schema = parquet.schema_arrow
    total_rows = parquet.metadata.num_rows
    if any(pa.types.is_nested(field.type) for field in schema):
        # Nested columns mean the file holds records of the contract (parties as a list of structs ...).
        return InputFile(path, fmt, "record", None, size, total_rows, ())
    plan, warnings = plan_for_header(list(schema.names), mapping, str(path))
    return InputFile(path, fmt, "flat", plan, size, total_rows, tuple(warnings))


def read_header(path: Path) -> list[str]:
    """The column names of a CSV or flat Parquet file (for proposing a mapping); BatchError otherwise."""
    fmt = input_format(path)
    if not path.is_file():
        raise BatchError(f"{path} is not a readable file")
    if fmt is InputFormat.jsonl:
        raise BatchError(f"{path}: JSONL files hold records of the contract and need no mapping")
    if fmt is InputFormat.csv:
        return _read_csv_header(path, ColumnMapping.default())[0]
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise BatchError(f"{path}: not a readable Parquet file: {exc}") from None
    return list(schema.names)


def read_rows(source: InputFile, mapping: ColumnMapping, offset: int, row: int, line: int) -> Iterator[RawRow]:
    """Rows of a file from a position (0, 0, 0 = the start) onwards; the position of each row is after it."""
    if source.format is InputFormat.jsonl:
        return _jsonl_rows(source.path, offset, line)
    if source.format is InputFormat.csv:
        return _csv_rows(source.path, mapping, offset, row, line)
    return _parquet_rows(source, offset)


# --- chunks -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Consecutive lines of a JSONL file in one bytes object (cheap to send to a worker); ``line`` is the
    number of the line before the first."""

    line: int
    data: bytes

    def rows(self) -> Iterator[Row]:
        """The non-blank lines with their numbers (blank lines are skipped but counted)."""
        parts = self.data.split(b"\n")
        if parts and not parts[-1]:
            parts.pop()  # the newline ending the last line
        line = self.line
        for raw in parts:
            line += 1
            text = raw.strip()
            if text:
                yield (line, line, text, None)


@dataclass(frozen=True, slots=True)
class RowList:
    """Rows already read (CSV: where a quoted row ends is only known by parsing it)."""

    items: list[Row] = field(default_factory=list)

    def rows(self) -> Iterator[Row]:
        return iter(self.items)


@dataclass(frozen=True, slots=True)
class ArrowBlock:
    """Consecutive rows of a Parquet file as one Arrow record batch; ``row`` is the number of the row before
    the first. ``nested``: the columns hold records of the contract, else flat cells for a row plan."""

    row: int
    batch: Any
    nested: bool

    def rows(self) -> Iterator[Row]:
        if self.nested:
            payloads: list[Any] = [_drop_nulls(item) for item in self.batch.to_pylist()]
        else:
            columns = [column.to_pylist() for column in self.batch.columns]
            payloads = [list(cells) for cells in zip(*columns, strict=True)] if columns else []
        for index, payload in enumerate(payloads, self.row + 1):
            yield (index, None, payload, None)


RowBlock = LineBlock | RowList | ArrowBlock


@dataclass(frozen=True, slots=True)
class Chunk:
    """A chunk of an input for one worker, and the reading position right after it."""

    block: RowBlock
    end_offset: int
    end_row: int
    end_line: int


def read_chunks(source: InputFile, mapping: ColumnMapping, offset: int, row: int, line: int, *, max_rows: int,
                max_bytes: int) -> Iterator[Chunk]:
    """Chunks of at most ``max_rows`` rows (JSONL: lines) and about ``max_bytes`` of input from a position
    (0, 0, 0 = the start) onwards."""
    if source.format is InputFormat.jsonl:
        return _jsonl_chunks(source.path, offset, line, max_rows, max_bytes)
    if source.format is InputFormat.csv:
        return _csv_chunks(source.path, mapping, offset, row, line, max_rows, max_bytes)
    return _parquet_chunks(source, offset, max_rows, max_bytes)


def _jsonl_chunks(path: Path, offset: int, line: int, max_rows: int, max_bytes: int) -> Iterator[Chunk]:
    with path.open("rb") as stream:
        stream.seek(offset)
        while True:
            lines = list(islice(stream, max_rows))  # read and split in C: no Python work per line
            if not lines:
                return
            size = sum(map(len, lines))
            if size > max_bytes:  # very large lines: give this batch back in pieces of about max_bytes
                pieces: list[list[bytes]] = [[]]
                piece_size = 0
                for raw in lines:
                    if piece_size >= max_bytes:
                        pieces.append([])
                        piece_size = 0
                    pieces[-1].append(raw)
                    piece_size += len(raw)
            else:
                pieces = [lines]
            for piece in pieces:
                data = b"".join(piece)
                offset, line = offset + len(data), line + len(piece)
                yield Chunk(LineBlock(line - len(piece), data), offset, line, line)


def _csv_chunks(path: Path, mapping: ColumnMapping, offset: int, row: int, line: int, max_rows: int,
                max_bytes: int) -> Iterator[Chunk]:
    items: list[Row] = []
    start = offset
    last: RawRow | None = None
    for raw in _csv_rows(path, mapping, offset, row, line):
        items.append((raw.row, raw.line, raw.payload, raw.problem))
        last = raw
        if len(items) >= max_rows or raw.end_offset - start >= max_bytes:
            yield Chunk(RowList(items), raw.end_offset, raw.row, raw.end_line)
            items, start = [], raw.end_offset
    if items and last is not None:
        yield Chunk(RowList(items), last.end_offset, last.row, last.end_line)


def _parquet_chunks(source: InputFile, start: int, max_rows: int, max_bytes: int) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source.path)
    groups, index = _row_groups_from(parquet, start)
    if not groups:
        return
    nested = source.kind == "record"
    for batch in parquet.iter_batches(batch_size=max_rows, row_groups=groups):
        if index + batch.num_rows <= start:
            index += batch.num_rows
            continue
        first = max(start - index, 0)
        # a few rows per piece when rows are large; take() copies, where a slice would send the whole batch
        step = max(1, min(batch.num_rows, int(batch.num_rows * max_bytes / max(batch.nbytes, 1))))
        if first == 0 and step >= batch.num_rows:
            pieces = [batch]
        else:
            pieces = [batch.take(pa.array(range(at, min(at + step, batch.num_rows))))
                      for at in range(first, batch.num_rows, step)]
        index += first
        for piece in pieces:
            yield Chunk(ArrowBlock(index, piece, nested), index + piece.num_rows, index + piece.num_rows, 0)
            index += piece.num_rows


# --- JSONL --------------------------------------------------------------------------------------------------


def _jsonl_rows(path: Path, offset: int, line: int) -> Iterator[RawRow]:
    with path.open("rb") as stream:
        stream.seek(offset)
        for raw in stream:
            offset += len(raw)
            line += 1
            text = raw.strip()
            if not text:
                continue
            yield RawRow(line, line, text, None, offset, line)


# --- CSV ----------------------------------------------------------------------------------------------------


def _csv_dialect(path: Path, mapping: ColumnMapping) -> tuple[str, str]:
    delimiter = mapping.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    encoding = mapping.encoding
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # exports from spreadsheets start with a byte-order mark
    return delimiter, encoding


class _LineFeed:
    """Decoded lines for csv.reader from a binary stream, tracking the byte offset and line number consumed
    and whether any line of the current row was not valid text in the file's encoding."""

    def __init__(self, stream: BinaryIO, encoding: str, offset: int, line: int) -> None:
        self.stream = stream
        self.encoding = encoding
        self.offset = offset
        self.line = line
        self.undecodable = False
        self._first = offset == 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.offset += len(raw)
            self.line += 1
            # utf-8-sig only strips a BOM at the very start of the file
            encoding = self.encoding if self._first or self.encoding != "utf-8-sig" else "utf-8"
            self._first = False
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                self.undecodable = True
                yield raw.decode(encoding, errors="replace")


def _read_csv_header(path: Path, mapping: ColumnMapping) -> tuple[list[str], int, int]:
    """The header cells, the byte offset after the header and its last line number."""
    delimiter, encoding = _csv_dialect(path, mapping)
    with path.open("rb") as stream:
        feed = _LineFeed(stream, encoding, 0, 0)
        reader = csv.reader(iter(feed), delimiter=delimiter)
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    if feed.undecodable:
                        raise BatchError(f"{path}: the header is not valid {mapping.encoding} text; "
                                         "give the encoding in a mapping file")
                    return [cell.strip() for cell in cells], feed.offset, feed.line
        except csv.Error as exc:
            raise BatchError(f"{path}: line {feed.line}: cannot read the header: {exc}") from None
    raise BatchError(f"{path}: empty file, no header")


def _csv_rows(path: Path, mapping: ColumnMapping, offset: int, row: int, line: int) -> Iterator[RawRow]:
    delimiter, encoding = _csv_dialect(path, mapping)
    if offset == 0:
        _, offset, line = _read_csv_header(path, mapping)
    with path.open("rb") as stream:
        stream.seek(offset)
        feed = _LineFeed(stream, encoding, offset, line)
        reader = csv.reader(iter(feed), delimiter=delimiter, strict=True)
        start_line = line + 1
        while True:
            problem: str | None = None
            cells: list[str] = []
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                problem = f"cannot read the row: {exc}"
            if feed.undecodable:
                problem = f"not valid {mapping.encoding} text"
                feed.undecodable = False
            if problem is None and not any(cell.strip() for cell in cells):
                start_line = feed.line + 1
                continue
            row += 1
            yield RawRow(row, start_line, cells, problem, feed.offset, feed.line)
            start_line = feed.line + 1


# --- Parquet ------------------------------------------------------------------------------------------------


def _parquet_rows(source: InputFile, start: int) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source.path)
    groups, index = _row_groups_from(parquet, start)
    if not groups:
        return
    names = parquet.schema_arrow.names
    for batch in parquet.iter_batches(batch_size=4096, row_groups=groups):
        if source.kind == "record":
            rows: list[Any] = [_drop_nulls(item) for item in batch.to_pylist()]
        else:
            columns = [batch.column(name).to_pylist() for name in names]
            rows = [list(cells) for cells in zip(*columns, strict=True)] if columns else []
        for payload in rows:
            index += 1
            if index <= start:
                continue
            yield RawRow(index, None, payload, None, index, 0)


def _row_groups_from(parquet: Any, start: int) -> tuple[list[int], int]:
    """The row groups of ``parquet`` (a pyarrow ParquetFile) that hold rows after the first ``start``, and
    how many rows come before the first of them: whole groups before ``start`` are never read."""
    metadata = parquet.metadata
    first_group, skipped = 0, 0
    while first_group < metadata.num_row_groups and skipped + metadata.row_group(first_group).num_rows <= start:
        skipped += metadata.row_group(first_group).num_rows
        first_group += 1
    return list(range(first_group, metadata.num_row_groups)), skipped


def _drop_nulls(value: Any) -> Any:
    """Parquet has a null where JSON would leave a key out, and lists of (key, value) for maps; undo both."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {k: _drop_nulls(v) for k, v in value if v is not None}
        return [_drop_nulls(item) for item in value]
    return value


def input_fingerprint(path: Path) -> dict[str, Any]:
    """What identifies an input for --resume: its absolute path, size and modification time."""
    stat = os.stat(path)
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
