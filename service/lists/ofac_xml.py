"""OFAC lists in XML: the classic ``sdn.xml`` (``<sdnList>``) and the Enhanced XML (``<sanctionsData>``).

The Enhanced format (SDN_ENHANCED.XML, CONS_ENHANCED.XML, usually zipped) is the one OFAC publishes the
consolidated non-SDN list in; the same reader serves the SDN list in that format. Entity ids are OFAC's own
numbers (the ent_num of the legacy CSV), so the same entry keeps the same id whatever format it came in.

In both formats a low-quality alias is flagged (``category=weak`` / ``isLowQuality``) and becomes a weak
alias. Aircraft are kept as ``organization`` entries with "aircraft" in the notes, as in the CSV reader.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_values, parse_iso_date
from service.lists.entries import EntryDraft, ParsedList, build_all
from service.lists.identifiers import clean_identifier, identifier_kind
from service.lists.inputs import child_text, children_text, describe, xml_events
from service.lists.ofac_csv import apply_remark, split_remarks
from service.rulepack.spec import AliasQuality, EntryType, ListingSpec

_TYPES = {"individual": EntryType.person, "entity": EntryType.organization, "vessel": EntryType.vessel,
          "aircraft": EntryType.organization}

# Largest XML member of a zip we inflate: OFAC's full SDN_ENHANCED.XML is well under this.
_MAX_XML_BYTES = 2 << 30


@contextmanager
def open_xml(path: Path) -> Iterator[tuple[IO[bytes], str]]:
    """The XML stream of ``path``, which may be a zip holding exactly one .xml file; and its label."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            yield handle, path.name
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.lower().endswith(".xml")]
            if len(members) != 1:
                raise ListImportError(f"{path.name}: expected one .xml file in the zip, found {len(members)}")
            member = members[0]
            if member.file_size > _MAX_XML_BYTES:
                raise ListImportError(f"{path.name}: {member.filename} inflates to {member.file_size} bytes")
            with archive.open(member) as handle:
                yield handle, f"{path.name}/{member.filename}"
    except zipfile.BadZipFile as exc:
        raise ListImportError(f"{path.name}: damaged zip file: {exc}") from exc


def _individual_name(first: str, last: str) -> str:
    """OFAC writes people ``SURNAME, Given Names``; kept that way so every format gives the same name."""
    return f"{last}, {first}" if first and last else (last or first)


# --- classic sdn.xml ----------------------------------------------------------------------------------------


