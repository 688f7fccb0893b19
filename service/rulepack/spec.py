"""YAML-facing models of the rule pack (the ``*Spec`` classes).

A pack is a folder::

    pack.yaml                  PackSpec: name, version, thresholds, where the sources live
    lists/*.yaml               ListFileSpec: parties, goods, ports, country groups, address markers, term sets
    rules/<id>.yaml            RuleSpec: one rule per file, the file stem is its id
    rules/<id>.cases.yaml      CasesSpec: records that must and must not fire the rule
    ../seeds/*.yaml            SourceSpec: provenance of every source the pack cites (``sources_dir``)

Every model forbids unknown keys. What a schema cannot check (unique ids, references, templates) is checked
by ``service.rulepack.load``. ``rules/schema.json`` is generated from these models.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.model import Action, IdentifierKind, PartyRole, RouteRole, Severity

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=2, max_length=80,
                          description="kebab-case id, never renamed once released")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
SourceIds = Annotated[list[Id], Field(min_length=1, description="ids of seeds/ files this entry is drawn from")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Verification(StrEnum):
    """How well a fact is established (the fact sheet's tags). U facts match with a lower weight."""

    official = "V-off"
    two_sources = "V-2"
    one_source = "V-1"
    derived = "D"
    unverified = "U"


# --- provenance ---------------------------------------------------------------------------------------------


class SourceSpec(_Spec):
    """One source document: who issued it, when, where to read it, and what we took from it."""

    id: Id
    title: str
    issuer: str
    date: str = Field(description="publication date, YYYY-MM-DD or YYYY-MM or YYYY")
    url: str
    kind: Literal["official", "official-data", "secondary", "news"] = "official"
    verification: Verification
    summary: str = Field(description="our own summary of the document")
    facts: list[str] = Field(min_length=1, description="the facts the pack takes from it, in our words")


# --- pack ---------------------------------------------------------------------------------------------------


class ThresholdsSpec(_Spec):
    """Named score levels that rules refer to (``min_score: confident``) and the matcher's floor."""

    name_floor: float = Field(0.70, ge=0, le=1,
                              description="party/vessel candidates scoring below are dropped")
    levels: dict[str, float] = Field(
        default_factory=lambda: {"confident": 0.90, "weak": 0.78},
        description="named levels usable as min_score / max_score in rules",
    )


class PackSpec(_Spec):
    name: str
    version: str
    description: str = ""
    sources_dir: str = Field("../seeds", description="folder of SourceSpec files, relative to the pack")
    thresholds: ThresholdsSpec = ThresholdsSpec()
    imported_lists: list[str] = Field(default_factory=list,
                                      description="compiled official lists (screening lists import) to load")


# --- lists --------------------------------------------------------------------------------------------------


class EntryType(StrEnum):
    organization = "organization"
    person = "person"
    vessel = "vessel"


class AliasQuality(StrEnum):
    """strong: a full alternative name. weak: a short acronym or low-quality alias, matched only when the
    whole name equals it. derived: a spelling we wrote ourselves (e.g. Cyrillic back-transliterated), which
    may match but is never an entry's only name."""

    strong = "strong"
    weak = "weak"
    derived = "derived"


class AliasSpec(_Spec):
    name: str = Field(min_length=1)
    quality: AliasQuality = AliasQuality.strong


class ListingSpec(_Spec):
    """One designation of the entry by one authority."""

    authority: str = Field(description="OFAC, US-State, UK, EU, UN, BIS ...")
    programs: list[str] = Field(default_factory=list)
    date: str | None = Field(None, description="designation date, YYYY-MM-DD")
    reference: str | None = Field(None, description="the authority's own id, e.g. UK RUS2080")


class PartySpec(_Spec):
    """A listed organisation, person or vessel."""

    id: Id
    type: EntryType
    name: str = Field(min_length=1, description="primary name as listed")
    aliases: list[str | AliasSpec] = Field(default_factory=list)
    countries: list[CountryCode] = Field(default_factory=list)
    listings: list[ListingSpec] = Field(default_factory=list)
    identifiers: dict[IdentifierKind, list[str]] = Field(default_factory=dict)
    addresses: list[str] = Field(default_factory=list)
    birth_dates: list[str] = Field(default_factory=list)
    flag: CountryCode | None = Field(None, description="vessels: flag state")
    related: list[Id] = Field(default_factory=list, description="ids of linked entries (owner, parent)")
    verification: Verification = Verification.official
    notes: str = ""
    sources: SourceIds


class HsCodeSpec(_Spec):
    code: str = Field(pattern=r"^\d{4}(\.?\d{2}){0,3}$", description="4 to 10 digits, dots allowed")
    partial: bool = Field(False, description="an 'ex' code: only part of it is covered, so a match needs a "
                                             "corroborating description or part number")
    note: str = ""


class GoodsSpec(_Spec):
    """A goods concern: HS codes, description keywords and part-number patterns that identify it."""

    id: Id
    title: str
    category: Id = Field(description="what rules test, e.g. chpl, uav-component, military")
    tags: list[Id] = Field(default_factory=list, description="finer labels, e.g. chpl-tier-1")
    hs_codes: list[HsCodeSpec] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list, description="phrases in any language or script")
    part_numbers: list[str] = Field(default_factory=list, description="regular expressions, matched whole")
    exclude: list[str] = Field(
        default_factory=list, description="phrases that cancel a keyword match on the same line (toy, model)")
    corroborated_by: list[Id] = Field(default_factory=list,
                                      description="categories whose keyword or part-number match confirms a "
                                                  "partial HS code; default: this entry's own category")
    verification: Verification = Verification.official
    notes: str = ""
    sources: SourceIds


