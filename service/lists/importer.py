"""``import_list(source, path)``: find the files of a publication, pick the reader for its format, compile.

SOURCE (what the user names on the command line) -> list name (the compiled file and the seeds/ id):

    ofac-sdn       -> ofac-sdn           sdn.csv (+ alt.csv, add.csv, sdn_comments.csv), sdn.xml, SDN_ENHANCED.XML/.ZIP
    ofac-cons      -> ofac-cons          CONS_ENHANCED.ZIP/.XML, consolidated.xml, cons_prim.csv (+ cons_*.csv)
    us-csl         -> us-csl             consolidated.csv(.gz) or consolidated.json
    uk             -> uk-sanctions-list  OFSI ConList (.xlsx or .csv) or the UK Sanctions List CSV tables
    un             -> un-consolidated    UN consolidated XML
    eu             -> eu-fsf             EU FSF XML
    opensanctions  -> opensanctions      FtM entities, JSON lines

PATH is a file or a folder holding the publication's files under their usual names.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.entries import ParsedList
from service.lists.eu import read_eu_xml
from service.lists.inputs import digest_files
from service.lists.model import IMPORTER_VERSION, CompiledList, ListMeta, ListName, count_by_type
from service.lists.ofac_csv import LegacyFiles, read_ofac_csv
from service.lists.ofac_xml import read_enhanced_xml, read_sdn_xml
from service.lists.opensanctions import read_ftm_json
from service.lists.uk import TABLE_FILES, read_conlist_csv, read_conlist_xlsx, read_uk_tables
from service.lists.un import read_un_xml
from service.lists.us_csl import read_us_csl

#: Command-line SOURCE -> compiled list name.
SOURCES: dict[str, ListName] = {
    "ofac-sdn": ListName.ofac_sdn,
    "ofac-cons": ListName.ofac_cons,
    "us-csl": ListName.us_csl,
    "uk": ListName.uk,
    "un": ListName.un,
    "eu": ListName.eu,
    "opensanctions": ListName.opensanctions,
}

Reader = Callable[[str, CountryResolver], ParsedList]


@dataclass(frozen=True)
class Plan:
    """The files to read and how: chosen from SOURCE and PATH before anything is parsed."""

    files: list[Path]
    read: Reader


def _only(folder: Path, suffixes: tuple[str, ...], what: str) -> Path:
    """The single file in ``folder`` ending in one of ``suffixes``; refuses none or several."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffixes)
                   and not p.name.startswith("."))
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise ListImportError(f"{folder}: expected one {what} file, found {len(found)} ({listed}); "
                              "give the file itself")
    return found[0]


def _find(folder: Path, *names: str) -> Path | None:
    """The first of ``names`` present in ``folder``, matching names case-insensitively."""
    by_lower = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    return next((by_lower[name.lower()] for name in names if name.lower() in by_lower), None)


