"""Rule evaluation: each condition of a rule over the record's facts, then flags with reasons.

A condition is either false (``None``) or true with the hits that make it true (possibly none, for ``not``).
``all`` needs every part and gathers their hits; ``any`` gathers the hits of every part that holds; ``not``
holds when its part does not and contributes no hits. The reason template is filled from the hits: each
placeholder takes the value of the first hit that provides it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from service.engine.facts import Hit, RecordFacts
from service.engine.normalise import fold
from service.model import Action, Evidence, Flag, Record, Severity
from service.rulepack.spec import (
    AddressConditionSpec,
    AllSpec,
    AnySpec,
    AttributeSpec,
    ConditionSpec,
    CountryConditionSpec,
    GoodsConditionSpec,
    NotSpec,
    PartyMatchSpec,
    PartyMissingSpec,
    PartyNameSpec,
    PlaceConditionSpec,
    RecordKindSpec,
    RuleSpec,
    ThirdCountrySpec,
    VesselMatchSpec,
)

if TYPE_CHECKING:
    from service.engine.screener import Screener

Result = list[Hit] | None
Check = Callable[[Record, RecordFacts], Result]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    spec: RuleSpec
    check: Check


def compile_rules(screener: Screener) -> list[CompiledRule]:
    """Every enabled rule of the pack, its condition turned into a function once per pack."""
    return [CompiledRule(rule, compile_condition(screener, rule.when)) for rule in screener.pack.rules
            if rule.enabled]


_ACTION_ORDER = {Action.block: 0, Action.review: 1}
_SEVERITY_ORDER = {Severity.critical: 0, Severity.high: 1, Severity.medium: 2, Severity.low: 3}


def evaluate_rules(rules: Sequence[CompiledRule], record: Record, facts: RecordFacts) -> list[Flag]:
    """Every rule that holds for the record, as a flag; blocking and severe flags first."""
    flags: list[Flag] = []
    for rule in rules:
        hits = rule.check(record, facts)
        if hits is not None:
            flags.append(make_flag(rule.spec, record, hits))
    flags.sort(key=lambda f: (_ACTION_ORDER[f.action], _SEVERITY_ORDER[f.severity], f.rule))
    return flags


def compile_condition(screener: Screener, condition: ConditionSpec) -> Check:
    """A function deciding ``condition`` over a record's facts (see the module docstring)."""
    pack = screener.pack
    match condition:
        case AllSpec():
            parts = [compile_condition(screener, c) for c in condition.conditions]
            # Decide the cheap parts first (most records fail them), but keep the hits in the written order:
            # the reason template takes each placeholder from the first hit that provides it.
            order = sorted(range(len(parts)), key=lambda i: _cost(condition.conditions[i]))

            def check_all(record: Record, facts: RecordFacts) -> Result:
                results: list[list[Hit]] = [[] for _ in parts]
                for index in order:
                    hits = parts[index](record, facts)
                    if hits is None:
                        return None
                    results[index] = hits
                return [hit for hits in results for hit in hits]
            return check_all
        case AnySpec():
            options = [compile_condition(screener, c) for c in condition.conditions]

            def check_any(record: Record, facts: RecordFacts) -> Result:
                found: list[Hit] | None = None
                for option in options:
                    hits = option(record, facts)
                    if hits is not None:
                        found = (found or []) + hits
                return found
            return check_any
        case NotSpec():
            inner = compile_condition(screener, condition.condition)
            return lambda record, facts: [] if inner(record, facts) is None else None
        case PartyMatchSpec():
            return _party_match(pack.level(condition.min_score),
                                pack.level(condition.max_score) if condition.max_score is not None else None,
                                condition)
        case VesselMatchSpec():
            low = pack.level(condition.min_score)
            high = pack.level(condition.max_score) if condition.max_score is not None else None
            methods = frozenset(condition.methods)
            return lambda record, facts: _nonempty([m.hit for m in facts.vessel_matches
                                                    if m.by in methods and _within(m.hit.score, low, high)])
        case GoodsConditionSpec():
            categories, tags = frozenset(condition.categories), frozenset(condition.tags)
            fields = frozenset(condition.fields)
            return lambda record, facts: _nonempty([
                m.hit for m in facts.goods
                if m.source_field in fields and (m.category in categories or not m.tags.isdisjoint(tags))])
        case CountryConditionSpec():
            return _country(screener, condition)
        case PlaceConditionSpec():
            port_tags, route_roles = frozenset(condition.tags), frozenset(condition.route_roles)
            return lambda record, facts: _nonempty([
                r.port_hit for r in facts.route
                if r.port_hit is not None and not r.port_tags.isdisjoint(port_tags)
                and (not route_roles or r.point.role in route_roles)])
        case AddressConditionSpec():
            markers, roles = frozenset(condition.markers), frozenset(condition.roles)
            return lambda record, facts: _nonempty([
                h for p in facts.parties for h in p.address_hits
                if h.entry in markers and (not roles or p.party.role in roles)])
        case PartyMissingSpec():
            return lambda record, facts: _party_missing(screener, condition, record, facts)
        case PartyNameSpec():
            return lambda record, facts: _party_name(screener, condition, facts)
        case ThirdCountrySpec():
            return lambda record, facts: _third_country(screener, condition, facts)
        case AttributeSpec():
            return lambda record, facts: _attribute(condition, record)
        case RecordKindSpec():
            wanted_kind = condition.record_kind
            return lambda record, facts: [] if record.kind == wanted_kind else None
    raise AssertionError(f"unhandled condition {condition!r}")  # pragma: no cover - the union is closed