class PortSpec(_Spec):
    id: Id
    name: str
    country: CountryCode
    locodes: list[Annotated[str, Field(pattern=r"^[A-Z]{2}[A-Z0-9]{3}$")]] = Field(default_factory=list)
    variants: list[str] = Field(default_factory=list, description="other spellings, any script")
    tags: list[Id] = Field(default_factory=list, description="e.g. caspian, caspian-concern")
    verification: Verification = Verification.official
    notes: str = ""
    sources: SourceIds


class CountryGroupSpec(_Spec):
    id: Id
    title: str
    countries: list[CountryCode] = Field(min_length=1)
    notes: str = ""
    sources: SourceIds


class AddressMarkerSpec(_Spec):
    """Words that place an address at a site of concern. The marker matches when every term of any one
    group appears in the address (after transliteration, so one Latin spelling covers Cyrillic too)."""

    id: Id
    title: str
    any_of: list[Annotated[list[str], Field(min_length=1)]] = Field(min_length=1)
    notes: str = ""
    sources: SourceIds


class TermSetSpec(_Spec):
    """Named phrases rules can look for in party names (forwarder words, placeholder names...)."""

    id: Id
    title: str
    terms: list[str] = Field(min_length=1)
    whole_name: bool = Field(False, description="terms must equal the whole name, not appear inside it")
    notes: str = ""
    sources: SourceIds


class ListFileSpec(_Spec):
    """One file under lists/. A file may hold any mix of these sections."""

    parties: list[PartySpec] = Field(default_factory=list)
    goods: list[GoodsSpec] = Field(default_factory=list)
    ports: list[PortSpec] = Field(default_factory=list)
    country_groups: list[CountryGroupSpec] = Field(default_factory=list)
    address_markers: list[AddressMarkerSpec] = Field(default_factory=list)
    term_sets: list[TermSetSpec] = Field(default_factory=list)


# --- rules --------------------------------------------------------------------------------------------------

Score = float | str  # a number in 0..1 or a level named in pack thresholds


class AllSpec(_Spec):
    """True when every condition is true."""

    kind: Literal["all"]
    conditions: list[ConditionSpec] = Field(min_length=1)


class AnySpec(_Spec):
    """True when at least one condition is true."""

    kind: Literal["any"]
    conditions: list[ConditionSpec] = Field(min_length=1)


class NotSpec(_Spec):
    """True when the condition is false."""

    kind: Literal["not"]
    condition: ConditionSpec


class PartyMatchSpec(_Spec):
    """A record party matched a listed party (by name or exact identifier)."""

    kind: Literal["party_match"]
    min_score: Score = "confident"
    max_score: Score | None = Field(None, description="exclusive upper bound, to describe a weaker band")
    entry_types: list[EntryType] = Field(default_factory=lambda: [EntryType.organization, EntryType.person])
    roles: list[PartyRole] = Field(default_factory=list, description="record party roles; empty = any")
    methods: list[Literal["name", "identifier"]] = Field(
        default_factory=lambda: ["name", "identifier"])  # type: ignore[arg-type]
    country: Literal["any", "consistent", "contradicting"] = Field(
        "any", description="consistent: the record gives no country or one the entry lists")
    lists: list[str] = Field(default_factory=list, description="list names; empty = any")


class VesselMatchSpec(_Spec):
    """A record vessel matched a listed vessel (by name, or by IMO number)."""

    kind: Literal["vessel_match"]
    min_score: Score = "confident"
    max_score: Score | None = None
    methods: list[Literal["name", "imo"]] = Field(default_factory=lambda: ["name", "imo"])  # type: ignore[arg-type]


