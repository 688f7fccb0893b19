"""Compiled lists on disk: ``<data_dir>/lists/<name>.json.gz``, written atomically, read fast.

File format (gzip of JSON lines)::

    {"format": "drone-screening/compiled-list", "version": 2, "entries_sha256": "<hex>", "meta": {...}}
    {PartySpec}
    {PartySpec}
    ...

The first line alone answers ``screening lists status`` without reading the entries. The entries, one per
line, are validated by pydantic's JSON validator a few hundred at a time: it keeps a 15,000-entry list well
under a second, and between two chunks other threads get the interpreter. Why that matters: a server reloads
its pack (and lists) in a thread while it keeps answering, and version 1 (all entries on one line, validated
in one call) held the GIL for 0.2-0.4 s per large list, a pause of every request of that worker. Version 1
files are still read. A save writes a temporary file beside the target and renames it over the old one, so
the previous list stays in place when anything fails and a reader never sees half a file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from service.errors import ListImportError
from service.lists.model import CompiledList, ListMeta
from service.rulepack.compiled import PARTY_ENTRIES
from service.rulepack.spec import PartySpec

FORMAT = "drone-screening/compiled-list"
VERSION = 2
#: Versions this code reads: 1 held every entry in one JSON array on the second line.
_READABLE = (1, 2)
SUFFIX = ".json.gz"
#: Entries validated per call (see the module docstring).
_CHUNK = 500

_ENTRY = TypeAdapter(PartySpec)


def lists_dir(data_dir: Path) -> Path:
    """Folder of the compiled lists inside the service's data folder."""
    return Path(data_dir) / "lists"


def compiled_path(data_dir: Path, name: str) -> Path:
    return lists_dir(data_dir) / f"{name}{SUFFIX}"


def save_compiled_list(compiled: CompiledList, data_dir: Path) -> Path:
    """Write ``compiled`` to ``<data_dir>/lists/<name>.json.gz`` atomically; returns the path."""
    target = compiled_path(data_dir, compiled.meta.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    entries = b"".join(_ENTRY.dump_json(entry, exclude_defaults=True) + b"\n" for entry in compiled.entries)
    header = json.dumps({"format": FORMAT, "version": VERSION,
                         "entries_sha256": hashlib.sha256(entries).hexdigest(),
                         "meta": compiled.meta.model_dump(mode="json")}, ensure_ascii=False)
    handle, temp_name = tempfile.mkstemp(prefix=f".{compiled.meta.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6,
                                                           mtime=0) as packed:
            packed.write(header.encode() + b"\n" + entries)
            packed.flush()
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _read_lines(path: Path, header_only: bool) -> tuple[dict[str, object], bytes]:
    try:
        with gzip.open(path, "rb") as packed:
            header_line = packed.readline()
            body = b"" if header_only else packed.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ListImportError(f"{path}: damaged compiled list: {exc}") from exc
    try:
        header = json.loads(header_line)
    except json.JSONDecodeError as exc:
        raise ListImportError(f"{path}: damaged compiled list: header is not JSON ({exc.msg})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ListImportError(f"{path}: not a compiled list file")
    if header.get("version") not in _READABLE:
        raise ListImportError(f"{path}: compiled list format version {header.get('version')} is not "
                              f"{VERSION}; import the list again")
    return header, body


def read_list_meta(path: Path) -> ListMeta:
    """The metadata of a compiled list, without reading its entries."""
    header, _ = _read_lines(Path(path), header_only=True)
    try:
        return ListMeta.model_validate(header.get("meta"))
    except ValidationError as exc:
        raise ListImportError(f"{path}: damaged compiled list metadata: {exc}") from exc


def load_compiled_list(path: Path) -> CompiledList:
    """Load and validate one compiled list file; a damaged file raises ListImportError naming it."""
    path = Path(path)
    header, body = _read_lines(path, header_only=False)
    entries_json = body if header.get("version") == VERSION else body.rstrip(b"\n")
    if hashlib.sha256(entries_json).hexdigest() != header.get("entries_sha256"):
        raise ListImportError(f"{path}: damaged compiled list: entries do not match their checksum")
    try:
        meta = ListMeta.model_validate(header.get("meta"))
        if header.get("version") == VERSION:
            lines = entries_json.splitlines()
            entries = []
            for start in range(0, len(lines), _CHUNK):
                try:
                    entries.extend(PARTY_ENTRIES.validate_json(b"[" + b",".join(lines[start:start + _CHUNK]) + b"]"))
                except ValidationError as exc:  # its indexes count from the chunk's first entry
                    raise ListImportError(f"{path}: damaged compiled list, in entries {start + 1} to "
                                          f"{min(start + _CHUNK, len(lines))}: {exc}") from exc
        else:
            entries = PARTY_ENTRIES.validate_json(entries_json)
    except ValidationError as exc:
        raise ListImportError(f"{path}: damaged compiled list: {exc}") from exc
    if meta.entry_count != len(entries):
        raise ListImportError(f"{path}: damaged compiled list: {len(entries)} entries, metadata says "
                              f"{meta.entry_count}")
    return CompiledList.model_construct(meta=meta, entries=entries)


def compiled_files(data_dir: Path) -> list[Path]:
    """Every compiled list file in the data folder, by name."""
    folder = lists_dir(data_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIX)
                  and not p.name.startswith("."))


def load_compiled_lists(data_dir: Path, names: Iterable[str] | None = None) -> list[CompiledList]:
    """The compiled lists the engine screens against: ``names`` (in that order), or all of them by name.

    A named list that was never imported raises ListImportError telling how to import it.
    """
    if names is None:
        return [load_compiled_list(path) for path in compiled_files(data_dir)]
    loaded = []
    for name in names:
        path = compiled_path(data_dir, name)
        if not path.is_file():
            raise ListImportError(f"list {name!r} has not been imported (no {path}); run "
                                  f"'screening lists import SOURCE FILE'")
        loaded.append(load_compiled_list(path))
    return loaded


@dataclass(frozen=True)
class ListStatus:
    """One compiled list as ``lists status`` and ``/readyz`` report it."""

    path: Path
    meta: ListMeta | None
    error: str | None
    age_days: int | None
    age_basis: str
    stale: bool

    @property
    def name(self) -> str:
        return self.meta.name if self.meta else self.path.name.removesuffix(SUFFIX)


def list_status(data_dir: Path, max_age_days: int, today: date | None = None) -> list[ListStatus]:
    """Status of every compiled list: age from its publication date (or, when the format has none, from the
    import) and whether it is older than ``max_age_days``. A damaged file is reported, not raised."""
    today = today or datetime.now(UTC).date()
    statuses = []
    for path in compiled_files(data_dir):
        try:
            meta = read_list_meta(path)
        except ListImportError as exc:
            statuses.append(ListStatus(path, None, str(exc), None, "", True))
            continue
        basis, since = ("published", meta.published) if meta.published else \
            ("imported", meta.imported_at.astimezone(UTC).date())
        age = (today - since).days
        statuses.append(ListStatus(path, meta, None, age, basis, age > max_age_days))
    return statuses


def stale_lists(statuses: Sequence[ListStatus]) -> list[ListStatus]:
    """The lists ``/readyz`` should warn about (stale or unreadable)."""
    return [status for status in statuses if status.stale]
