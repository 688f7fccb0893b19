"""The UN Security Council Consolidated List in the UN's XML format (``<CONSOLIDATED_LIST>``).

``<INDIVIDUAL>`` records become persons, ``<ENTITY>`` records organizations. The id is the UN reference
number (``QDi.123`` -> ``un-qdi-123``). Aliases marked ``Low`` quality become weak aliases; ``Good``,
``a.k.a.`` and ``f.k.a.`` aliases strong ones; the name in original script is a strong alias too. The file's
``dateGenerated`` is the publication date.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_text, parse_date_values, parse_iso_date
from service.lists.entries import EntryDraft, ParsedList, build_all, make_id
from service.lists.identifiers import clean_identifier, identifier_kind
from service.lists.inputs import child_text, children_text, describe, xml_events
from service.rulepack.spec import AliasQuality, EntryType, ListingSpec

_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_ADDRESS_PARTS = ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY")


def read_un_xml(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read the UN consolidated list XML file at ``path``."""
    drafts: list[tuple[EntryDraft, str]] = []
    published = None
    root_seen = False
    index = 0
    with path.open("rb") as stream:
        for event, element in xml_events(stream, path.name):
            if not root_seen:
                root_seen = True
                if element.tag != "CONSOLIDATED_LIST":
                    raise ListImportError(f"{path.name}: expected a <CONSOLIDATED_LIST> document, "
                                          f"found <{element.tag}>")
                published = parse_iso_date(element.get("dateGenerated"))
                continue
            if event == "end" and element.tag in ("INDIVIDUAL", "ENTITY"):
                index += 1
                where = f"{path.name}: {describe(element, index, 'DATAID', 'REFERENCE_NUMBER')}"
                drafts.append((_record(element, list_name, countries, where), where))
                element.clear()
    entries = build_all(drafts, list_name)
    return ParsedList(title="UN Security Council Consolidated List", source_format="un-xml",
                      published=published, entries=entries)


def _record(element: Element, list_name: str, countries: CountryResolver, where: str) -> EntryDraft:
    person = element.tag == "INDIVIDUAL"
    reference = child_text(element, "REFERENCE_NUMBER")
    if not reference:
        raise ListImportError(f"{where}: no <REFERENCE_NUMBER>")
    draft = EntryDraft(id=make_id("un", reference), type=EntryType.person if person else EntryType.organization)
    draft.set_name(" ".join(part for tag in _NAME_PARTS if (part := child_text(element, tag))))
    if not draft.name:
        raise ListImportError(f"{where}: no name (<FIRST_NAME> is empty)")
    listed_on = parse_date_text(child_text(element, "LISTED_ON"))
    draft.add_listing(ListingSpec(authority="UN", programs=[p for p in [child_text(element, "UN_LIST_TYPE")] if p],
                                  date=listed_on if listed_on and len(listed_on) == 10 else None,
                                  reference=reference))
    draft.add_alias(child_text(element, "NAME_ORIGINAL_SCRIPT"))
    alias_tag = "INDIVIDUAL_ALIAS" if person else "ENTITY_ALIAS"
    for alias in element.findall(alias_tag):
        quality = AliasQuality.weak if child_text(alias, "QUALITY").casefold() == "low" else AliasQuality.strong
        draft.add_alias(child_text(alias, "ALIAS_NAME"), quality)
    for value in children_text(element, "NATIONALITY/VALUE"):
        draft.add_country(countries.resolve(value))
    address_tag = "INDIVIDUAL_ADDRESS" if person else "ENTITY_ADDRESS"
    for address in element.findall(address_tag):
        parts = [child_text(address, tag) for tag in _ADDRESS_PARTS]
        if parts[-1]:
            draft.add_country(countries.resolve(parts[-1]))
        if any(parts[:-1]):
            draft.add_address(", ".join(p for p in parts if p))
    for birth in element.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        for tag in ("DATE", "YEAR", "FROM_YEAR", "TO_YEAR"):
            for value in parse_date_values(child_text(birth, tag)):
                draft.add_birth_date(value)
    for document in element.findall("INDIVIDUAL_DOCUMENT"):
        doc_type, number = child_text(document, "TYPE_OF_DOCUMENT"), child_text(document, "NUMBER")
        issuer = child_text(document, "ISSUING_COUNTRY") or child_text(document, "COUNTRY_OF_ISSUE")
        country = countries.resolve(issuer) if issuer else None
        kind = identifier_kind(doc_type, country, number)
        if kind is not None and number:
            draft.add_identifier(kind, clean_identifier(kind, number))
        elif number:
            draft.add_note(f"{doc_type} {number}".strip())
    for place in element.findall("INDIVIDUAL_PLACE_OF_BIRTH"):
        text = ", ".join(p for tag in ("CITY", "STATE_PROVINCE", "COUNTRY") if (p := child_text(place, tag)))
        if text:
            draft.add_note(f"POB {text}")
    for value in children_text(element, "DESIGNATION/VALUE"):
        draft.add_note(f"designation: {value}")
    return draft
