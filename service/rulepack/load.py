"""Load a rule pack from disk, validate it completely, and return a compiled ``Pack``.

Validation happens in two passes. The schema pass validates every file against its ``*Spec`` model. The
semantic pass checks what a schema cannot: ids are unique, a rule's id equals its file name, every reference
(source, country group, address marker, term set, goods category or tag, port tag, score level, related entry)
resolves, reason templates use only placeholders their conditions provide, and every rule has cases that fire
and cases that must not. All problems are collected and raised together as one ``PackError`` whose lines read
``file: entry: field: message``.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from service.errors import PackError, Problem, RecordError
from service.model import PackInfo, parse_record
from service.rulepack.compiled import CURATED_LIST, Pack, PartyList, entries_digest
from service.rulepack.spec import (
    AddressConditionSpec,
    AddressMarkerSpec,
    AliasSpec,
    AllSpec,
    AnySpec,
    AttributeSpec,
    CasesSpec,
    ConditionSpec,
    CountryConditionSpec,
    CountryGroupSpec,
    GoodsConditionSpec,
    ListFileSpec,
    NotSpec,
    PackSpec,
    PartyMatchSpec,
    PartyMissingSpec,
    PartyNameSpec,
    PartySpec,
    PlaceConditionSpec,
    PortSpec,
    RecordKindSpec,
    RuleSpec,
    SourceSpec,
    TermSetSpec,
    ThirdCountrySpec,
    VesselMatchSpec,
)

SpecT = TypeVar("SpecT", bound=BaseModel)

#: Placeholders every reason template may use, whatever its conditions.
ALWAYS = frozenset({"record_id", "rule", "fields", "values"})

#: Placeholders each condition kind provides to the reason template.
PROVIDES: dict[str, frozenset[str]] = {
    "party_match": frozenset({"field", "value", "matched", "entry", "entry_name", "list", "score", "method",
                              "programs", "authorities", "entry_countries", "role", "country"}),
    "vessel_match": frozenset({"field", "value", "matched", "entry", "entry_name", "list", "score", "method",
                               "programs", "authorities", "imo"}),
    "goods": frozenset({"field", "value", "matched", "entry", "entry_name", "category", "goods", "score",
                        "method"}),
    "country": frozenset({"field", "value", "country", "country_name", "group", "role"}),
    "place": frozenset({"field", "value", "matched", "entry", "entry_name", "place", "country", "role"}),
    "address": frozenset({"field", "value", "matched", "entry", "entry_name", "role", "party"}),
    "party_missing": frozenset({"role", "value"}),
    "party_name": frozenset({"field", "value", "matched", "role"}),
    "third_country": frozenset({"field", "value", "country", "country_name", "role"}),
    "attribute": frozenset({"field", "value", "matched"}),
    "record_kind": frozenset(),
}
PLACEHOLDERS = ALWAYS.union(*PROVIDES.values())


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loading that refuses duplicate keys (PyYAML would silently keep the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, label: str, problems: list[Problem]) -> Any:
    """Parse one YAML file safely; a syntax error becomes a Problem with its line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(label, "", "", f"cannot read: {exc}"))
        return None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problems.append(Problem(label, "", "", f"invalid YAML: {where}{getattr(exc, 'problem', exc)}"))
        return None


