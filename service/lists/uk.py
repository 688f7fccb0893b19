"""The UK lists: OFSI's Consolidated List (ConList, xlsx) and the FCDO UK Sanctions List as CSV tables.

Both give each target a UK Sanctions List reference (``RUS2080``), which is the id (``uk-rus2080``), so an
entry keeps its id when a user moves from the ConList to the UK Sanctions List.

ConList xlsx: sheet ``Data``, row 1 ``Last Updated, DD/MM/YYYY`` (the publication date), row 2 the header, then
one row per name; the rows of one target share a ``Group ID``. Name 1-5 are given names and Name 6 the family
name (an entity's whole name is in Name 6). ``Alias Quality`` "Low quality" makes a weak alias. Ships carry
their IMO number and flag in ``Other Information`` as ``(IMO number):7408873 (Flag of ship):North Korea``.

UK Sanctions List tables (``subjects.csv``, ``subject_names.csv``, ``subject_dobs.csv``,
``subject_countries.csv``, ``subject_identifiers.csv``): one row per subject in ``subjects.csv``, keyed by
``unique_id`` (the UK reference). These tables carry no publication date; the latest ``last_updated`` of any
subject stands in for it (the list was published on or after that day).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from functools import lru_cache
from pathlib import Path

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_text, parse_day_first
from service.lists.entries import EntryDraft, ParsedList, build_all, clean_text, make_id
from service.lists.identifiers import business_numbers, clean_identifier, identifier_kind, numbered_parts
from service.lists.inputs import csv_dicts, csv_rows, read_text
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, EntryType, ListingSpec

CONLIST_COLUMNS = ("Name 6", "Name 1", "Name 2", "Name 3", "Name 4", "Name 5", "Title", "Name Non-Latin Script",
                   "DOB", "Nationality", "Passport Number", "National Identification Number", "Position",
                   "Address 1", "Address 2", "Address 3", "Address 4", "Address 5", "Address 6", "Post/Zip Code",
                   "Country", "Other Information", "Group Type", "Alias Type", "Alias Quality", "Regime",
                   "Listed On", "Group ID")
TABLE_FILES = ("subjects.csv", "subject_names.csv", "subject_dobs.csv", "subject_countries.csv",
               "subject_identifiers.csv")

_GROUP_TYPES = {"individual": EntryType.person, "entity": EntryType.organization, "ship": EntryType.vessel}
_UK_REF = re.compile(r"\(UK Sanctions List Ref\):\s*([A-Za-z]+\d+)")
_LABELLED = re.compile(r"\(([A-Z][^()]{1,40})\):\s*(.*?)(?=\s*\([A-Z][^()]{1,40}\):|$)", re.DOTALL)
_REF_PREFIX = re.compile(r"^([A-Za-z]+)")


@lru_cache(maxsize=4096)
def _labelled(text: str) -> dict[str, str]:
    """``(IMO number):7408873 (Flag of ship):North Korea`` -> ``{'IMO number': '7408873', ...}``."""
    return {label: clean_text(value) for label, value in _LABELLED.findall(text)}


def _listing(regime: str, designated: date | None, reference: str) -> ListingSpec:
    return ListingSpec(authority="UK", programs=[regime] if regime else [],
                       date=designated.isoformat() if designated else None, reference=reference)


# --- OFSI ConList (xlsx) ------------------------------------------------------------------------------------


def read_conlist_xlsx(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read OFSI's ConList workbook (``.xlsx``)."""
    from openpyxl import load_workbook  # imported here: only this reader needs it, and it is slow to import

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for a damaged file
        raise ListImportError(f"{path.name}: not a readable xlsx workbook: {exc}") from exc
    try:
        sheet = workbook["Data"] if "Data" in workbook.sheetnames else workbook.worksheets[0]
        rows = [(number, [clean_text(cell) for cell in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    return _read_conlist(rows, path.name, "uk-ofsi-conlist-xlsx", list_name, countries)


def read_conlist_csv(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read OFSI's ConList in its CSV form (same layout as the workbook: title row, header row, names)."""
    rows = list(csv_rows(read_text(path), path.name))
    return _read_conlist(rows, path.name, "uk-ofsi-conlist-csv", list_name, countries)


def _read_conlist(rows: list[tuple[int, list[str]]], label: str, source_format: str, list_name: str,
                  countries: CountryResolver) -> ParsedList:
    if len(rows) < 2:
        raise ListImportError(f"{label}: row 1 (title) and row 2 (header) are missing")
    (_, title_row), (header_line, header_row) = rows[0], rows[1]
    published = parse_day_first(title_row[1] if len(title_row) > 1 else "")
    header = [clean_text(cell) for cell in header_row]
    missing = [column for column in CONLIST_COLUMNS if column not in header]
    if missing:
        raise ListImportError(f"{label}: row {header_line}: missing columns {', '.join(missing)}")
    groups: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for number, values in rows[2:]:
        if all(not clean_text(value) for value in values):
            continue
        if len(values) > len(header) and any(clean_text(v) for v in values[len(header):]):
            raise ListImportError(f"{label}: row {number}: {len(values)} fields, the header has {len(header)}")
        row = {column: clean_text(value) for column, value in zip(header, values, strict=False)}
        row.update(dict.fromkeys(header[len(values):], ""))
        if not row.get("Group ID"):
            raise ListImportError(f"{label}: row {number}: no Group ID")
        groups[row["Group ID"]].append((number, row))
    drafts = [_conlist_group(group_id, group_rows, list_name, countries, label)
              for group_id, group_rows in groups.items()]
    entries = build_all(drafts, list_name)
    return ParsedList(title="HM Treasury OFSI Consolidated List of Financial Sanctions Targets",
                      source_format=source_format, published=published, entries=entries)


def _conlist_group(group_id: str, rows: list[tuple[int, dict[str, str]]], list_name: str,
                   countries: CountryResolver, label: str) -> tuple[EntryDraft, str]:
    first_row = rows[0][0]
    where = f"{label}: row {first_row} (Group ID {group_id})"
    group_type = rows[0][1]["Group Type"].lower()
    if group_type not in _GROUP_TYPES:
        raise ListImportError(f"{where}: unknown Group Type {rows[0][1]['Group Type']!r}")
    reference = next((m.group(1) for _, row in rows if (m := _UK_REF.search(row["Other Information"]))), "")
    draft = EntryDraft(id=make_id("uk", reference) if reference else make_id("uk-ofsi", group_id),
                       type=_GROUP_TYPES[group_type])
    # the primary name first, then its variations, then aliases, so set_name sees the primary name first
    order = {"primary name": 0, "primary name variation": 1}
    for number, row in sorted(rows, key=lambda item: order.get(item[1]["Alias Type"].lower(), 2)):
        if row["Group Type"].lower() != group_type:
            raise ListImportError(f"{label}: row {number}: Group Type {row['Group Type']!r} differs from the "
                                  f"group's {group_type!r}")
        name = " ".join(part for column in ("Name 1", "Name 2", "Name 3", "Name 4", "Name 5", "Name 6")
                        if (part := row[column]))
        alias_type = row["Alias Type"].lower()
        if alias_type == "primary name" and not draft.name:
            draft.set_name(name)
        else:
            weak = row["Alias Quality"].lower().startswith("low")
            draft.add_alias(name, AliasQuality.weak if weak else AliasQuality.strong)
        draft.add_alias(row["Name Non-Latin Script"])
        _conlist_facts(draft, row, countries)
    designated = next((d for _, row in rows if (d := parse_day_first(row.get("UK Sanctions List Date Designated", "")
                                                                     or row["Listed On"]))), None)
    regime = rows[0][1]["Regime"]
    draft.add_listing(_listing(regime, designated, reference or f"OFSI group {group_id}"))
    return draft, where


def _conlist_facts(draft: EntryDraft, row: dict[str, str], countries: CountryResolver) -> None:
    for value in numbered_parts(row["Nationality"]):
        draft.add_country(countries.resolve(value))
    country = row["Country"]
    if country:
        draft.add_country(countries.resolve(country))
    address = [row[c] for c in ("Address 1", "Address 2", "Address 3", "Address 4", "Address 5", "Address 6",
                                "Post/Zip Code")]
    if any(address):
        draft.add_address(", ".join(p for p in [*address, country] if p))
    for value in numbered_parts(row["DOB"]):
        draft.add_birth_date(parse_date_text(value))
    for column, kind in (("Passport Number", "Passport"), ("National Identification Number", "National ID No.")):
        for number in numbered_parts(row[column]):
            id_kind = identifier_kind(kind)
            if id_kind is not None:
                draft.add_identifier(id_kind, number)
    if row["Title"]:
        draft.add_note(f"title: {row['Title']}")
    if row["Position"]:
        draft.add_note(f"position: {row['Position']}")
    facts = _labelled(row["Other Information"])
    if imo := facts.get("IMO number"):
        draft.add_identifier(*_imo(imo))
    if flag := facts.get("Flag of ship"):
        draft.flag = countries.resolve(flag)
    if registration := facts.get("Business Reg No"):
        for kind, number in business_numbers(registration):
            draft.add_identifier(kind, number)
    if un_reference := facts.get("UN Ref"):
        draft.add_note(f"UN reference: {un_reference}")
    for label in ("Type of entity", "Parent company", "Type of ship", "Current owners", "Previous flags"):
        if fact := facts.get(label):
            draft.add_note(f"{label}: {fact}")


def _imo(text: str) -> tuple[IdentifierKind, str]:
    return IdentifierKind.imo, clean_identifier(IdentifierKind.imo, text)


# --- UK Sanctions List (CSV tables) -------------------------------------------------------------------------


def read_uk_tables(folder: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read the UK Sanctions List published as five CSV tables in ``folder``."""
    missing = [name for name in TABLE_FILES if not (folder / name).is_file()]
    if missing:
        raise ListImportError(f"{folder}: missing {', '.join(missing)}")
    drafts: dict[str, tuple[EntryDraft, str]] = {}
    updated: list[date] = []
    for line, row in csv_dicts(read_text(folder / "subjects.csv"), "subjects.csv",
                               ("unique_id", "subject_type", "un_reference_number", "date_designated",
                                "last_updated")):
        where = f"subjects.csv: line {line}"
        subject_type = row["subject_type"].strip().lower()
        if subject_type not in _GROUP_TYPES:
            raise ListImportError(f"{where}: unknown subject_type {row['subject_type']!r}")
        reference = row["unique_id"].strip()
        if not reference:
            raise ListImportError(f"{where}: empty unique_id")
        if reference in drafts:
            raise ListImportError(f"{where}: unique_id {reference} already used by {drafts[reference][1]}")
        draft = EntryDraft(id=make_id("uk", reference), type=_GROUP_TYPES[subject_type])
        prefix = _REF_PREFIX.match(reference)
        draft.add_listing(_listing(prefix.group(1).upper() if prefix else "",
                                   parse_day_first(row["date_designated"]), reference))
        if un_reference := row["un_reference_number"].strip():
            draft.add_note(f"UN reference: {un_reference}")
        if last := parse_day_first(row["last_updated"]):
            updated.append(last)
        drafts[reference] = (draft, where)

    skipped: Counter[str] = Counter()

    def subject(table: str, line: int, row: dict[str, str]) -> EntryDraft | None:
        entry = drafts.get(row["unique_id"].strip())
        if entry is None:
            skipped[f"{table} rows of subjects not in subjects.csv"] += 1
            return None
        return entry[0]

    names = list(csv_dicts(read_text(folder / "subject_names.csv"), "subject_names.csv",
                           ("unique_id", "name_type", "alias_strength", "full_name")))
    order = {"primary": 0, "primary_variation": 1}
    for line, row in sorted(names, key=lambda item: order.get(item[1]["name_type"], 2)):
        target = subject("subject_names.csv", line, row)
        if target is None:
            continue
        if row["name_type"] == "primary" and not target.name:
            target.set_name(row["full_name"])
        else:
            weak = row["alias_strength"].startswith("low")
            target.add_alias(row["full_name"], AliasQuality.weak if weak else AliasQuality.strong)
    for line, row in csv_dicts(read_text(folder / "subject_dobs.csv"), "subject_dobs.csv",
                               ("unique_id", "year", "month", "day")):
        target = subject("subject_dobs.csv", line, row)
        if target is None or not row["year"].strip().isdigit():
            continue
        parts = [row["year"].strip(), row["month"].strip(), row["day"].strip()]
        target.add_birth_date(parse_date_text("-".join(p for p in parts if p.isdigit() and int(p))))
    for line, row in csv_dicts(read_text(folder / "subject_countries.csv"), "subject_countries.csv",
                               ("unique_id", "raw_value", "country_type", "iso")):
        target = subject("subject_countries.csv", line, row)
        if target is None or row["country_type"] == "birth":
            continue
        code = row["iso"].strip().upper()
        target.add_country(code if re.fullmatch(r"[A-Z]{2}", code) else countries.resolve(row["raw_value"]))
    for line, row in csv_dicts(read_text(folder / "subject_identifiers.csv"), "subject_identifiers.csv",
                               ("unique_id", "raw_value", "identifier_type")):
        target = subject("subject_identifiers.csv", line, row)
        if target is None:
            continue
        value, id_type = row["raw_value"].strip(), row["identifier_type"].strip()
        if id_type == "business_registration_numbers":
            for kind, number in business_numbers(value):
                target.add_identifier(kind, number)
        elif id_type == "imo":
            target.add_identifier(*_imo(value))
        elif (id_kind := identifier_kind(id_type)) is not None:
            target.add_identifier(id_kind, value)
        else:
            target.add_note(f"{id_type} {value}")
    entries = build_all(list(drafts.values()), list_name)
    return ParsedList(title="FCDO UK Sanctions List (CSV tables)", source_format="uk-sanctions-list-csv-tables",
                      published=max(updated) if updated else None, entries=entries, skipped=skipped)
