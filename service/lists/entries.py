"""Building ``PartySpec`` entries from source records: one mutable draft per record, validated at the end.

Every format fills an ``EntryDraft`` (names, aliases, countries, identifiers...) in whatever order its
records arrive; ``EntryDraft.build`` removes duplicates and turns it into the frozen pack model, so each
importer only says what the source means and never how the entry is assembled.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError

from service.errors import ListImportError
from service.lists.identifiers import identifier_kind
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType, ListingSpec, PartySpec

_ID_UNSAFE = re.compile(r"[^a-z0-9]+")
_MAX_ID = 80
_MAX_NOTES = 2000


def make_id(prefix: str, raw: str) -> str:
    """A pack id (lower-case letters, digits, hyphens) for the source's own id ``raw``.

    Ids longer than the pack allows are cut and end with a hash of ``raw``, so they stay unique and stable.
    """
    slug = _ID_UNSAFE.sub("-", raw.lower()).strip("-")
    if not slug:
        raise ListImportError(f"cannot make an id from {raw!r}")
    ident = f"{prefix}-{slug}"
    if len(ident) > _MAX_ID:
        ident = f"{ident[: _MAX_ID - 9].rstrip('-')}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"
    return ident


def clean_text(value: object) -> str:
    """``value`` as one line of text with runs of white space collapsed; '' for None."""
    if value is None:
        return ""
    return " ".join(str(value).split())


@dataclass
class EntryDraft:
    """A party entry under construction. ``add_*`` methods ignore empty values and duplicates."""

    id: str
    type: EntryType
    name: str = ""
    aliases: dict[str, AliasSpec] = field(default_factory=dict)
    countries: list[str] = field(default_factory=list)
    listings: list[ListingSpec] = field(default_factory=list)
    identifiers: dict[IdentifierKind, list[str]] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)
    birth_dates: list[str] = field(default_factory=list)
    flag: str | None = None
    related: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def set_name(self, name: object) -> None:
        """Use ``name`` as the primary name; an earlier primary name becomes a strong alias."""
        text = clean_text(name)
        if not text:
            return
        if self.name and self.name.casefold() != text.casefold():
            self.add_alias(self.name)
        self.name = text
        self.aliases.pop(text.casefold(), None)

    def add_alias(self, name: object, quality: AliasQuality = AliasQuality.strong) -> None:
        """Add an alias; a name given both as strong and as weak stays strong."""
        text = clean_text(name)
        if not text:
            return
        key = text.casefold()
        if self.name and key == self.name.casefold():
            return
        existing = self.aliases.get(key)
        if existing is None or (existing.quality != AliasQuality.strong and quality == AliasQuality.strong):
            self.aliases[key] = AliasSpec(name=text, quality=quality)

    def add_country(self, code: str | None) -> None:
        if code and code not in self.countries:
            self.countries.append(code)

    def add_identifier(self, kind: IdentifierKind, value: object) -> None:
        text = clean_text(value)
        if not text:
            return
        values = self.identifiers.setdefault(kind, [])
        if text not in values:
            values.append(text)

    def add_address(self, value: object) -> None:
        text = clean_text(value)
        if text and text not in self.addresses:
            self.addresses.append(text)

    def add_birth_date(self, value: str | None) -> None:
        if value and value not in self.birth_dates:
            self.birth_dates.append(value)

    def add_listing(self, listing: ListingSpec) -> None:
        if listing not in self.listings:
            self.listings.append(listing)

    def add_note(self, value: object) -> None:
        text = clean_text(value)
        if text and text not in self.notes:
            self.notes.append(text)

    def merge(self, other: EntryDraft) -> None:
        """Take in what ``other`` (a second record of the same entry) adds."""
        for alias in [AliasSpec(name=other.name), *other.aliases.values()]:
            self.add_alias(alias.name, alias.quality)
        for code in other.countries:
            self.add_country(code)
        for listing in other.listings:
            self.add_listing(listing)
        for kind, values in other.identifiers.items():
            for value in values:
                self.add_identifier(kind, value)
        for address in other.addresses:
            self.add_address(address)
        for birth_date in other.birth_dates:
            self.add_birth_date(birth_date)
        for note in other.notes:
            self.add_note(note)
        self.flag = self.flag or other.flag

    def promote_alias(self) -> None:
        """Give a nameless draft its first strong alias (else first alias) as primary name."""
        if self.name or not self.aliases:
            return
        chosen = next((a for a in self.aliases.values() if a.quality == AliasQuality.strong),
                      next(iter(self.aliases.values())))
        self.set_name(chosen.name)

    def refine_russian_identifiers(self) -> None:
        """For an entry located only in Russia, a tax number given without a country is its INN and a 13- or
        15-digit registration number its OGRN (the lists often omit the country after the number)."""
        if self.countries != ["RU"]:
            return
        for kind in (IdentifierKind.tax_id, IdentifierKind.registration):
            kept = []
            for value in self.identifiers.get(kind, []):
                refined = identifier_kind("Tax ID No." if kind == IdentifierKind.tax_id else "Registration Number",
                                          "RU", value)
                if refined is not None and refined != kind:
                    self.add_identifier(refined, value)
                else:
                    kept.append(value)
            if kept:
                self.identifiers[kind] = kept
            else:
                self.identifiers.pop(kind, None)

    def build(self, list_name: str, where: str) -> PartySpec:
        """The validated entry; ``where`` names the source record in the error when it is invalid."""
        self.promote_alias()
        self.refine_russian_identifiers()
        if not self.name:
            raise ListImportError(f"{where}: entry {self.id} has no name")
        # "1978" says less than "1978-04-01" given for the same person: keep only the most precise dates
        birth_dates = [d for d in self.birth_dates
                       if not any(other != d and other.startswith(d) for other in self.birth_dates)]
        notes = "; ".join(self.notes)
        if len(notes) > _MAX_NOTES:
            notes = notes[: _MAX_NOTES - 1].rstrip() + "…"
        try:
            return PartySpec(
                id=self.id,
                type=self.type,
                name=self.name,
                aliases=[alias if alias.quality != AliasQuality.strong else alias.name
                         for alias in self.aliases.values()],
                countries=self.countries,
                listings=self.listings,
                identifiers=self.identifiers,
                addresses=self.addresses,
                birth_dates=birth_dates,
                flag=self.flag,
                related=[r for r in self.related if r != self.id],
                notes=notes,
                sources=[list_name],
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                                 for err in exc.errors())
            raise ListImportError(f"{where}: entry {self.id} is invalid: {problems}") from exc


def build_all(drafts: list[tuple[EntryDraft, str]], list_name: str) -> list[PartySpec]:
    """Build every draft and refuse the list when two records give the same id."""
    seen: dict[str, str] = {}
    entries: list[PartySpec] = []
    for draft, where in drafts:
        if draft.id in seen:
            raise ListImportError(f"{where}: id {draft.id} already used by {seen[draft.id]}")
        seen[draft.id] = where
        entries.append(draft.build(list_name, where))
    return entries


@dataclass
class ParsedList:
    """What a format reader returns: the entries and the few facts about the publication it found."""

    title: str
    source_format: str
    published: date | None
    entries: list[PartySpec]
    skipped: Counter[str] = field(default_factory=Counter)