def read_sdn_xml(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read OFAC's classic ``sdn.xml`` (also the consolidated ``consolidated.xml`` in the same layout)."""
    published: date | None = None
    record_count: int | None = None
    drafts: list[tuple[EntryDraft, str]] = []
    with open_xml(path) as (stream, label):
        root_seen = False
        index = 0
        for event, element in xml_events(stream, label):
            if not root_seen:
                root_seen = True
                if element.tag != "sdnList":
                    raise ListImportError(f"{label}: expected an <sdnList> document, found <{element.tag}>")
                continue
            if event != "end":
                continue
            if element.tag == "publshInformation":
                text = child_text(element, "Publish_Date")
                try:
                    published = datetime.strptime(text, "%m/%d/%Y").date() if text else None
                except ValueError:
                    raise ListImportError(f"{label}: <Publish_Date> {text!r} is not MM/DD/YYYY") from None
                count = child_text(element, "Record_Count")
                record_count = int(count) if count.isdigit() else None
            elif element.tag == "sdnEntry":
                index += 1
                where = f"{label}: {describe(element, index, 'uid')}"
                drafts.append((_sdn_entry(element, list_name, countries, where), where))
                element.clear()
    if record_count is not None and record_count != len(drafts):
        raise ListImportError(f"{path.name}: Record_Count says {record_count} entries, the file holds "
                              f"{len(drafts)} (truncated?)")
    entries = build_all(drafts, list_name)
    return ParsedList(title="OFAC sanctions list (sdn.xml)", source_format="ofac-sdn-xml",
                      published=published, entries=entries)


def _sdn_entry(element: Element, list_name: str, countries: CountryResolver, where: str) -> EntryDraft:
    uid = child_text(element, "uid")
    if not uid.isdigit():
        raise ListImportError(f"{where}: <uid> {uid!r} is not a number")
    kind = child_text(element, "sdnType").lower()
    if kind not in _TYPES:
        raise ListImportError(f"{where}: unknown <sdnType> {kind!r}")
    draft = EntryDraft(id=f"{list_name}-{uid}", type=_TYPES[kind])
    draft.set_name(_individual_name(child_text(element, "firstName"), child_text(element, "lastName")))
    if not draft.name:
        raise ListImportError(f"{where}: no <lastName>")
    draft.add_listing(ListingSpec(authority="OFAC", programs=children_text(element, "programList/program"),
                                  reference=uid))
    if kind == "aircraft":
        draft.add_note("aircraft")
    if title := child_text(element, "title"):
        draft.add_note(f"title: {title}")
    for aka in element.findall("akaList/aka"):
        weak = child_text(aka, "category").lower() == "weak"
        draft.add_alias(_individual_name(child_text(aka, "firstName"), child_text(aka, "lastName")),
                        AliasQuality.weak if weak else AliasQuality.strong)
    for item in element.findall("idList/id"):
        id_type, number = child_text(item, "idType"), child_text(item, "idNumber")
        country = countries.resolve(child_text(item, "idCountry")) if child_text(item, "idCountry") else None
        id_kind = identifier_kind(id_type, country, number)
        if id_kind is not None and number:
            draft.add_identifier(id_kind, clean_identifier(id_kind, number))
        elif number:
            draft.add_note(f"{id_type} {number}")
    for address in element.findall("addressList/address"):
        parts = [child_text(address, tag) for tag in
                 ("address1", "address2", "address3", "city", "stateOrProvince", "postalCode", "country")]
        draft.add_country(countries.resolve(parts[-1]) if parts[-1] else None)
        if any(parts[:-1]):
            draft.add_address(", ".join(p for p in parts if p))
    for path in ("nationalityList/nationality", "citizenshipList/citizenship"):
        for node in element.findall(path):
            draft.add_country(countries.resolve(child_text(node, "country")))
    for text in children_text(element, "dateOfBirthList/dateOfBirthItem/dateOfBirth"):
        for value in parse_date_values(text):
            draft.add_birth_date(value)
    for text in children_text(element, "placeOfBirthList/placeOfBirthItem/placeOfBirth"):
        draft.add_note(f"POB {text}")
    vessel = element.find("vesselInfo")
    if vessel is not None:
        if flag := child_text(vessel, "vesselFlag"):
            draft.flag = countries.resolve(flag)
        for tag, label in (("callSign", "call sign"), ("vesselType", "vessel type"), ("tonnage", "tonnage"),
                           ("grossRegisteredTonnage", "GRT"), ("vesselOwner", "owner")):
            if value := child_text(vessel, tag):
                draft.add_note(f"{label}: {value}")
    for remark in split_remarks(child_text(element, "remarks")):
        apply_remark(draft, remark, countries)
    return draft


# --- Enhanced XML -------------------------------------------------------------------------------------------


class _Reference:
    """The ``referenceValues`` of an Enhanced file: country refId -> ISO code."""

    def __init__(self) -> None:
        self.country_codes: dict[str, str] = {}

    def add(self, element: Element) -> None:
        if child_text(element, "type") == "COUNTRY" and (iso := child_text(element, "isoCode")):
            self.country_codes[element.get("refId", "")] = iso.upper()

    def country(self, ref_id: str | None, text: str, countries: CountryResolver) -> str | None:
        if ref_id and ref_id in self.country_codes:
            return self.country_codes[ref_id]
        return countries.resolve(text) if text else None


def read_enhanced_xml(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read an OFAC Enhanced XML file (zipped or not): CONS_ENHANCED for ofac-cons, SDN_ENHANCED for ofac-sdn."""
    published: date | None = None
    reference = _Reference()
    drafts: list[tuple[EntryDraft, str]] = []
    relations: dict[str, list[str]] = {}
    list_names: Counter[str] = Counter()
    with open_xml(path) as (stream, label):
        root_seen = False
        index = 0
        for event, element in xml_events(stream, label):
            if not root_seen:
                root_seen = True
                if element.tag != "sanctionsData":
                    raise ListImportError(f"{label}: expected a <sanctionsData> document (OFAC Enhanced XML), "
                                          f"found <{element.tag}>")
                continue
            if event != "end":
                continue
            if element.tag == "publicationInfo":
                published = parse_iso_date(child_text(element, "dataAsOf"))
            elif element.tag == "referenceValue":
                reference.add(element)
            elif element.tag == "entity":
                index += 1
                where = f"{label}: {describe(element, index, 'id')}"
                draft, related = _enhanced_entity(element, list_name, reference, countries, where)
                list_names.update(children_text(element, "sanctionsLists/sanctionsList"))
                relations[draft.id] = related
                drafts.append((draft, where))
                element.clear()
    known = {draft.id for draft, _ in drafts}
    for draft, _ in drafts:
        draft.related = [r for r in relations[draft.id] if r in known]
    entries = build_all(drafts, list_name)
    main_list = "SDN List" if list_name == "ofac-sdn" else "Consolidated List"
    title = f"OFAC {main_list} (Enhanced XML)" if main_list in list_names or not list_names else \
        f"OFAC sanctions lists (Enhanced XML): {', '.join(sorted(list_names))}"
    return ParsedList(title=title, source_format="ofac-enhanced-xml", published=published, entries=entries)


def _enhanced_entity(element: Element, list_name: str, reference: _Reference, countries: CountryResolver,
                     where: str) -> tuple[EntryDraft, list[str]]:
    entity_id = element.get("id", "")
    if not entity_id.isdigit():
        raise ListImportError(f"{where}: id {entity_id!r} is not a number")
    kind = child_text(element, "generalInfo/entityType").lower()
    if kind not in _TYPES:
        raise ListImportError(f"{where}: unknown <entityType> {kind!r}")
    draft = EntryDraft(id=f"{list_name}-{entity_id}", type=_TYPES[kind])
    if kind == "aircraft":
        draft.add_note("aircraft")

    dates = sorted(d for node in element.findall("sanctionsLists/sanctionsList")
                   if (d := node.get("datePublished")))
    draft.add_listing(ListingSpec(authority="OFAC",
                                  programs=children_text(element, "sanctionsPrograms/sanctionsProgram"),
                                  date=dates[0] if dates else None, reference=entity_id))
    lists = [name for name in children_text(element, "sanctionsLists/sanctionsList")
             if name not in ("Consolidated List", "SDN List")]
    if lists:
        draft.add_note(f"OFAC lists: {', '.join(lists)}")

    for name in element.findall("names/name"):
        primary = child_text(name, "isPrimary") == "true"
        weak = child_text(name, "isLowQuality") == "true"
        for translation in name.findall("translations/translation"):
            full = child_text(translation, "formattedFullName")
            if primary and child_text(translation, "isPrimary") == "true":
                draft.set_name(full)
            else:
                quality = AliasQuality.weak if weak and not primary else AliasQuality.strong
                draft.add_alias(full, quality)
    if not draft.name:
        raise ListImportError(f"{where}: no primary name")

    for address in element.findall("addresses/address"):
        country_node = address.find("country")
        country_text = (country_node.text or "").strip() if country_node is not None else ""
        country = reference.country(country_node.get("refId") if country_node is not None else None,
                                    country_text, countries)
        draft.add_country(country)
        for translation in address.findall("translations/translation"):
            parts = children_text(translation, "addressParts/addressPart/value")
            if parts:
                draft.add_address(", ".join([*parts, country_text] if country_text else parts))

    for document in element.findall("identityDocuments/identityDocument"):
        doc_type, number = child_text(document, "type"), child_text(document, "documentNumber")
        issuer = document.find("issuingCountry")
        country = reference.country(issuer.get("refId"), (issuer.text or "").strip(), countries) \
            if issuer is not None else None
        id_kind = identifier_kind(doc_type, country, number)
        if id_kind is not None and number:
            draft.add_identifier(id_kind, clean_identifier(id_kind, number))
        elif number:
            draft.add_note(f"{doc_type} {number}")

    for feature in element.findall("features/feature"):
        _apply_feature(draft, feature, reference, countries)

    for item in split_remarks(child_text(element, "generalInfo/remarks")):
        apply_remark(draft, item, countries)
    related = [f"{list_name}-{node.get('entityId')}" for node in
               element.findall("relationships/relationship/relatedEntity") if node.get("entityId")]
    return draft, related


_COUNTRY_FEATURES = {"nationality country", "citizenship country", "nationality of registration"}
_VESSEL_NOTES = {"vessel call sign": "call sign", "vessel type": "vessel type", "vessel owner": "owner",
                 "vessel tonnage": "tonnage", "vessel gross registered tonnage": "GRT"}


def _apply_feature(draft: EntryDraft, feature: Element, reference: _Reference,
                   countries: CountryResolver) -> None:
    feature_type = child_text(feature, "type")
    key = feature_type.casefold()
    value = child_text(feature, "value")
    if key == "birthdate":
        for parsed in parse_date_values(value):
            draft.add_birth_date(parsed)
    elif key in _COUNTRY_FEATURES:
        draft.add_country(reference.country(child_text(feature, "valueRefId"), value, countries))
    elif key == "vessel flag":
        draft.flag = reference.country(child_text(feature, "valueRefId"), value, countries)
    elif key == "place of birth" and value:
        draft.add_note(f"POB {value}")
    elif key in _VESSEL_NOTES and value:
        draft.add_note(f"{_VESSEL_NOTES[key]}: {value}")
    elif value:
        draft.add_note(f"{feature_type} {value}")
