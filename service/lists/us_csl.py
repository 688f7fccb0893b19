"""The US Consolidated Screening List (trade.gov): CSV (often gzipped) or JSON.

The CSL merges thirteen lists of the Departments of Commerce (BIS), State and the Treasury. One record is one
listing of one party on one of those lists, so the same OFAC entity appears once per list it is on; each
record becomes one entry, with an id made of the list's abbreviation and the record's ``_id``
(``us-csl-sdn-21944``, ``us-csl-el-380dfd...``).

CSV: UTF-8 with BOM, a header row, multi-valued fields separated by ``;``. Two layouts of the ``ids`` field
exist: the older writes ``country, number, type`` (``RU, 7707404272, Tax ID No.``), the newer ``type, number,
country`` (``Passport, 836238033, KP``); each item is read by finding which end holds the type label.
JSON: the same fields with lists and objects, under ``results``.

Records without a type (the BIS and State lists do not say) become organizations with a note; aircraft
become organizations as in the OFAC readers.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_values, parse_iso_date
from service.lists.entries import EntryDraft, ParsedList, build_all, clean_text, make_id
from service.lists.identifiers import clean_identifier, identifier_kind, normalise_label
from service.lists.inputs import csv_dicts, decode
from service.rulepack.spec import EntryType, ListingSpec

REQUIRED_COLUMNS = ("_id", "source", "entity_number", "type", "programs", "name", "addresses", "alt_names",
                    "ids")

_TYPES = {"individual": EntryType.person, "entity": EntryType.organization, "vessel": EntryType.vessel,
          "aircraft": EntryType.organization, "": EntryType.organization}
_ABBREVIATION = re.compile(r"\(([^()]+)\)")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
_AGENCIES = (("treasury", "OFAC"), ("industry and security", "BIS"), ("state department", "US-State"),
             ("commerce", "BIS"))

# Labels the CSL puts in ``ids`` that are not identifiers but say what the other part is.
_NOTE_LABELS = {"gender", "website", "email address", "phone number", "swift/bic", "target type",
                "organization type", "organization established date", "additional sanctions information",
                "secondary sanctions risk", "transactions prohibited for persons owned or controlled by u.s. "
                "financial institutions", "aircraft model", "aircraft operator", "aircraft manufacture date",
                "aircraft manufacturer's serial number (msn)", "aircraft tail number", "mmsi",
                "former vessel flag", "isin", "issuer name", "equity ticker", "nationality of registration",
                "executive order 13662 directive determination", "executive order 13846 information",
                "executive order 14024 directive information", "caatsa section 235 information",
                "d-u-n-s number", "bik (ru)", "digital currency address - xbt", "digital currency address - eth",
                "vessel registration identification"}


def _is_label(text: str) -> bool:
    key = normalise_label(text)
    return (identifier_kind(text) is not None or key in _NOTE_LABELS or text.rstrip().endswith((":", " -"))
            or key.startswith(("listing date", "effective date", "purchase/sales", "digital currency")))


def split_values(value: Any) -> list[str]:
    """A multi-valued field as a list: JSON lists as they are, CSV text split on ';'."""
    if value is None:
        return []
    if isinstance(value, list):
        return [clean_text(v) for v in value if clean_text(v)]
    return [part for part in (clean_text(p) for p in str(value).split(";")) if part]


def list_abbreviation(source: str) -> str:
    """``Entity List (EL) - Bureau of Industry and Security`` -> ``EL``."""
    match = _ABBREVIATION.search(source)
    return match.group(1) if match else source.split(" - ")[0]


def list_authority(source: str) -> str:
    lowered = source.casefold()
    return next((authority for key, authority in _AGENCIES if key in lowered), "US")


def parse_id_item(text: str) -> tuple[str, str, str]:
    """(label, number, country) of one ``ids`` item written in either CSV layout."""
    parts = [p.strip() for p in text.split(", ")]
    if len(parts) == 1:
        return "", parts[0], ""
    first, last = parts[0], parts[-1]
    if _is_label(first) and not _is_label(last):
        country = last if len(parts) > 2 and _COUNTRY_CODE.match(last) else ""
        middle = parts[1:-1] if country else parts[1:]
        return first, ", ".join(middle), country
    country = first if len(parts) > 2 and _COUNTRY_CODE.match(first) else ""
    middle = parts[1:-1] if country else parts[:-1]
    return last, ", ".join(middle), country


def _apply_id(draft: EntryDraft, label: str, number: str, country_text: str, countries: CountryResolver) -> None:
    country = countries.resolve(country_text) if country_text else None
    kind = identifier_kind(label, country, number) if label else None
    if kind is not None and number:
        draft.add_identifier(kind, clean_identifier(kind, number))
    elif number:
        draft.add_note(f"{label} {number}".strip())


def _address_text(value: Any) -> tuple[str, str]:
    """(address, country) of a CSV address string or a JSON address object."""
    if isinstance(value, dict):
        parts = [clean_text(value.get(key)) for key in ("address", "city", "state", "postal_code")]
        country = clean_text(value.get("country"))
        text = ", ".join(p for p in [*parts, country] if p)
        return (text if any(parts) else ""), country
    text = clean_text(value)
    tail = text.rsplit(",", 1)[-1].strip()
    country = tail if _COUNTRY_CODE.match(tail) else ""
    return (text if text != country else ""), country


def _record(record: dict[str, Any], countries: CountryResolver, where: str) -> EntryDraft:
    source = clean_text(record.get("source"))
    record_id = clean_text(record.get("_id") or record.get("id"))
    if not source or not record_id:
        raise ListImportError(f"{where}: a record needs 'source' and '_id'")
    kind = clean_text(record.get("type")).lower()
    if kind not in _TYPES:
        raise ListImportError(f"{where}: unknown type {kind!r}")
    abbreviation = list_abbreviation(source)
    draft = EntryDraft(id=make_id("us-csl", f"{abbreviation}-{record_id}"), type=_TYPES[kind])
    draft.set_name(record.get("name"))
    if not draft.name:
        raise ListImportError(f"{where}: 'name' is empty")
    if kind == "aircraft":
        draft.add_note("aircraft")
    elif not kind:
        draft.add_note("type not given by the list")
    start = parse_iso_date(clean_text(record.get("start_date")))
    draft.add_listing(ListingSpec(authority=list_authority(source), programs=split_values(record.get("programs")),
                                  date=start.isoformat() if start else None,
                                  reference=clean_text(record.get("entity_number")) or record_id))
    draft.add_note(f"list: {source}")
    for alias in split_values(record.get("alt_names")):
        draft.add_alias(re.sub(r"^and\s+", "", alias))
    addresses = record.get("addresses")
    for address in addresses if isinstance(addresses, list) else split_values(addresses):
        text, country = _address_text(address)
        draft.add_country(countries.resolve(country) if country else None)
        draft.add_address(text)
    for field in ("nationalities", "citizenships"):
        for value in split_values(record.get(field)):
            draft.add_country(countries.resolve(value))
    for value in split_values(record.get("dates_of_birth")):
        for parsed in parse_date_values(value):
            draft.add_birth_date(parsed)
    for value in split_values(record.get("places_of_birth")):
        draft.add_note(f"POB {value}")
    ids = record.get("ids")
    if isinstance(ids, list):
        for item in ids:
            if isinstance(item, dict):
                _apply_id(draft, clean_text(item.get("type")), clean_text(item.get("number")),
                          clean_text(item.get("country")), countries)
            else:
                _apply_id(draft, *parse_id_item(clean_text(item)), countries)
    else:
        for item in split_values(ids):
            _apply_id(draft, *parse_id_item(item), countries)
    if flag := clean_text(record.get("vessel_flag")):
        draft.flag = countries.resolve(flag)
    for field, label in (("title", "title"), ("call_sign", "call sign"), ("vessel_type", "vessel type"),
                         ("gross_tonnage", "tonnage"), ("gross_registered_tonnage", "GRT"),
                         ("vessel_owner", "owner"), ("remarks", "remarks")):
        if value := clean_text(record.get(field)):
            draft.add_note(f"{label}: {value}")
    return draft


def _csv_records(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ListImportError(f"{path.name}: damaged gzip file: {exc}") from exc
    for line, row in csv_dicts(decode(data, path.name), path.name, REQUIRED_COLUMNS):
        yield row, f"{path.name}: line {line}"


def _json_records(path: Path) -> tuple[list[tuple[dict[str, Any], str]], date | None]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        document = json.loads(decode(data, path.name))
    except json.JSONDecodeError as exc:
        raise ListImportError(f"{path.name}: line {exc.lineno}, column {exc.colno}: malformed JSON: "
                              f"{exc.msg}") from exc
    results = document.get("results") if isinstance(document, dict) else document
    if not isinstance(results, list):
        raise ListImportError(f"{path.name}: expected a list of records or an object with 'results'")
    published = None
    if isinstance(document, dict):
        dates = [parse_iso_date(str(s.get("source_last_updated") or s.get("last_imported") or ""))
                 for s in document.get("sources_used") or [] if isinstance(s, dict)]
        known = [d for d in dates if d]
        published = max(known) if known else None
    records: list[tuple[dict[str, Any], str]] = []
    for index, record in enumerate(results):
        if not isinstance(record, dict):
            raise ListImportError(f"{path.name}: results[{index}] is not an object")
        records.append((record, f"{path.name}: results[{index}]"))
    return records, published


def read_us_csl(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read a CSL file: ``.json`` (optionally gzipped) or CSV (``.csv`` or ``.csv.gz``)."""
    lowered = path.name.lower()
    if lowered.endswith((".json", ".json.gz")):
        records, published = _json_records(path)
        source_format = "us-csl-json"
    else:
        records, published = list(_csv_records(path)), None
        source_format = "us-csl-csv"
    drafts: dict[str, tuple[EntryDraft, str]] = {}
    skipped: Counter[str] = Counter()
    for record, where in records:
        draft = _record(record, countries, where)
        if draft.id in drafts:
            # The CSL sometimes repeats a record of the same list; it is one listing, so one entry.
            drafts[draft.id][0].merge(draft)
            skipped["repeated records merged into one entry"] += 1
        else:
            drafts[draft.id] = (draft, where)
    entries = build_all(list(drafts.values()), list_name)
    return ParsedList(title="US Consolidated Screening List (trade.gov)", source_format=source_format,
                      published=published, entries=entries, skipped=skipped)
