"""The compiled pack: plain runtime objects the engine reads (no YAML, no validation left to do)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter

from service.model import PackInfo
from service.rulepack.spec import (
    AddressMarkerSpec,
    CasesSpec,
    CountryGroupSpec,
    GoodsSpec,
    PackSpec,
    PartySpec,
    PortSpec,
    RuleSpec,
    SourceSpec,
    TermSetSpec,
)

#: Name of the pack's own hand-curated party list.
CURATED_LIST = "curated"

#: A list's entries as JSON: what compiled list files, rescreen snapshots and list digests are made of.
PARTY_ENTRIES = TypeAdapter(list[PartySpec])


def encode_entries(entries: Sequence[PartySpec]) -> bytes:
    """The JSON a list's digest and snapshot are made of (defaults left out, as compiled list files do)."""
    return PARTY_ENTRIES.dump_json(list(entries), exclude_defaults=True)


def entries_digest(entries: Sequence[PartySpec]) -> str:
    """sha256 of a list's entries, the same whichever file or import they came from."""
    return hashlib.sha256(encode_entries(entries)).hexdigest()


@dataclass(frozen=True)
class PartyList:
    """A list of parties from outside the pack (an imported official list), screened like the curated one."""

    name: str
    entries: Sequence[PartySpec]
    digest: str = ""


@dataclass
class Pack:
    """A loaded, validated rule pack with the party lists screened alongside it."""

    root: Path
    spec: PackSpec
    info: PackInfo
    loaded_at: datetime
    sources: dict[str, SourceSpec]
    party_lists: dict[str, list[PartySpec]]
    goods: list[GoodsSpec]
    ports: list[PortSpec]
    country_groups: dict[str, CountryGroupSpec]
    address_markers: dict[str, AddressMarkerSpec]
    term_sets: dict[str, TermSetSpec]
    rules: list[RuleSpec]
    cases: dict[str, CasesSpec]
    levels: dict[str, float]
    list_digests: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def level(self, value: float | str) -> float:
        """A score given as a number or as a named level of pack.yaml thresholds."""
        return self.levels[value] if isinstance(value, str) else float(value)

    def entry(self, entry_id: str) -> PartySpec | GoodsSpec | PortSpec | None:
        """A party (curated or imported), goods or port entry by id, for reviewers and reasons."""
        return self._index().get(entry_id)

    def entry_list(self, entry_id: str) -> str | None:
        """Name of the party list that holds ``entry_id``."""
        for name, entries in self.party_lists.items():
            if any(e.id == entry_id for e in entries):
                return name
        return None

    def _index(self) -> dict[str, PartySpec | GoodsSpec | PortSpec]:
        cached: dict[str, PartySpec | GoodsSpec | PortSpec] | None = getattr(self, "_entry_index", None)
        if cached is None:
            cached = {}
            for entries in self.party_lists.values():
                cached.update((e.id, e) for e in entries)
            cached.update((g.id, g) for g in self.goods)
            cached.update((p.id, p) for p in self.ports)
            self._entry_index = cached
        return cached

    @property
    def counts(self) -> dict[str, int]:
        """How many entries of each kind the pack holds."""
        counts = {
            "parties": sum(1 for p in self.party_lists[CURATED_LIST] if p.type != "vessel"),
            "vessels": sum(1 for p in self.party_lists[CURATED_LIST] if p.type == "vessel"),
            "party_names": sum(1 + len(p.aliases) for p in self.party_lists[CURATED_LIST]),
            "goods": len(self.goods),
            "hs_codes": sum(len(g.hs_codes) for g in self.goods),
            "keywords": sum(len(g.keywords) for g in self.goods),
            "ports": len(self.ports),
            "country_groups": len(self.country_groups),
            "address_markers": len(self.address_markers),
            "term_sets": len(self.term_sets),
            "rules": len(self.rules),
            "sources": len(self.sources),
        }
        for name, entries in self.party_lists.items():
            if name != CURATED_LIST:
                counts[f"list:{name}"] = len(entries)
        return counts
