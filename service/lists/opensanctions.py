"""OpenSanctions data as FollowTheMoney (FtM) entities, one JSON object per line.

Each line is ``{"id", "schema", "properties": {name: [values]}, "datasets", "target", "first_seen",
"last_change", ...}``. Entities of schema Person become persons; Company, Organization, LegalEntity and
PublicBody organizations; Vessel vessels; Airplane organizations with "aircraft" in the notes (as the OFAC
readers do). Every other schema (Sanction, Address, Ownership...) and every entity marked ``"target": false``
is skipped and counted. Nested exports (property values that are entities) are read for their sanctions and
addresses.

FtM ids may hold upper-case letters (``NK-2bG7...``); pack ids may not, so ids are lower-cased and, in the
unlikely case two lower-case to the same id, the second gets a hash of its original id appended. The file has
no publication date; the latest ``last_change`` of its entities stands in for it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_text, parse_iso_date
from service.lists.entries import EntryDraft, ParsedList, build_all, clean_text, make_id
from service.lists.identifiers import clean_identifier, identifier_kind
from service.lists.inputs import decode
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, EntryType, ListingSpec

_SCHEMAS = {"Person": EntryType.person, "Company": EntryType.organization,
            "Organization": EntryType.organization, "LegalEntity": EntryType.organization,
            "PublicBody": EntryType.organization, "Vessel": EntryType.vessel,
            "Airplane": EntryType.organization}
_IDENTIFIER_PROPERTIES = {"imoNumber": IdentifierKind.imo, "innCode": IdentifierKind.inn,
                          "ogrnCode": IdentifierKind.ogrn, "okpoCode": IdentifierKind.okpo,
                          "leiCode": IdentifierKind.lei, "registrationNumber": IdentifierKind.registration,
                          "taxNumber": IdentifierKind.tax_id, "vatCode": IdentifierKind.tax_id,
                          "idNumber": IdentifierKind.national_id, "passportNumber": IdentifierKind.passport}
_COUNTRY_PROPERTIES = ("country", "jurisdiction", "nationality", "citizenship", "mainCountry")
_NOTE_PROPERTIES = ("swiftBic", "position", "notes", "sector", "legalForm")


def _values(properties: dict[str, Any], key: str) -> list[str]:
    """Text values of a property (nested entity values are skipped here)."""
    raw = properties.get(key) or []
    if not isinstance(raw, list):
        raw = [raw]
    return [text for value in raw if not isinstance(value, dict) and (text := clean_text(value))]


def _nested(properties: dict[str, Any], key: str) -> list[dict[str, Any]]:
    raw = properties.get(key) or []
    return [value.get("properties") or {} for value in raw if isinstance(value, dict)]


def read_ftm_json(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read an FtM JSON-lines file (``.json``, ``.jsonl``, ``.ftm.json``, optionally gzipped)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ListImportError(f"{path.name}: damaged gzip file: {exc}") from exc
    text = decode(data, path.name)
    skipped: Counter[str] = Counter()
    drafts: list[tuple[EntryDraft, str]] = []
    used: dict[str, str] = {}
    changed: list[date] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}: line {number}"
        try:
            entity = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ListImportError(f"{where}, column {exc.colno}: malformed JSON: {exc.msg}") from exc
        if not isinstance(entity, dict) or not isinstance(entity.get("properties", {}), dict):
            raise ListImportError(f"{where}: not an FtM entity object")
        schema = entity.get("schema")
        if not isinstance(schema, str) or not entity.get("id"):
            raise ListImportError(f"{where}: an FtM entity needs 'id' and 'schema'")
        if schema not in _SCHEMAS:
            skipped[f"schema {schema}"] += 1
            continue
        if entity.get("target") is False:
            skipped["not a sanctions target"] += 1
            continue
        original = str(entity["id"])
        ident = make_id("os", original)
        if ident in used and used[ident] != original:
            ident = make_id("os", f"{original}-{hashlib.sha1(original.encode()).hexdigest()[:8]}")
        used[ident] = original
        if last := parse_iso_date(str(entity.get("last_change") or "")):
            changed.append(last)
        drafts.append((_entity(entity, ident, schema, countries, where), where))
    entries = build_all(drafts, list_name)
    return ParsedList(title="OpenSanctions (FollowTheMoney entities)", source_format="ftm-jsonl",
                      published=max(changed) if changed else None, entries=entries, skipped=skipped)


def _entity(entity: dict[str, Any], ident: str, schema: str, countries: CountryResolver,
            where: str) -> EntryDraft:
    properties: dict[str, Any] = entity.get("properties") or {}
    draft = EntryDraft(id=ident, type=_SCHEMAS[schema])
    names = _values(properties, "name")
    if not names:
        raise ListImportError(f"{where}: entity {entity['id']} has no 'name' property")
    draft.set_name(names[0])
    for name in [*names[1:], *_values(properties, "alias"), *_values(properties, "previousName")]:
        draft.add_alias(name)
    for name in _values(properties, "weakAlias"):
        draft.add_alias(name, AliasQuality.weak)
    if schema == "Airplane":
        draft.add_note("aircraft")

    for key in _COUNTRY_PROPERTIES:
        for value in _values(properties, key):
            draft.add_country(countries.resolve(value.upper() if len(value) == 2 else value))
    for value in _values(properties, "flag"):
        draft.flag = countries.resolve(value.upper() if len(value) == 2 else value)
    russian = "RU" in draft.countries
    for key, kind in _IDENTIFIER_PROPERTIES.items():
        for value in _values(properties, key):
            if kind == IdentifierKind.tax_id and russian:
                kind = identifier_kind("Tax ID No.", "RU", value) or kind
            draft.add_identifier(kind, clean_identifier(kind, value))
    for value in _values(properties, "address"):
        draft.add_address(value)
    for address in _nested(properties, "addressEntity"):
        for value in _values(address, "full"):
            draft.add_address(value)
    for value in _values(properties, "birthDate"):
        draft.add_birth_date(parse_date_text(value))
    for key in _NOTE_PROPERTIES:
        for value in _values(properties, key):
            draft.add_note(f"{key}: {value}")
    if topics := _values(properties, "topics"):
        draft.add_note(f"topics: {', '.join(topics)}")

    first_seen = parse_iso_date(str(entity.get("first_seen") or ""))
    datasets = [str(d) for d in entity.get("datasets") or []]
    programs = _values(properties, "program") or _values(properties, "programId") or datasets
    draft.add_listing(ListingSpec(authority="OpenSanctions", programs=programs,
                                  date=first_seen.isoformat() if first_seen else None,
                                  reference=str(entity["id"])))
    for sanction in _nested(properties, "sanctions"):
        start = parse_iso_date((_values(sanction, "startDate") or [""])[0])
        draft.add_listing(ListingSpec(
            authority=(_values(sanction, "authority") or ["OpenSanctions"])[0],
            programs=_values(sanction, "program") or _values(sanction, "programId"),
            date=start.isoformat() if start else None,
            reference=next(iter(_values(sanction, "authorityId") or _values(sanction, "unscId")), None)))
    return draft