class GoodsConditionSpec(_Spec):
    """A goods line (or the declared end use) matched a goods entry of these categories or tags."""

    kind: Literal["goods"]
    categories: list[Id] = Field(default_factory=list)
    tags: list[Id] = Field(default_factory=list)
    fields: list[Literal["goods", "declared_end_use"]] = Field(
        default_factory=lambda: ["goods"])  # type: ignore[arg-type]


class CountryConditionSpec(_Spec):
    """A party, route point or vessel flag is in one of these countries or country groups."""

    kind: Literal["country"]
    groups: list[Id] = Field(default_factory=list)
    countries: list[CountryCode] = Field(default_factory=list)
    party_roles: list[PartyRole] = Field(default_factory=list)
    route_roles: list[RouteRole] = Field(default_factory=list)
    vessel_flags: bool = False


class PlaceConditionSpec(_Spec):
    """A route point is a port carrying one of these tags (by name in any script, or by LOCODE)."""

    kind: Literal["place"]
    tags: list[Id] = Field(min_length=1)
    route_roles: list[RouteRole] = Field(default_factory=list)


class AddressConditionSpec(_Spec):
    """A party address carries one of these address markers."""

    kind: Literal["address"]
    markers: list[Id] = Field(min_length=1)
    roles: list[PartyRole] = Field(default_factory=list)


class PartyMissingSpec(_Spec):
    """No party of these roles, or only placeholder names (from term sets); optionally also no end use."""

    kind: Literal["party_missing"]
    roles: list[PartyRole] = Field(min_length=1)
    placeholders: list[Id] = Field(default_factory=list, description="term sets of placeholder names")
    require_no_end_use: bool = Field(False, description="only when declared_end_use is empty too")


class PartyNameSpec(_Spec):
    """A party of these roles has a name containing a term of these sets, or the same name as a party of
    ``same_as_roles`` (e.g. the consignee is the freight forwarder)."""

    kind: Literal["party_name"]
    roles: list[PartyRole] = Field(min_length=1)
    term_sets: list[Id] = Field(default_factory=list)
    same_as_roles: list[PartyRole] = Field(default_factory=list)


class ThirdCountrySpec(_Spec):
    """A party of these roles is in a country where none of the ``relative_to`` parties is."""

    kind: Literal["third_country"]
    roles: list[PartyRole] = Field(min_length=1)
    relative_to: list[PartyRole] = Field(min_length=1)


class AttributeSpec(_Spec):
    """A record attribute has one of these values (case-insensitive), matches a pattern, or is present."""

    kind: Literal["attribute"]
    key: str
    values: list[str] = Field(default_factory=list)
    pattern: str | None = None


class RecordKindSpec(_Spec):
    kind: Literal["record_kind"]
    record_kind: Literal["shipment", "counterparty"]


ConditionSpec = Annotated[
    AllSpec | AnySpec | NotSpec | PartyMatchSpec | VesselMatchSpec | GoodsConditionSpec | CountryConditionSpec
    | PlaceConditionSpec | AddressConditionSpec | PartyMissingSpec | PartyNameSpec | ThirdCountrySpec
    | AttributeSpec | RecordKindSpec,
    Field(discriminator="kind"),
]

AllSpec.model_rebuild()
AnySpec.model_rebuild()
NotSpec.model_rebuild()


class RuleSpec(_Spec):
    """One rule: when its condition holds, the record gets a flag with this severity, action and reason."""

    id: Id
    title: str
    description: str = ""
    severity: Severity
    action: Action
    reason: str = Field(description="template; placeholders are listed in service.rulepack.load.PLACEHOLDERS")
    enabled: bool = True
    sources: SourceIds
    when: ConditionSpec


class CaseSpec(_Spec):
    name: str
    fires: bool = Field(description="whether the rule must fire on this record")
    record: dict[str, Any]


class CasesSpec(_Spec):
    cases: list[CaseSpec] = Field(min_length=2)


def json_schema() -> dict[str, Any]:
    """The JSON schema of pack files, for editors (written to rules/schema.json)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Screening rule pack",
        "description": "Schemas of the files of a rule pack, keyed by file kind.",
        "type": "object",
        "properties": {
            "pack": PackSpec.model_json_schema(),
            "list_file": ListFileSpec.model_json_schema(),
            "rule": RuleSpec.model_json_schema(),
            "cases": CasesSpec.model_json_schema(),
            "source": SourceSpec.model_json_schema(),
        },
    }
