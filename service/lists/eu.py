"""The EU consolidated financial sanctions list (Financial Sanctions Files, FSF) in its XML format.

Layout: ``<export generationDate=...>`` holding one ``<sanctionEntity logicalId=... euReferenceNumber=...>``
per listed subject, with attribute-only children: ``<subjectType code="person|enterprise">``,
``<nameAlias wholeName firstName middleName lastName strong=...>``, ``<citizenship countryIso2Code>``,
``<birthdate birthdate year monthOfYear dayOfMonth>``, ``<identification identificationTypeCode number
countryIso2Code>``, ``<address street city zipCode countryIso2Code>``, ``<regulation programme
publicationDate entryIntoForceDate numberTitle>`` and ``<remark>`` texts.

The id is the logicalId (``eu-13``). The first strong name alias is the primary name; a name alias with
``strong="false"`` or a remark calling it low quality is a weak alias. Country code ``00`` means unknown.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

from service.errors import ListImportError
from service.lists.countries import CountryResolver
from service.lists.dates import parse_date_text, parse_iso_date
from service.lists.entries import EntryDraft, ParsedList, build_all, clean_text, make_id
from service.lists.identifiers import clean_identifier, identifier_kind
from service.lists.inputs import describe, xml_events
from service.rulepack.spec import AliasQuality, EntryType, ListingSpec

_SUBJECT_TYPES = {"person": EntryType.person, "enterprise": EntryType.organization}
_ISO2 = re.compile(r"^[A-Z]{2}$")
_OUTDATED_CODES = {"CS": "RS"}  # Serbia and Montenegro, still used in older records


def _country(node: Element, countries: CountryResolver) -> str | None:
    code = (node.get("countryIso2Code") or "").strip().upper()
    if _ISO2.match(code):
        return _OUTDATED_CODES.get(code, code)
    description = node.get("countryDescription") or ""
    return countries.resolve(description) if description else None


def read_eu_xml(path: Path, list_name: str, countries: CountryResolver) -> ParsedList:
    """Read the EU FSF XML file at ``path``."""
    drafts: list[tuple[EntryDraft, str]] = []
    published = None
    root_seen = False
    index = 0
    with path.open("rb") as stream:
        for event, element in xml_events(stream, path.name):
            if not root_seen:
                root_seen = True
                if element.tag != "export":
                    raise ListImportError(f"{path.name}: expected an <export> document (EU FSF XML), "
                                          f"found <{element.tag}>")
                published = parse_iso_date(element.get("generationDate"))
                continue
            if event == "end" and element.tag == "sanctionEntity":
                index += 1
                where = f"{path.name}: {describe(element, index, 'logicalId', 'euReferenceNumber')}"
                drafts.append((_entity(element, countries, where), where))
                element.clear()
    entries = build_all(drafts, list_name)
    return ParsedList(title="EU consolidated list of financial sanctions (FSF)", source_format="eu-fsf-xml",
                      published=published, entries=entries)


def _is_weak(alias: Element) -> bool:
    if (alias.get("strong") or "true").strip().lower() == "false":
        return True
    remarks = " ".join(text.casefold() for node in alias.findall("remark") if (text := node.text))
    return "low quality" in remarks


def _entity(element: Element, countries: CountryResolver, where: str) -> EntryDraft:
    logical_id = (element.get("logicalId") or "").strip()
    if not logical_id.isdigit():
        raise ListImportError(f"{where}: logicalId {logical_id!r} is not a number")
    subject = element.find("subjectType")
    code = (subject.get("code") or "").strip().lower() if subject is not None else ""
    if code not in _SUBJECT_TYPES:
        raise ListImportError(f"{where}: <subjectType> code {code!r} is neither 'person' nor 'enterprise'")
    draft = EntryDraft(id=make_id("eu", logical_id), type=_SUBJECT_TYPES[code])

    aliases = element.findall("nameAlias")
    names = [(clean_text(a.get("wholeName")) or " ".join(
        p for key in ("firstName", "middleName", "lastName") if (p := clean_text(a.get(key)))), _is_weak(a), a)
             for a in aliases]
    primary = next((name for name, weak, _ in names if name and not weak), "")
    draft.set_name(primary)
    for name, weak, alias in names:
        draft.add_alias(name, AliasQuality.weak if weak else AliasQuality.strong)
        if function := clean_text(alias.get("function")):
            draft.add_note(f"function: {function}")
        if title := clean_text(alias.get("title")):
            draft.add_note(f"title: {title}")
    if not draft.name and not draft.aliases:
        raise ListImportError(f"{where}: no <nameAlias> with a name")

    regulations = element.findall("regulation")
    programmes = list(dict.fromkeys(p for r in regulations if (p := clean_text(r.get("programme")))))
    dates = sorted(d for r in regulations for key in ("entryIntoForceDate", "publicationDate")
                   if (d := (r.get(key) or "").strip()) and parse_iso_date(d))
    designated = parse_iso_date(element.get("designationDate")) or (parse_iso_date(dates[0]) if dates else None)
    draft.add_listing(ListingSpec(authority="EU", programs=programmes,
                                  date=designated.isoformat() if designated else None,
                                  reference=clean_text(element.get("euReferenceNumber")) or logical_id))
    if un_id := clean_text(element.get("unitedNationId")):
        draft.add_note(f"UN reference: {un_id}")

    for node in element.findall("citizenship"):
        draft.add_country(_country(node, countries))
    for node in element.findall("birthdate"):
        full = parse_date_text(node.get("birthdate"))
        parts = [node.get("year"), node.get("monthOfYear"), node.get("dayOfMonth")]
        partial = parse_date_text("-".join(p.strip() for p in parts if p and p.strip().isdigit()))
        draft.add_birth_date(full or partial)
        if place := ", ".join(p for key in ("city", "place", "region") if (p := clean_text(node.get(key)))):
            draft.add_note(f"POB {place}")
    for node in element.findall("identification"):
        type_code = (node.get("identificationTypeCode") or "").strip()
        number = clean_text(node.get("number")) or clean_text(node.get("latinNumber"))
        country = _country(node, countries)
        kind = identifier_kind(type_code, country, number) if type_code not in ("", "other") else None
        if kind is not None and number:
            draft.add_identifier(kind, clean_identifier(kind, number))
        elif number:
            description = clean_text(node.get("identificationTypeDescription")) or type_code
            draft.add_note(f"{description} {number}")
    for node in element.findall("address"):
        country = _country(node, countries)
        draft.add_country(country)
        parts = [clean_text(node.get(key)) for key in ("street", "poBox", "city", "zipCode", "region", "place")]
        description = clean_text(node.get("countryDescription"))
        if any(parts):
            draft.add_address(", ".join(p for p in [*parts, description if description != "UNKNOWN" else ""]
                                        if p))
        for contact in node.findall("contactInfo"):
            if value := clean_text(contact.get("value")):
                draft.add_note(f"{clean_text(contact.get('key')).lower() or 'contact'}: {value}")
    for node in element.findall("remark"):
        draft.add_note(node.text)
    return draft
