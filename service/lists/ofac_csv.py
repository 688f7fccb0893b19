"""OFAC SDN list in OFAC's legacy CSV layout: sdn.csv + alt.csv + add.csv + sdn_comments.csv.

The layout (OFAC's ``dat_spec.txt``): no header row, ``-0-`` for an empty field, a 0x1A end-of-file byte after
the last row. ``sdn.csv`` holds one row per entry (ent_num, name, type, programs, title, call sign, vessel
type, tonnage, GRT, vessel flag, vessel owner, remarks); ``alt.csv`` the strong aliases; ``add.csv`` the
addresses; ``sdn_comments.csv`` the continuation of Remarks longer than the 1,000 characters sdn.csv holds.

Remarks carry much of the data as ``;``-separated items: the weak aliases (``a.k.a. 'BNC'``: OFAC lists weak
AKAs only there, never in alt.csv), dates of birth, nationalities, identifiers (``Tax ID No. 7744001497
(Russia)``), and for vessels the IMO number (``Vessel Registration Identification IMO 7406784``).

Aircraft are kept (they count as SDN entries) as ``organization`` entries named by their registration mark,
with "aircraft" and the model in the notes.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_values
from service.lists.entries import EntryDraft, ParsedList, build_all
from service.lists.identifiers import REMARK_LABELS, clean_identifier, identifier_kind
from service.lists.inputs import csv_rows, read_text
from service.rulepack.spec import AliasQuality, EntryType, ListingSpec

# The four files of a legacy publication: the SDN list's, and the consolidated (non-SDN) list's.
SDN_FILES = ("sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv")
CONS_FILES = ("cons_prim.csv", "cons_alt.csv", "cons_add.csv", "cons_comments.csv")

_NULL = "-0-"
_EOF = "\x1a"
_TYPES = {"individual": EntryType.person, "vessel": EntryType.vessel, "aircraft": EntryType.organization,
          "": EntryType.organization}

_ALIAS = re.compile(r"^([afn])\.k\.a\.,?\s+'(.*)'$", re.IGNORECASE)
_DOB = re.compile(r"^(?:alt\.\s+)?DOB\s+(.+)$")
_NATIONALITY = re.compile(r"^(?:alt\.\s+)?(?:nationality|citizen|Nationality of Registration)\s+(.+)$")
_TRAILING_COUNTRY = re.compile(r"\s*\(([^()]*)\)\s*$")
_VALUE_TAIL = re.compile(r"\s+(?:issued|expires|Issue Date|Expire Date|Expiration Date)\b.*$", re.IGNORECASE)


def field_value(value: str) -> str:
    """A legacy CSV field without padding; '' for OFAC's ``-0-`` null."""
    text = value.strip()
    return "" if text == _NULL else text


def split_programs(text: str) -> list[str]:
    """``IRAN] [SDGT`` -> ``['IRAN', 'SDGT']`` (OFAC joins several programs with '] [')."""
    return [p.strip(" []") for p in text.split("] [") if p.strip(" []")]


def split_remarks(remarks: str) -> list[str]:
    """The ``;``-separated items of a Remarks field, without the final full stop."""
    text = remarks.strip()
    if text.endswith("."):
        text = text[:-1]
    return [item.strip() for item in text.split("; ") if item.strip()]


def apply_remark(draft: EntryDraft, item: str, countries: CountryResolver) -> None:
    """Put one Remarks item where it belongs in ``draft``: alias, birth date, country, identifier or note."""
    if match := _ALIAS.match(item):
        draft.add_alias(match.group(2), AliasQuality.weak)
        return
    if match := _DOB.match(item):
        for value in parse_date_values(match.group(1)):
            draft.add_birth_date(value)
        return
    if match := _NATIONALITY.match(item):
        draft.add_country(countries.resolve(match.group(1)))
        return
    body = item[len("alt. "):] if item.startswith("alt. ") else item
    for label in REMARK_LABELS:
        if body.startswith(label + " "):
            rest = _VALUE_TAIL.sub("", body[len(label) + 1:])
            country_text = ""
            if match := _TRAILING_COUNTRY.search(rest):
                country_text = match.group(1)
                rest = rest[: match.start()]
            number = rest.strip()
            country = countries.resolve(country_text) if country_text else None
            kind = identifier_kind(label, country, number)
            if kind is not None and number:
                draft.add_identifier(kind, clean_identifier(kind, number))
                return
            break
    draft.add_note(item)