_SCANNING = (PartyNameSpec, PartyMissingSpec, ThirdCountrySpec)


def _cost(condition: ConditionSpec) -> int:
    """0 for look-ups in the precomputed facts, 1 for conditions that scan party names."""
    if isinstance(condition, AllSpec | AnySpec):
        return max(_cost(c) for c in condition.conditions)
    if isinstance(condition, NotSpec):
        return _cost(condition.condition)
    return 1 if isinstance(condition, _SCANNING) else 0


def _nonempty(hits: list[Hit]) -> Result:
    return hits or None


def _within(score: float, low: float, high: float | None) -> bool:
    return score >= low and (high is None or score < high)


def _party_match(low: float, high: float | None, condition: PartyMatchSpec) -> Check:
    types, methods = frozenset(condition.entry_types), frozenset(condition.methods)
    roles, lists, country = frozenset(condition.roles), frozenset(condition.lists), condition.country

    def check(record: Record, facts: RecordFacts) -> Result:
        hits = []
        for match in facts.party_matches:
            if match.entry_type not in types or match.by not in methods:
                continue
            if (roles and match.role not in roles) or (lists and match.list_name not in lists):
                continue
            if country == "consistent" and match.country_status == "contradicting":
                continue
            if country == "contradicting" and match.country_status != "contradicting":
                continue
            if _within(match.hit.score, low, high):
                hits.append(match.hit)
        return hits or None
    return check


def _country(screener: Screener, condition: CountryConditionSpec) -> Check:
    pack = screener.pack
    wanted: dict[str, str] = dict.fromkeys(condition.countries, "")
    for group_id in condition.groups:
        for code in pack.country_groups[group_id].countries:
            wanted.setdefault(code, group_id)
    party_roles, route_roles = frozenset(condition.party_roles), frozenset(condition.route_roles)

    def hit(field: str, value: str, code: str, role: str) -> Hit:
        group = wanted[code]
        return Hit(field=field, value=value, kind="country", score=1.0, method="country",
                   matched=code, entry=group or None, list="places" if group else None,
                   context={"field": field, "value": value, "country": code,
                            "country_name": screener.countries.name(code), "group": group or code,
                            "role": role},
                   sources=tuple(pack.country_groups[group].sources) if group else ())

    def check(record: Record, facts: RecordFacts) -> Result:
        hits: list[Hit] = []
        for fact in facts.parties:
            if fact.country in wanted and fact.party.role in party_roles:
                hits.append(hit(f"parties[{fact.index}].country", fact.party.country or "", fact.country,
                                fact.party.role.value))
        for route in facts.route:
            if route.country in wanted and route.point.role in route_roles and route.country_field:
                value = {"country": route.point.country, "locode": route.point.locode,
                         "place": route.point.place}[route.country_field.rsplit(".", 1)[1]] or ""
                hits.append(hit(route.country_field, value, route.country, route.point.role.value))
                if route.point.place and not route.country_field.endswith(".place"):
                    hits.append(Hit(field=f"route[{route.index}].place", value=route.point.place, kind="place",
                                    score=1.0, method="route-point", matched=route.country,
                                    context={"field": f"route[{route.index}].place",
                                             "value": route.point.place}))
        if condition.vessel_flags:
            for vessel_index, written, code in facts.vessel_flags:
                if code in wanted:
                    hits.append(hit(f"vessels[{vessel_index}].flag", written, code, "vessel flag"))
        return hits or None
    return check


def _is_placeholder(screener: Screener, name: str, sets: Sequence[str]) -> str | None:
    for set_id in sets:
        term = screener.term_sets.find(set_id, name)
        if term is not None:
            return term
    return None


def _party_missing(screener: Screener, condition: PartyMissingSpec, record: Record,
                   facts: RecordFacts) -> Result:
    if condition.require_no_end_use and record.declared_end_use and not _is_placeholder(
            screener, record.declared_end_use, condition.placeholders):
        return None
    present = [p for p in facts.parties if p.party.role in condition.roles]
    roles = ", ".join(r.value for r in condition.roles)
    if not present:
        return [Hit(field="parties", value=f"no {roles} named", kind="role", score=1.0, method="role-missing",
                    context={"role": roles, "value": f"no {roles} named"})]
    hits: list[Hit] = []
    for fact in present:
        term = _is_placeholder(screener, fact.party.name, condition.placeholders)
        if term is None:
            return None
        hits.append(Hit(field=f"parties[{fact.index}].name", value=fact.party.name, kind="role", score=1.0,
                        method="placeholder-name", matched=term,
                        context={"role": fact.party.role.value, "value": fact.party.name}))
    return hits


