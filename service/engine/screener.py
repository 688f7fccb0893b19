"""The Screener: a pack's compiled indexes, and ``screen`` from a record to a result.

Screening runs in two steps. First every matcher looks at the record once (``collect_facts``): parties by
identifier and by name, vessels by IMO and name, goods lines and the end use, route points and countries,
addresses. Then each rule of the pack is evaluated over those facts (``service.engine.rules``); a rule that
holds becomes a flag with its reason and evidence. The decision is the strongest action of any flag.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from service.engine.facts import GoodsMatch, Hit, PartyFact, PartyMatch, RecordFacts, RouteFact, VesselMatch
from service.engine.goods import GoodsHit, GoodsIndex
from service.engine.names import NameKey, analyse_name
from service.engine.normalise import digits_only
from service.engine.parties import IdentifierIndex, ListedEntry, NameCandidate, NameIndex, listed_entries
from service.engine.places import MarkerIndex, PortIndex, TermSets
from service.engine.reference import CountryTable, country_table, name_words
from service.engine.rules import compile_rules, evaluate_rules
from service.model import Decision, PartyRole, Record, ScreeningResult, parse_record
from service.rulepack.compiled import Pack
from service.rulepack.spec import PartySpec

_NAME_CACHE_SIZE = 50_000
_VESSEL_ROLES = frozenset({PartyRole.counterparty, PartyRole.carrier, PartyRole.other})
COMPANY_AS_PERSON_PENALTY = 0.15


def entry_context(spec: PartySpec, list_name: str) -> dict[str, str]:
    """What a reason template may quote about a listed party."""
    programs = sorted({p for listing in spec.listings for p in listing.programs})
    authorities = sorted({listing.authority for listing in spec.listings})
    return {
        "entry": spec.id,
        "entry_name": spec.name,
        "list": list_name,
        "programs": ", ".join(programs) or "no programme given",
        "authorities": ", ".join(authorities) or list_name,
        "entry_countries": ", ".join(spec.countries) or "no country given",
    }


class Screener:
    """Screens records against one pack. Build once per process; ``screen`` is safe to call from threads."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.countries: CountryTable = country_table()
        self.words = name_words()
        self.floor = pack.spec.thresholds.name_floor
        self.party_entries = listed_entries(pack.party_lists, ("organization", "person"))
        self.vessel_entries = listed_entries(pack.party_lists, ("vessel",))
        self.party_names = NameIndex(self.party_entries, self.words)
        self.vessel_names = NameIndex(self.vessel_entries, self.words, vessels=True)
        self.identifiers = IdentifierIndex(self.party_entries + self.vessel_entries)
        self.goods = GoodsIndex(pack.goods)
        self.ports = PortIndex(pack.ports)
        self.markers = MarkerIndex(list(pack.address_markers.values()))
        self.term_sets = TermSets(pack.term_sets)
        self._name_cache: dict[tuple[str, str], tuple[NameKey, list[NameCandidate]]] = {}
        # The compiled rules are closures that look things up on the screener. Given a weak proxy, they hold
        # no reference back to it, so a screener let go (a pack reload) is freed at once by reference counting:
        # with a cycle, only a full garbage collection frees it, which stops a server worker for most of a
        # second once the official lists are loaded.
        self.rules = compile_rules(cast("Screener", weakref.proxy(self)))

    # --- public ---------------------------------------------------------------------------------------------

    def screen(self, record: Record, screened_at: datetime | None = None) -> ScreeningResult:
        """Screen one record: flags with reasons and evidence, the decision and a risk score."""
        facts = self.collect_facts(record)
        flags = evaluate_rules(self.rules, record, facts)
        if any(f.action == "block" for f in flags):
            decision = Decision.block
        elif flags:
            decision = Decision.review
        else:
            decision = Decision.clear
        return ScreeningResult.model_construct(
            record_id=record.id,
            decision=decision,
            risk_score=risk_score(flags, facts),
            flags=flags,
            pack=self.pack.info,
            screened_at=screened_at or datetime.now(UTC),
        )

    def screen_data(self, data: Mapping[str, Any], screened_at: datetime | None = None) -> ScreeningResult:
        """Validate raw data as a Record (RecordError names the field) and screen it."""
        return self.screen(parse_record(data), screened_at)

    def screen_many(self, records: Iterable[Record]) -> list[ScreeningResult]:
        return [self.screen(record) for record in records]

    def resolve_country(self, text: str | None) -> str | None:
        return self.countries.resolve(text)

    # --- facts ----------------------------------------------------------------------------------------------

    def collect_facts(self, record: Record) -> RecordFacts:
        """Run every matcher over the record once."""
        parties: list[PartyFact] = []
        party_matches: list[PartyMatch] = []
        nearest = 0.0
        for index, party in enumerate(record.parties):
            country = self.resolve_country(party.country)
            address_hits: tuple[Hit, ...] = ()
            if party.address:
                address_hits = tuple(
                    Hit(field=f"parties[{index}].address", value=party.address, kind="address",
                        score=1.0, method="address-marker", matched=m.matched, entry=m.marker.id,
                        context={"field": f"parties[{index}].address", "value": party.address,
                                 "entry": m.marker.id, "entry_name": m.marker.title, "matched": m.matched,
                                 "party": party.name, "role": party.role.value},
                        sources=tuple(m.marker.sources))
                    for m in self.markers.match(party.address))
            parties.append(PartyFact(index, party, country, address_hits))
            party_matches.extend(self._identifier_matches(index, party, country))
            matches, best_below = self._name_matches(index, party, country)
            party_matches.extend(matches)
            nearest = max(nearest, best_below)

        vessel_matches: list[VesselMatch] = []
        vessel_flags: list[tuple[int, str, str]] = []
        for index, vessel in enumerate(record.vessels):
            vessel_matches.extend(self._vessel_matches(index, vessel.name, vessel.imo))
            flag = self.resolve_country(vessel.flag)
            if vessel.flag and flag:
                vessel_flags.append((index, vessel.flag, flag))

        goods: list[GoodsMatch] = []
        for index, line in enumerate(record.goods):
            goods.extend(self._goods_match(hit, "goods") for hit in self.goods.match_goods(line, index)
                         if hit.confirmed)
        if record.declared_end_use:
            goods.extend(self._goods_match(hit, "declared_end_use")
                         for hit in self.goods.match_text(record.declared_end_use, "declared_end_use"))

        route = [self._route_fact(index, point) for index, point in enumerate(record.route)]
        return RecordFacts(parties, party_matches, vessel_matches, goods, route, vessel_flags, nearest)

    def _country_status(self, record_country: str | None, entry: ListedEntry) -> str:
        if record_country is None or not entry.countries:
            return "unknown"
        return "consistent" if record_country in entry.countries else "contradicting"

    def _identifier_matches(self, index: int, party: Any, country: str | None) -> list[PartyMatch]:
        out: list[PartyMatch] = []
        for kind, value in party.identifiers.items():
            for entry, listed_kind, listed_value in self.identifiers.lookup(kind, value):
                context = entry_context(entry.spec, entry.list_name) | {
                    "field": f"parties[{index}].identifiers.{kind.value}", "value": value,
                    "matched": f"{listed_kind} {listed_value}", "score": "1.00", "method": "identifier",
                    "role": party.role.value, "country": country or "not given",
                }
                hit = Hit(field=f"parties[{index}].identifiers.{kind.value}", value=value, kind="identifier",
                          score=1.0, method=f"identifier-{listed_kind}", matched=f"{listed_kind} {listed_value}",
                          entry=entry.spec.id, list=entry.list_name, context=context,
                          sources=tuple(entry.spec.sources))
                out.append(PartyMatch(hit, index, party.role, entry.spec.type.value, entry.list_name,
                                      "identifier", self._country_status(country, entry)))
        return out

    def _cached_name_candidates(self, index: NameIndex, name: str,
                                kind: str) -> tuple[NameKey, list[NameCandidate]]:
        """The analysed name and its candidates; counterparties recur, so both are cached per name."""
        cache_key = (kind, name)
        cached = self._name_cache.get(cache_key)
        if cached is None:
            key = analyse_name(name, self.words, vessel=index.vessels)
            cached = (key, index.match(key, self.floor))
            if len(self._name_cache) >= _NAME_CACHE_SIZE:
                self._name_cache.clear()
            self._name_cache[cache_key] = cached
        return cached

    def _name_matches(self, index: int, party: Any, country: str | None) -> tuple[list[PartyMatch], float]:
        out: list[PartyMatch] = []
        best_below = 0.0
        query, candidates = self._cached_name_candidates(self.party_names, party.name, "party")
        if party.role in _VESSEL_ROLES:
            # A counterparty or carrier may be a ship, named as on the lists' vessel entries.
            candidates = candidates + self._cached_name_candidates(self.vessel_names, party.name, "vessel")[1]
        for candidate in candidates:
            status = self._country_status(country, candidate.entry)
            score = candidate.score
            if query.legal_forms and candidate.entry.spec.type == "person":
                # A company (its name carries a legal form) is not the listed person it is named after.
                score -= COMPANY_AS_PERSON_PENALTY
            if status == "contradicting":
                score -= 0.08
                if (len(candidate.listed_key.distinctive) <= 1 and query.legal_forms and candidate.legal_forms
                        and not query.legal_forms & candidate.legal_forms):
                    # One distinctive word, another legal form and another country: another company.
                    continue
            score = round(max(score, 0.0), 4)
            if score < self.floor:
                best_below = max(best_below, score)
                continue
            spec = candidate.entry.spec
            context = entry_context(spec, candidate.entry.list_name) | {
                "field": f"parties[{index}].name", "value": party.name, "matched": candidate.matched,
                "score": f"{score:.2f}", "method": candidate.method, "role": party.role.value,
                "country": country or "not given",
            }
            hit = Hit(field=f"parties[{index}].name", value=party.name, kind="party", score=score,
                      method=candidate.method, matched=candidate.matched, entry=spec.id,
                      list=candidate.entry.list_name, context=context, sources=tuple(spec.sources))
            out.append(PartyMatch(hit, index, party.role, spec.type.value, candidate.entry.list_name, "name",
                                  status))
        return out, best_below

    def _vessel_matches(self, index: int, name: str | None, imo: str | None) -> list[VesselMatch]:
        out: list[VesselMatch] = []
        imo_digits = digits_only(imo) if imo else ""
        if len(imo_digits) == 7:
            for entry, _kind, listed_value in self.identifiers.lookup("imo", imo_digits):
                context = entry_context(entry.spec, entry.list_name) | {
                    "field": f"vessels[{index}].imo", "value": imo or "", "matched": f"IMO {listed_value}",
                    "score": "1.00", "method": "imo", "imo": listed_value,
                }
                out.append(VesselMatch(Hit(field=f"vessels[{index}].imo", value=imo or "", kind="vessel",
                                           score=1.0, method="imo", matched=f"IMO {listed_value}",
                                           entry=entry.spec.id, list=entry.list_name, context=context,
                                           sources=tuple(entry.spec.sources)), index, "imo"))
        if name:
            for candidate in self._cached_name_candidates(self.vessel_names, name, "vessel")[1]:
                spec = candidate.entry.spec
                listed_imos = {digits_only(v) for v in spec.identifiers.get("imo", [])}  # type: ignore[call-overload]
                if len(imo_digits) == 7 and listed_imos and imo_digits not in listed_imos:
                    continue  # the IMO number identifies another ship of the same name
                if candidate.score < self.floor:
                    continue
                listed_imo = ", ".join(sorted(listed_imos)) or "no IMO listed"
                context = entry_context(spec, candidate.entry.list_name) | {
                    "field": f"vessels[{index}].name", "value": name, "matched": candidate.matched,
                    "score": f"{candidate.score:.2f}", "method": candidate.method, "imo": listed_imo,
                }
                out.append(VesselMatch(Hit(field=f"vessels[{index}].name", value=name, kind="vessel",
                                           score=candidate.score, method=candidate.method,
                                           matched=candidate.matched, entry=spec.id,
                                           list=candidate.entry.list_name, context=context,
                                           sources=tuple(spec.sources)), index, "name"))
        return out

    def _goods_match(self, hit: GoodsHit, source_field: str) -> GoodsMatch:
        entry = hit.entry
        context = {"field": hit.field, "value": hit.value, "matched": hit.matched, "entry": entry.id,
                   "entry_name": entry.title, "category": entry.category, "goods": hit.value,
                   "score": f"{hit.score:.2f}", "method": hit.method}
        kind = "hs_code" if hit.method.startswith("hs-") else (
            "part_number" if hit.method == "part-number" else "keyword")
        if entry.category == "military" and kind == "keyword":
            kind = "military_item"
        return GoodsMatch(Hit(field=hit.field, value=hit.value, kind=kind, score=hit.score, method=hit.method,
                              matched=hit.matched, entry=entry.id, list="goods", context=context,
                              sources=tuple(entry.sources)),
                          entry.category, frozenset(entry.tags), source_field)

    def _route_fact(self, index: int, point: Any) -> RouteFact:
        country = self.resolve_country(point.country)
        country_field = f"route[{index}].country" if country else None
        port = self.ports.by_locode(point.locode)
        port_field = f"route[{index}].locode"
        port_value = point.locode or ""
        if port is None and point.place:
            port = self.ports.by_name(point.place, country, point.locode)
            port_field, port_value = f"route[{index}].place", point.place
        if country is None and point.locode:
            from_code = self.resolve_country(point.locode.strip()[:2])
            if from_code:
                country, country_field = from_code, f"route[{index}].locode"
        if country is None and port is not None:
            country, country_field = port.port.country, port_field
        port_hit = None
        tags: frozenset[str] = frozenset()
        if port is not None:
            tags = frozenset(port.port.tags)
            port_hit = Hit(field=port_field, value=port_value, kind="port", score=1.0,
                           method=f"port-{port.by}", matched=port.matched, entry=port.port.id, list="places",
                           context={"field": port_field, "value": port_value, "matched": port.matched,
                                    "entry": port.port.id, "entry_name": port.port.name,
                                    "place": port.port.name, "country": port.port.country,
                                    "role": point.role.value},
                           sources=tuple(port.port.sources))
        return RouteFact(index, point, country, country_field, tags, port_hit)


_SEVERITY_BASE = {"critical": 90, "high": 72, "medium": 52, "low": 30}


def risk_score(flags: list[Any], facts: RecordFacts) -> int:
    """0-100, for ranking: the strongest flag's severity and evidence strength, a little more for each
    further flag; a clear record scores below 20, more when a listed name came close."""
    if not flags:
        return min(19, round(20 * facts.nearest_party_score))
    best = 0
    for flag in flags:
        strength = max((e.score for e in flag.evidence), default=0.5)
        best = max(best, _SEVERITY_BASE[flag.severity] + round(8 * strength))
    return min(100, best + min(6, 2 * (len(flags) - 1)))