def _rows(path: Path, width: int) -> list[tuple[int, list[str]]]:
    """Rows of a legacy file, refusing any row that does not have ``width`` fields."""
    label = path.name
    rows: list[tuple[int, list[str]]] = []
    for line, row in csv_rows(read_text(path), label):
        if len(row) < 2 and (not row or row[0].strip() in ("", _EOF)):
            continue  # blank lines and the end-of-file byte
        if len(row) != width:
            raise ListImportError(f"{label}: line {line}: expected {width} fields, found {len(row)}")
        if not row[0].strip().isdigit():
            raise ListImportError(f"{label}: line {line}: ent_num {row[0].strip()!r} is not a number")
        rows.append((line, row))
    return rows


@dataclass(frozen=True)
class LegacyFiles:
    """The files of one legacy publication; only the main file is required."""

    main: Path
    aliases: Path | None = None
    addresses: Path | None = None
    comments: Path | None = None

    @classmethod
    def beside(cls, main: Path) -> LegacyFiles:
        """``main`` and the alias, address and comment files found next to it under their usual names."""
        names = CONS_FILES if main.name.lower().startswith("cons_") else SDN_FILES

        def sibling(name: str) -> Path | None:
            path = main.parent / name
            return path if path.is_file() else None

        return cls(main=main, aliases=sibling(names[1]), addresses=sibling(names[2]), comments=sibling(names[3]))

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.main, self.aliases, self.addresses, self.comments) if p is not None]


def read_ofac_csv(files: LegacyFiles, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read a legacy CSV publication (sdn.csv or cons_prim.csv, with its companions when present)."""
    sdn_path = files.main
    main_label = sdn_path.name
    comments: dict[str, str] = {}
    if files.comments is not None:
        for _, row in _rows(files.comments, 2):
            comments[row[0].strip()] = comments.get(row[0].strip(), "") + row[1]

    drafts: dict[str, tuple[EntryDraft, str]] = {}
    for line, row in _rows(sdn_path, 12):
        ent_num = row[0].strip()
        where = f"{main_label}: line {line}"
        kind = field_value(row[2]).lower()
        if kind not in _TYPES:
            raise ListImportError(f"{where}: unknown SDN_Type {kind!r}")
        draft = EntryDraft(id=f"{list_name}-{ent_num}", type=_TYPES[kind])
        draft.set_name(field_value(row[1]))
        if not draft.name:
            raise ListImportError(f"{where}: SDN_Name is empty")
        draft.add_listing(ListingSpec(authority="OFAC", programs=split_programs(field_value(row[3])),
                                      reference=ent_num))
        if kind == "aircraft":
            draft.add_note("aircraft")
        if title := field_value(row[4]):
            draft.add_note(f"title: {title}")
        vessel_facts = [("call sign", row[5]), ("vessel type", row[6]), ("tonnage", row[7]), ("GRT", row[8]),
                        ("owner", row[10])]
        for label, value in vessel_facts:
            if text := field_value(value):
                draft.add_note(f"{label}: {text}")
        if flag := field_value(row[9]):
            draft.flag = countries.resolve(flag)
        remarks = field_value(row[11]) + comments.get(ent_num, "")
        for item in split_remarks(remarks):
            apply_remark(draft, item, countries)
        if ent_num in drafts:
            raise ListImportError(f"{where}: ent_num {ent_num} already used by {drafts[ent_num][1]}")
        drafts[ent_num] = (draft, where)

    skipped: Counter[str] = Counter()
    if files.aliases is not None:
        for _, row in _rows(files.aliases, 5):
            entry = drafts.get(row[0].strip())
            if entry is None:
                skipped[f"{files.aliases.name} rows of entries not in {main_label}"] += 1
                continue
            entry[0].add_alias(field_value(row[3]))
    if files.addresses is not None:
        addresses: dict[str, list[list[str]]] = defaultdict(list)
        for _, row in _rows(files.addresses, 6):
            addresses[row[0].strip()].append(row)
        for ent_num, rows in addresses.items():
            entry = drafts.get(ent_num)
            if entry is None:
                skipped[f"{files.addresses.name} rows of entries not in {main_label}"] += len(rows)
                continue
            for row in rows:
                parts = [field_value(row[2]), field_value(row[3]), field_value(row[4])]
                country = countries.resolve(parts[2]) if parts[2] else None
                entry[0].add_country(country)
                if any(parts[:2]):
                    entry[0].add_address(", ".join(p for p in parts if p))
                if note := field_value(row[5]):
                    entry[0].add_note(note)

    entries = build_all(list(drafts.values()), list_name)
    consolidated = main_label.lower().startswith("cons_")
    title = "OFAC Consolidated (non-SDN) list" if consolidated else "OFAC Specially Designated Nationals list"
    return ParsedList(title=f"{title} (legacy CSV)",
                      source_format="ofac-legacy-csv", published=None, entries=entries, skipped=skipped)