def _party_name(screener: Screener, condition: PartyNameSpec, facts: RecordFacts) -> Result:
    hits: list[Hit] = []
    others = [p for p in facts.parties if p.party.role in condition.same_as_roles]
    for fact in facts.parties:
        if fact.party.role not in condition.roles:
            continue
        matched: str | None = None
        sources: tuple[str, ...] = ()
        for set_id in condition.term_sets:
            matched = screener.term_sets.find(set_id, fact.party.name)
            if matched is not None:
                sources = tuple(screener.pack.term_sets[set_id].sources)
                break
        if matched is None:
            folded = fold(fact.party.name)
            for other in others:
                if other.index != fact.index and fold(other.party.name) == folded:
                    matched = f"same name as the {other.party.role.value} (parties[{other.index}])"
                    break
        if matched is not None:
            hits.append(Hit(field=f"parties[{fact.index}].name", value=fact.party.name, kind="role", score=1.0,
                            method="party-name", matched=matched,
                            context={"field": f"parties[{fact.index}].name", "value": fact.party.name,
                                     "matched": matched, "role": fact.party.role.value},
                            sources=sources))
    return _nonempty(hits)


def _third_country(screener: Screener, condition: ThirdCountrySpec, facts: RecordFacts) -> Result:
    reference = {p.country for p in facts.parties if p.party.role in condition.relative_to and p.country}
    if not reference:
        return None
    hits: list[Hit] = []
    for fact in facts.parties:
        if fact.party.role in condition.roles and fact.country and fact.country not in reference:
            field = f"parties[{fact.index}].country"
            hits.append(Hit(field=field, value=fact.party.country or "", kind="country", score=1.0,
                            method="third-country", matched=fact.country,
                            context={"field": field, "value": fact.party.country or "", "country": fact.country,
                                     "country_name": screener.countries.name(fact.country),
                                     "role": fact.party.role.value}))
            hits.append(Hit(field=f"parties[{fact.index}].name", value=fact.party.name, kind="role", score=1.0,
                            method="third-country"))
    return _nonempty(hits)


def _attribute(condition: AttributeSpec, record: Record) -> Result:
    value = record.attributes.get(condition.key)
    if value is None:
        return None
    wanted = {v.casefold() for v in condition.values}
    if wanted and value.casefold() not in wanted:
        return None
    if condition.pattern is not None and not re.search(condition.pattern, value):
        return None
    field = f"attributes.{condition.key}"
    return [Hit(field=field, value=value, kind="attribute", score=1.0, method="attribute", matched=value,
                context={"field": field, "value": value, "matched": value})]


_FORMATTER = string.Formatter()


def render_reason(template: str, record: Record, rule: RuleSpec, hits: Sequence[Hit]) -> str:
    """Fill the reason template from the hits (first hit providing a placeholder wins)."""
    out = []
    for literal, name, spec, conversion in _parse_template(template):
        out.append(literal)
        if name is not None:
            value = _placeholder(name, record, rule, hits)
            if conversion:
                value = _FORMATTER.convert_field(value, conversion)
            out.append(_FORMATTER.format_field(value, spec or ""))
    return "".join(out)


@lru_cache(maxsize=4096)
def _parse_template(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    return tuple(_FORMATTER.parse(template))


def _placeholder(name: str, record: Record, rule: RuleSpec, hits: Sequence[Hit]) -> str:
    # Looked up only for the placeholders the template uses: hits carry a dozen context values each.
    if name == "record_id":
        return record.id
    if name == "rule":
        return rule.id
    if name == "fields":
        return ", ".join(dict.fromkeys(h.field for h in hits)) or "the record"
    if name == "values":
        return ", ".join(dict.fromkeys(f"'{h.value}'" for h in hits if h.value))[:300] or "-"
    for hit in hits:
        value = hit.context.get(name)
        if value is not None:
            return value
    return "n/a"


def make_flag(rule: RuleSpec, record: Record, hits: Sequence[Hit]) -> Flag:
    """A flag for ``rule`` with its evidence (one per distinct field and entry) and sources."""
    evidence: list[Evidence] = []
    seen: set[tuple[str, str | None, str]] = set()
    sources: dict[str, None] = dict.fromkeys(rule.sources)
    for hit in sorted(hits, key=lambda h: -h.score):
        key = (hit.field, hit.entry, hit.kind)
        if key in seen:
            continue
        seen.add(key)
        # model_construct: the engine builds these from data it has validated already; validating them again
        # would cost more than the rule evaluation itself.
        evidence.append(Evidence.model_construct(
            field=hit.field, value=hit.value, kind=hit.kind, matched=hit.matched, entry=hit.entry, list=hit.list,
            score=round(min(max(hit.score, 0.0), 1.0), 4), method=hit.method))
        sources.update(dict.fromkeys(hit.sources))
    return Flag.model_construct(rule=rule.id, severity=rule.severity, action=rule.action, title=rule.title,
                                reason=render_reason(rule.reason, record, rule, hits), evidence=evidence,
                                sources=list(sources))
