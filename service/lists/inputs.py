"""Reading input files safely: digests, text decoding, CSV rows with line numbers, XML without entities.

XML goes through defusedxml with DTDs forbidden, so a list file cannot expand entities ("billion laughs") or
make the parser fetch anything from the network. Parse errors become ``ListImportError`` naming the file,
line and column; the importers name the element at fault for errors of structure.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from service.errors import ListImportError

_CHUNK = 1 << 20


def digest_files(paths: Iterable[Path]) -> str:
    """sha256 over the files' names and bytes, in name order: the identity of an import's input."""
    sha = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        sha.update(path.name.encode() + b"\0")
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    sha.update(chunk)
        except OSError as exc:
            raise ListImportError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        sha.update(b"\0")
    return f"sha256:{sha.hexdigest()}"


def decode(data: bytes, label: str) -> str:
    """Text of a list file: UTF-8 (with or without BOM), else Windows-1252 as older OFAC files use."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ListImportError(f"{label}: not UTF-8 or Windows-1252 text (byte {exc.start})") from exc


def read_text(path: Path) -> str:
    return decode(path.read_bytes(), path.name)


def csv_rows(text: str, label: str) -> Iterator[tuple[int, list[str]]]:
    """Rows of CSV ``text`` with the line number each starts on; malformed CSV names its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ListImportError(f"{label}: line {reader.line_num}: malformed CSV: {exc}") from exc


def csv_dicts(text: str, label: str, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, as dicts; refuses a header without the ``required`` columns."""
    rows = csv_rows(text, label)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ListImportError(f"{label}: empty file") from None
    header = [column.strip() for column in header]
    missing = [column for column in required if column not in header]
    if missing:
        raise ListImportError(f"{label}: line 1: missing columns {', '.join(missing)}")
    width = len(header)
    for line, row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            raise ListImportError(f"{label}: line {line}: expected {width} fields, found {len(row)}")
        yield line, dict(zip(header, row, strict=True))


def local_name(tag: str) -> str:
    """Tag without its namespace: ``{https://...}entity`` -> ``entity``."""
    return tag.rsplit("}", 1)[-1]


def xml_events(source: Path | IO[bytes], label: str) -> Iterator[tuple[str, Element]]:
    """``start``/``end`` events of an XML document with namespaces stripped from the tags.

    DTDs, entity declarations and external references are refused.
    """
    try:
        for event, element in iterparse(source, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                element.tag = local_name(element.tag)
            yield event, element
    except ParseError as exc:
        line, column = exc.position
        raise ListImportError(f"{label}: line {line}, column {column}: malformed XML: {exc.msg}") from exc
    except DefusedXmlException as exc:
        raise ListImportError(f"{label}: refused: the XML declares a DTD or entities ({exc})") from exc


def child_text(element: Element, path: str) -> str:
    """Stripped text at ``path`` under ``element``; '' when absent."""
    return (element.findtext(path) or "").strip()


def children_text(element: Element, path: str) -> list[str]:
    """Stripped non-empty texts of every element at ``path``."""
    return [text for node in element.findall(path) if (text := (node.text or "").strip())]


def describe(element: Element, index: int, *keys: str) -> str:
    """How an error names a record element: ``<entity> #12 (id=9639)``."""
    details = [f"{key}={value}" for key in keys if (value := element.get(key) or child_text(element, key))]
    suffix = f" ({', '.join(details)})" if details else ""
    return f"<{element.tag}> #{index}{suffix}"
