"""What the matchers found in one record, computed once and then read by every rule.

A ``Hit`` is the engine's slim internal evidence: the record field and value, what it matched, how strongly
and how, plus the context a reason template can quote. It becomes a pydantic ``Evidence`` only in the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from service.model import Party, PartyRole, RoutePoint


@dataclass(frozen=True, slots=True)
class Hit:
    field: str
    value: str
    kind: str
    score: float
    method: str
    matched: str | None = None
    entry: str | None = None
    list: str | None = None
    context: Mapping[str, str] = dataclasses.field(default_factory=dict)
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PartyMatch:
    """A record party (or its identifier) matched a listed party or vessel entry."""

    hit: Hit
    party_index: int
    role: PartyRole
    entry_type: str
    list_name: str
    by: str  # "name" or "identifier"
    country_status: str  # "consistent", "contradicting" or "unknown"


@dataclass(frozen=True, slots=True)
class VesselMatch:
    hit: Hit
    vessel_index: int
    by: str  # "name" or "imo"


@dataclass(frozen=True, slots=True)
class GoodsMatch:
    hit: Hit
    category: str
    tags: frozenset[str]
    source_field: str  # "goods" or "declared_end_use"


@dataclass(frozen=True, slots=True)
class RouteFact:
    index: int
    point: RoutePoint
    country: str | None
    country_field: str | None
    port_tags: frozenset[str]
    port_hit: Hit | None


@dataclass(frozen=True, slots=True)
class PartyFact:
    index: int
    party: Party
    country: str | None
    address_hits: tuple[Hit, ...]


@dataclass
class RecordFacts:
    parties: list[PartyFact]
    party_matches: list[PartyMatch]
    vessel_matches: list[VesselMatch]
    goods: list[GoodsMatch]
    route: list[RouteFact]
    vessel_flags: list[tuple[int, str, str]]  # (vessel index, flag as written, ISO code)
    nearest_party_score: float = 0.0
