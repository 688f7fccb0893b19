"""Plain view data for the templates, built from the service layer's results and the pack.

Nothing here reads the store or decides anything: it turns results into what a page shows (names instead
of actor labels, a list entry laid out for comparison, the differing characters of two values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from service.review.users import User
from service.review.web.diff import Comparison, closest_value, compare_values
from service.rulepack import Pack
from service.rulepack.spec import AliasSpec, GoodsSpec, PartySpec, PortSpec

_PARTY_PATH = re.compile(r"^(parties|vessels)\[(\d+)\]")


@dataclass(frozen=True)
class SourceView:
    id: str
    title: str
    issuer: str
    date: str
    url: str | None


@dataclass(frozen=True)
class EntryView:
    """A list entry laid out for comparison with the record's value."""

    id: str
    kind: str
    name: str
    aliases: list[str]
    countries: list[str]
    identifiers: list[tuple[str, list[str]]]
    programmes: list[str]
    addresses: list[str]
    notes: str
    sources: list[SourceView]

    def names(self) -> list[str]:
        return [self.name, *self.aliases]


@dataclass(frozen=True)
class PartyView:
    """The record's party (or vessel) behind a match: what else the record says about it."""

    role: str | None
    country: str | None
    address: str | None
    identifiers: dict[str, str] = field(default_factory=dict)


def _http_url(url: str) -> str | None:
    """Only web links become anchors (a pack could hold any text in ``url``)."""
    return url if url.startswith(("https://", "http://")) else None


#: Evidence kinds whose record value is a name or a place spelt like the list's: worth a character diff.
NAME_KINDS = frozenset({"party", "vessel", "port", "place"})


def _sources(pack: Pack, source_ids: Iterable[str]) -> list[SourceView]:
    return [SourceView(s.id, s.title, s.issuer, s.date, _http_url(s.url))
            for s in (pack.sources.get(source_id) for source_id in source_ids) if s is not None]


def entry_view(pack: Pack, entry_id: str) -> EntryView | None:
    """The pack's entry ``entry_id`` (a party, goods, port, country group or address marker) with its
    sources from the pack's seeds, or None when the pack has no such entry."""
    entry = pack.entry(entry_id)
    if entry is None:
        group = pack.country_groups.get(entry_id)
        if group is not None:
            return EntryView(group.id, "country group", group.title, [], list(group.countries), [], [], [],
                             group.notes, _sources(pack, group.sources))
        marker = pack.address_markers.get(entry_id)
        if marker is not None:
            return EntryView(marker.id, "address marker", marker.title, [" + ".join(terms) for terms in marker.any_of],
                             [], [], [], [], marker.notes, _sources(pack, marker.sources))
        return None
    sources = _sources(pack, entry.sources)
    if isinstance(entry, PartySpec):
        aliases = [a.name if isinstance(a, AliasSpec) else a for a in entry.aliases]
        programmes = []
        for listing in entry.listings:
            parts = [listing.authority, ", ".join(listing.programs)]
            if listing.reference:
                parts.append(f"ref. {listing.reference}")
            if listing.date:
                parts.append(f"listed {listing.date}")
            programmes.append(" · ".join(p for p in parts if p))
        identifiers = [(str(kind), list(values)) for kind, values in entry.identifiers.items()]
        countries = list(entry.countries) + ([f"flag {entry.flag}"] if entry.flag else [])
        return EntryView(entry.id, str(entry.type), entry.name, aliases, countries, identifiers, programmes,
                         list(entry.addresses), entry.notes, sources)
    if isinstance(entry, GoodsSpec):
        identifiers = [("HS codes", [h.code + (" (ex)" if h.partial else "") for h in entry.hs_codes])] \
            if entry.hs_codes else []
        if entry.part_numbers:
            identifiers.append(("part numbers", list(entry.part_numbers)))
        return EntryView(entry.id, f"goods: {entry.category}", entry.title, list(entry.keywords), [], identifiers,
                         [], [], entry.notes, sources)
    assert isinstance(entry, PortSpec)
    return EntryView(entry.id, "port", entry.name, list(entry.variants), [entry.country],
                     [("UN/LOCODE", list(entry.locodes))] if entry.locodes else [], [], [], entry.notes, sources)


def party_view(record: Mapping[str, Any] | None, field_path: str) -> PartyView | None:
    """The party or vessel of the record that the evidence path ``field_path`` points into."""
    found = _PARTY_PATH.match(field_path)
    if found is None or not record:
        return None
    items = record.get(found.group(1)) or []
    index = int(found.group(2))
    if index >= len(items) or not isinstance(items[index], Mapping):
        return None
    item = items[index]
    if found.group(1) == "vessels":
        return PartyView("vessel", item.get("flag"), None, {"imo": str(item["imo"])} if item.get("imo") else {})
    identifiers = {str(k): str(v) for k, v in (item.get("identifiers") or {}).items() if v}
    return PartyView(item.get("role"), item.get("country"), item.get("address"), identifiers)


def compared_value(value: str, matched: str | None, entry: EntryView | None) -> str:
    """What to set beside the record's value: the list value the engine matched, else the nearest name."""
    if matched:
        return matched
    if entry is not None:
        return closest_value(value, entry.names()) or entry.name
    return ""


def comparison(kind: str, value: str, matched: str | None,
               entry: EntryView | None) -> tuple[str, Comparison | None]:
    """The list value set beside the record's, and their character diff when the kind is a name or place
    (an HS code against a code prefix, or a description against a keyword, is not a spelling to compare)."""
    other = compared_value(value, matched, entry)
    return other, compare_values(value, other) if kind in NAME_KINDS and other else None


class People:
    """Actor labels (``user:3``, ``key:7``) shown as names."""

    def __init__(self, users: Iterable[User]) -> None:
        self._by_label = {f"user:{u.id}": u.username for u in users}
        self._by_id = {u.id: u.username for u in users}

    def name(self, actor: str | None) -> str:
        if not actor:
            return ""
        if actor in self._by_label:
            return self._by_label[actor]
        if actor.startswith("key:"):
            return f"API key {actor[4:]}"
        return actor

    def by_id(self, user_id: int | None) -> str | None:
        return self._by_id.get(user_id) if user_id is not None else None

    def usernames(self) -> list[str]:
        return sorted(self._by_id.values())


def age_text(since: datetime, now: datetime | None = None) -> str:
    """How long ago, in the largest sensible unit (``3 d``, ``5 h``, ``12 min``)."""
    delta = (now or datetime.now(UTC)) - since
    if delta >= timedelta(days=2):
        return f"{delta.days} d"
    if delta >= timedelta(hours=1):
        return f"{int(delta.total_seconds() // 3600)} h"
    return f"{max(0, int(delta.total_seconds() // 60))} min"


def pretty_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def describe_detail(detail: Mapping[str, Any] | None, people: People) -> str:
    """A one-line summary of an event's detail (what changed), for the history list."""
    if not detail:
        return ""
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if key in ("assignee", "by", "proposed_by") and isinstance(value, str):
            value = people.name(value)
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:299] + "…"