def _xml_root(path: Path) -> str:
    """Name of the root element of an XML file or of the one XML file in a zip (from its first bytes)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".xml")]
            if len(members) != 1:
                raise ListImportError(f"{path.name}: expected one .xml file in the zip, found {len(members)}")
            with archive.open(members[0]) as handle:
                head = handle.read(4096)
    else:
        with path.open("rb") as handle:
            head = handle.read(4096)
    text = head.decode("utf-8", errors="replace")
    for root in ("sanctionsData", "sdnList", "CONSOLIDATED_LIST", "export"):
        if f"<{root}" in text or f":{root}" in text:
            return root
    raise ListImportError(f"{path.name}: not an XML document this source can read")


def _ofac_plan(source: str, path: Path) -> Plan:
    legacy_main = ("cons_prim.csv",) if source == "ofac-cons" else ("sdn.csv",)
    enhanced = ("CONS_ENHANCED.ZIP", "CONS_ENHANCED.XML") if source == "ofac-cons" else \
        ("SDN_ENHANCED.ZIP", "SDN_ENHANCED.XML")
    classic = ("consolidated.xml", "cons.xml") if source == "ofac-cons" else ("sdn.xml",)
    if path.is_dir():
        found = _find(path, *legacy_main) or _find(path, *enhanced) or _find(path, *classic)
        if found is None:
            expected = ", ".join([*legacy_main, *enhanced, *classic])
            raise ListImportError(f"{path}: no OFAC list file here (looked for {expected})")
        path = found
    if path.name.lower().endswith(".csv"):
        legacy = LegacyFiles.beside(path)
        return Plan(legacy.paths, lambda name, countries: read_ofac_csv(legacy, name, countries))
    root = _xml_root(path)
    if root == "sanctionsData":
        return Plan([path], lambda name, countries: read_enhanced_xml(path, name, countries))
    if root == "sdnList":
        return Plan([path], lambda name, countries: read_sdn_xml(path, name, countries))
    raise ListImportError(f"{path.name}: <{root}> is not an OFAC list document")


def _plan(source: str, path: Path) -> Plan:
    if not path.exists():
        raise ListImportError(f"{path}: no such file or folder")
    if source in ("ofac-sdn", "ofac-cons"):
        return _ofac_plan(source, path)
    if source == "us-csl":
        file = _only(path, (".csv", ".csv.gz", ".json", ".json.gz"), "CSL") if path.is_dir() else path
        return Plan([file], lambda name, countries: read_us_csl(file, name, countries))
    if source == "uk":
        if path.is_dir() and (path / TABLE_FILES[0]).is_file():
            missing = [name for name in TABLE_FILES if not (path / name).is_file()]
            if missing:
                raise ListImportError(f"{path}: missing {', '.join(missing)} (UK Sanctions List tables)")
            tables = [path / name for name in TABLE_FILES]
            return Plan(tables, lambda name, countries: read_uk_tables(path, name, countries))
        file = _only(path, (".xlsx", ".csv"), "ConList") if path.is_dir() else path
        if file.name.lower().endswith(".csv"):
            return Plan([file], lambda name, countries: read_conlist_csv(file, name, countries))
        return Plan([file], lambda name, countries: read_conlist_xlsx(file, name, countries))
    if source in ("un", "eu"):
        file = _only(path, (".xml",), "XML") if path.is_dir() else path
        expected = "CONSOLIDATED_LIST" if source == "un" else "export"
        root = _xml_root(file)
        if root != expected:
            raise ListImportError(f"{file.name}: expected a <{expected}> document, found <{root}>")
        reader = read_un_xml if source == "un" else read_eu_xml
        return Plan([file], lambda name, countries: reader(file, name, countries))
    if source == "opensanctions":
        file = _only(path, (".json", ".jsonl", ".json.gz", ".jsonl.gz"), "JSON lines") if path.is_dir() else path
        return Plan([file], lambda name, countries: read_ftm_json(file, name, countries))
    raise ListImportError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")


def import_list(source: str, path: Path, now: datetime | None = None) -> CompiledList:
    """Read the publication at ``path`` (file or folder) for ``source`` and compile it.

    Nothing is written: ``save_compiled_list`` stores the result. Raises ListImportError naming the file and
    the line, row or element at fault.
    """
    if source not in SOURCES:
        raise ListImportError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    try:
        plan = _plan(source, Path(path))
        digest = digest_files(plan.files)
        countries = CountryResolver()
        parsed = plan.read(SOURCES[source].value, countries)
    except OSError as exc:
        raise ListImportError(f"{exc.filename or path}: cannot read: {exc.strerror or exc}") from exc
    if not parsed.entries:
        raise ListImportError(f"{path}: the file holds no entries")
    meta = ListMeta(
        name=SOURCES[source].value,
        title=parsed.title,
        source_format=parsed.source_format,
        published=parsed.published,
        imported_at=now or datetime.now(UTC),
        entry_count=len(parsed.entries),
        counts_by_type=count_by_type(parsed.entries),
        source_digest=digest,
        source_files=sorted(p.name for p in plan.files),
        importer_version=IMPORTER_VERSION,
        skipped=dict(sorted(parsed.skipped.items())),
        unresolved_countries=dict(countries.unresolved.most_common()),
    )
    return CompiledList(meta=meta, entries=parsed.entries)


def timed_import(source: str, path: Path) -> tuple[CompiledList, float]:
    """``import_list`` and the seconds it took (reported by the command)."""
    start = time.perf_counter()
    compiled = import_list(source, path)
    return compiled, time.perf_counter() - start