def _entry_label(data: Any, loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Turn a pydantic location inside a file into (entry, field): the entry's id when it has one."""
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        section, index = loc[0], loc[1]
        entry = f"{section}[{index}]"
        try:
            item = data[section][index]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                entry = item["id"]
        except (KeyError, IndexError, TypeError):
            pass
        return entry, _dotted(loc[2:])
    return "", _dotted(loc)


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_spec(model: type[SpecT], data: Any, label: str, problems: list[Problem],
                  entry: str = "") -> SpecT | None:
    """Validate ``data`` against ``model``; every error becomes a Problem naming file, entry and field."""
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            # Discriminated unions add the tag to the location; it says nothing to a pack author.
            loc = tuple(p for p in loc if not (isinstance(p, str) and p.endswith("Spec")))
            if entry:
                problems.append(Problem(label, entry, _dotted(loc), error["msg"]))
            else:
                found_entry, field = _entry_label(data, loc)
                problems.append(Problem(label, found_entry, field, error["msg"]))
        return None


def pack_digest(files: Iterable[Path], root: Path, imported: Sequence[PartyList] = ()) -> str:
    """sha256 over every file of the pack (relative path and bytes), in a stable order, and over the name
    and content digest of each imported list screened with it.

    The lists are part of it because this digest is what a screening result, the screening log and the
    reload record name as "the pack that answered": a new import of OFAC's list answers differently, so it
    must read as a different pack (reproducibility, and the other workers of a server following a reload).
    Without imported lists the digest is that of the files alone.
    """
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: _digest_label(p, root)):
        digest.update(_digest_label(path, root).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for party_list in sorted(imported, key=lambda listed: listed.name):
        digest.update(f"imported/{party_list.name}".encode())
        digest.update(b"\0")
        digest.update((party_list.digest or entries_digest(party_list.entries)).encode())
        digest.update(b"\0")
    return digest.hexdigest()



def _digest_label(path: Path, root: Path) -> str:
    # Source files live beside the pack (../seeds); name them by folder and file so the digest does not
    # depend on where the pack is installed.
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return f"sources/{path.name}"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_pack_spec(path: Path | str) -> PackSpec:
    """Only ``pack.yaml`` of the pack in ``path``, validated (to learn which lists it wants before loading)."""
    problems: list[Problem] = []
    pack_file = Path(path) / "pack.yaml"
    if not pack_file.is_file():
        raise PackError([Problem("pack.yaml", "", "", f"no pack.yaml in {Path(path).resolve()}")])
    spec = validate_spec(PackSpec, read_yaml(pack_file, "pack.yaml", problems), "pack.yaml", problems)
    if spec is None:
        raise PackError(problems)
    return spec


def load_pack(path: Path | str, extra_lists: Sequence[PartyList] = ()) -> Pack:
    """Load and validate the pack in folder ``path`` together with imported party lists.

    Raises PackError listing every problem found. Warnings (alias collisions, unused lists) are kept on
    ``Pack.warnings``.
    """
    root = Path(path).resolve()
    problems: list[Problem] = []
    pack_file = root / "pack.yaml"
    if not pack_file.is_file():
        raise PackError([Problem("pack.yaml", "", "", f"no pack.yaml in {root}")])
    pack_spec = validate_spec(PackSpec, read_yaml(pack_file, "pack.yaml", problems), "pack.yaml", problems)
    if pack_spec is None:
        raise PackError(problems)

    sources_dir = (root / pack_spec.sources_dir).resolve()
    source_files = sorted(sources_dir.glob("*.yaml")) if sources_dir.is_dir() else []
    if not sources_dir.is_dir():
        problems.append(Problem("pack.yaml", "", "sources_dir", f"folder {sources_dir} does not exist"))
    sources: dict[str, SourceSpec] = {}
    for file in source_files:
        label = _relative(file, root)
        source = validate_spec(SourceSpec, read_yaml(file, label, problems), label, problems, entry=file.stem)
        if source is None:
            continue
        if source.id != file.stem:
            problems.append(Problem(label, source.id, "id", f"must equal the file name {file.stem!r}"))
        sources[source.id] = source

    list_files = sorted((root / "lists").glob("**/*.yaml"))
    merged = _merge_lists(list_files, root, problems)

    rule_files = sorted(p for p in (root / "rules").glob("*.yaml") if not p.name.endswith(".cases.yaml"))
    rules: list[RuleSpec] = []
    for file in rule_files:
        label = _relative(file, root)
        rule = validate_spec(RuleSpec, read_yaml(file, label, problems), label, problems, entry=file.stem)
        if rule is None:
            continue
        if rule.id != file.stem:
            problems.append(Problem(label, rule.id, "id", f"must equal the file name {file.stem!r}"))
        rules.append(rule)

    cases: dict[str, CasesSpec] = {}
    for rule in rules:
        cases_file = root / "rules" / f"{rule.id}.cases.yaml"
        label = _relative(cases_file, root)
        if not cases_file.is_file():
            problems.append(Problem(label, rule.id, "", "every rule needs a cases file beside it"))
            continue
        spec = validate_spec(CasesSpec, read_yaml(cases_file, label, problems), label, problems, entry=rule.id)
        if spec is None:
            continue
        _check_cases(spec, label, problems)
        cases[rule.id] = spec
    for file in sorted((root / "rules").glob("*.cases.yaml")):
        stem = file.name[: -len(".cases.yaml")]
        if stem not in {f.stem for f in rule_files}:
            problems.append(Problem(_relative(file, root), stem, "", "cases file without a rule of that id"))

    party_lists = {CURATED_LIST: merged.parties}
    for imported in extra_lists:
        if imported.name in party_lists:
            problems.append(Problem("pack.yaml", imported.name, "imported_lists", "list name used twice"))
        party_lists[imported.name] = list(imported.entries)

    pack = Pack(
        root=root,
        spec=pack_spec,
        info=PackInfo(name=pack_spec.name, version=pack_spec.version,
                      digest=pack_digest([pack_file, *list_files, *rule_files,
                                          *(root / "rules").glob("*.cases.yaml"), *source_files], root,
                                         extra_lists)
                      if not problems else ""),
        loaded_at=datetime.now(UTC),
        sources=sources,
        party_lists=party_lists,
        list_digests={imported.name: imported.digest for imported in extra_lists},
        goods=merged.goods,
        ports=merged.ports,
        country_groups={g.id: g for g in merged.country_groups},
        address_markers={m.id: m for m in merged.address_markers},
        term_sets={t.id: t for t in merged.term_sets},
        rules=rules,
        cases=cases,
        levels=dict(pack_spec.thresholds.levels),
    )
    _check_references(pack, merged.origins, problems)
    if problems:
        raise PackError(problems)
    return pack


class _Merged:
    def __init__(self) -> None:
        self.parties: list[PartySpec] = []
        self.goods: list[Any] = []
        self.ports: list[Any] = []
        self.country_groups: list[Any] = []
        self.address_markers: list[Any] = []
        self.term_sets: list[Any] = []
        self.origins: dict[str, str] = {}  # entry id -> file label, for error messages


def _merge_lists(files: list[Path], root: Path, problems: list[Problem]) -> _Merged:
    merged = _Merged()
    for file in files:
        label = _relative(file, root)
        spec = validate_spec(ListFileSpec, read_yaml(file, label, problems), label, problems)
        if spec is None:
            continue
        sections: list[tuple[list[Any], Sequence[Any]]] = [
            (merged.parties, spec.parties), (merged.goods, spec.goods), (merged.ports, spec.ports),
            (merged.country_groups, spec.country_groups), (merged.address_markers, spec.address_markers),
            (merged.term_sets, spec.term_sets),
        ]
        for target, items in sections:
            for item in items:
                if item.id in merged.origins:
                    problems.append(Problem(label, item.id, "id",
                                            f"duplicate id (also in {merged.origins[item.id]})"))
                    continue
                merged.origins[item.id] = label
                target.append(item)
    return merged


def _check_cases(spec: CasesSpec, label: str, problems: list[Problem]) -> None:
    for index, case in enumerate(spec.cases):
        try:
            parse_record(case.record)
        except RecordError as exc:
            for path, message in exc.errors:
                problems.append(Problem(label, case.name, f"cases[{index}].record.{path}", message))
    if not any(case.fires for case in spec.cases):
        problems.append(Problem(label, "", "cases", "needs at least one case that fires"))
    if all(case.fires for case in spec.cases):
        problems.append(Problem(label, "", "cases", "needs at least one case that must not fire"))


def _walk(condition: ConditionSpec, path: str = "when") -> Iterator[tuple[str, ConditionSpec, bool]]:
    """Every condition of a tree with its path and whether it sits under a ``not``."""
    stack: list[tuple[str, ConditionSpec, bool]] = [(path, condition, False)]
    while stack:
        where, node, negated = stack.pop()
        yield where, node, negated
        if isinstance(node, AllSpec | AnySpec):
            stack.extend((f"{where}.conditions[{i}]", c, negated) for i, c in enumerate(node.conditions))
        elif isinstance(node, NotSpec):
            stack.append((f"{where}.condition", node.condition, not negated))


def _check_references(pack: Pack, origins: dict[str, str], problems: list[Problem]) -> None:
    sources = pack.sources
    categories = {g.category for g in pack.goods}
    goods_tags = {t for g in pack.goods for t in g.tags}
    port_tags = {t for p in pack.ports for t in p.tags}
    known_ids = set(origins)

    def need_source(label: str, entry: str, field: str, ids: Iterable[str]) -> None:
        for source_id in ids:
            if source_id not in sources:
                problems.append(Problem(label, entry, field, f"unknown source {source_id!r} (no seeds file)"))

    for party in pack.party_lists[CURATED_LIST]:
        label = origins[party.id]
        need_source(label, party.id, "sources", party.sources)
        for related in party.related:
            if related not in known_ids:
                problems.append(Problem(label, party.id, "related", f"unknown entry {related!r}"))
    for goods in pack.goods:
        need_source(origins[goods.id], goods.id, "sources", goods.sources)
        for category in goods.corroborated_by:
            if category not in categories:
                problems.append(Problem(origins[goods.id], goods.id, "corroborated_by",
                                        f"no goods entry has category {category!r}"))
        for index, pattern in enumerate(goods.part_numbers):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(Problem(origins[goods.id], goods.id, f"part_numbers[{index}]",
                                        f"invalid regular expression: {exc}"))
    others: list[PortSpec | CountryGroupSpec | AddressMarkerSpec | TermSetSpec] = [
        *pack.ports, *pack.country_groups.values(), *pack.address_markers.values(), *pack.term_sets.values()]
    for item in others:
        need_source(origins[item.id], item.id, "sources", item.sources)

    formatter = string.Formatter()
    for rule in pack.rules:
        label = f"rules/{rule.id}.yaml"
        need_source(label, rule.id, "sources", rule.sources)
        provided = set(ALWAYS)
        for where, node, negated in _walk(rule.when):
            if not negated:
                provided |= PROVIDES.get(node.kind, frozenset())
            _check_condition(pack, node, label, rule.id, where, categories, goods_tags, port_tags, problems)
        try:
            used = {name for _, name, _, _ in formatter.parse(rule.reason) if name is not None}
        except ValueError as exc:
            problems.append(Problem(label, rule.id, "reason", f"invalid template: {exc}"))
            continue
        for name in sorted(used):
            if name not in PLACEHOLDERS:
                problems.append(Problem(label, rule.id, "reason", f"unknown placeholder {{{name}}}; known: "
                                        + ", ".join(sorted(PLACEHOLDERS))))
            elif name not in provided:
                problems.append(Problem(label, rule.id, "reason",
                                        f"placeholder {{{name}}} is not provided by this rule's conditions"))


def _check_condition(pack: Pack, node: ConditionSpec, label: str, rule_id: str, where: str,
                     categories: set[str], goods_tags: set[str], port_tags: set[str],
                     problems: list[Problem]) -> None:
    def bad(field: str, message: str) -> None:
        problems.append(Problem(label, rule_id, f"{where}.{field}", message))

    if isinstance(node, PartyMatchSpec | VesselMatchSpec):
        for field in ("min_score", "max_score"):
            value = getattr(node, field)
            if isinstance(value, str) and value not in pack.levels:
                bad(field, f"unknown level {value!r}; pack levels: {', '.join(sorted(pack.levels))}")
            elif isinstance(value, float | int) and not 0 <= value <= 1:
                bad(field, "must be between 0 and 1")
        if isinstance(node, PartyMatchSpec):
            for name in node.lists:
                if name != CURATED_LIST and name not in pack.spec.imported_lists:
                    bad("lists", f"list {name!r} is neither 'curated' nor in pack.yaml imported_lists")
    elif isinstance(node, GoodsConditionSpec):
        if not node.categories and not node.tags:
            bad("categories", "name at least one category or tag")
        for category in node.categories:
            if category not in categories:
                bad("categories", f"no goods entry has category {category!r}")
        for tag in node.tags:
            if tag not in goods_tags:
                bad("tags", f"no goods entry has tag {tag!r}")
    elif isinstance(node, CountryConditionSpec):
        if not node.groups and not node.countries:
            bad("groups", "name at least one country group or country")
        if not node.party_roles and not node.route_roles and not node.vessel_flags:
            bad("party_roles", "name party roles, route roles or vessel_flags")
        for group in node.groups:
            if group not in pack.country_groups:
                bad("groups", f"unknown country group {group!r}")
    elif isinstance(node, PlaceConditionSpec):
        for tag in node.tags:
            if tag not in port_tags:
                bad("tags", f"no port has tag {tag!r}")
    elif isinstance(node, AddressConditionSpec):
        for marker in node.markers:
            if marker not in pack.address_markers:
                bad("markers", f"unknown address marker {marker!r}")
    elif isinstance(node, PartyMissingSpec | PartyNameSpec):
        sets = node.placeholders if isinstance(node, PartyMissingSpec) else node.term_sets
        for term_set in sets:
            if term_set not in pack.term_sets:
                bad("placeholders" if isinstance(node, PartyMissingSpec) else "term_sets",
                    f"unknown term set {term_set!r}")
        if isinstance(node, PartyNameSpec) and not node.term_sets and not node.same_as_roles:
            bad("term_sets", "name term sets or same_as_roles")
    elif isinstance(node, AttributeSpec):
        if node.pattern is not None:
            try:
                re.compile(node.pattern)
            except re.error as exc:
                bad("pattern", f"invalid regular expression: {exc}")
    elif isinstance(node, ThirdCountrySpec | RecordKindSpec | AllSpec | AnySpec | NotSpec):
        pass


def alias_collisions(pack: Pack) -> list[str]:
    """Warnings for names (primary or alias) that two different curated entries share after normalisation."""
    from service.engine.normalise import fold  # the loader stays importable without the engine's data

    owners: dict[str, set[str]] = {}
    for party in pack.party_lists[CURATED_LIST]:
        for name in [party.name, *(a.name if isinstance(a, AliasSpec) else a for a in party.aliases)]:
            owners.setdefault(fold(name), set()).add(party.id)
    return [f"name {name!r} is shared by entries {', '.join(sorted(ids))}"
            for name, ids in sorted(owners.items()) if len(ids) > 1 and name]
