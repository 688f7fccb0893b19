"""How flat rows (CSV, flat Parquet) become records: target paths, mapping files and the default layout.

A *target path* names one field of a record, in the same spelling error paths use, except that parties and
route points are picked by role instead of by position::

    id | kind | declared_end_use
    attributes.<key>
    parties[<role>].name | .country | .address | .identifiers.<kind>     second party of a role: [<role>#2]
    goods[<n>].description | .hs_code | .eccn | .part_number | .manufacturer | .quantity | .value | .currency
    route[<role>].place | .country | .locode                             second point of a role: [<role>#2]
    vessels[<n>].name | .imo | .flag

A *mapping file* (YAML) says which column feeds which target::

    columns:                      # column -> target path (required)
      shipment_ref: id
      consignee_name: parties[consignee].name
      hs_code_1: goods[0].hs_code
    constants:                    # target path -> value given to every row (optional)
      kind: counterparty
    ignore: [internal_note]       # columns deliberately not screened (optional; others only warn)
    delimiter: ";"                # CSV only (optional; default: tab for .tsv, comma otherwise)
    encoding: utf-8               # CSV only, any ASCII-compatible codec (optional; a BOM is skipped)

Without a mapping file the *default layout* applies: every column must be a target path itself or one of
the flat names of :func:`default_target` (``consignee_name``, ``goods_hs_code``, ``route_destination_country``,
``vessel_imo``, ``attr_incoterms`` ...). :func:`flatten_record` writes a record in that layout.

Parties and route points appear in a record in the order their first column appears in the header (the
order of ``columns`` in a mapping file); a group whose columns are all empty in a row is left out.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from service.errors import BatchError, Problem
from service.model import IdentifierKind, PartyRole, Record, RouteRole

# --- target paths -------------------------------------------------------------------------------------------

PARTY_FIELDS = ("name", "country", "address")
GOODS_FIELDS = ("description", "hs_code", "eccn", "part_number", "manufacturer", "quantity", "value", "currency")
ROUTE_FIELDS = ("place", "country", "locode")
VESSEL_FIELDS = ("name", "imo", "flag")
RECORD_FIELDS = ("id", "kind", "declared_end_use")

Collection = Literal["parties", "goods", "route", "vessels"]

_GROUP_PATH = re.compile(
    r"^(?P<collection>parties|goods|route|vessels)\[(?P<selector>[a-z_]+(?:#[1-9][0-9]*)?|[0-9]+)\]"
    r"\.(?P<field>[a-z_]+)(?:\.(?P<sub>[a-z_]+))?$"
)
_ATTRIBUTE_PATH = re.compile(r"^attributes\.(?P<key>[^\s\[\]]+)$")
_MAX_INDEX = 999


@dataclass(frozen=True, slots=True)
class Target:
    """One parsed target path.

    ``group`` is None for top-level fields and attributes; otherwise (collection, selector) where the
    selector is ``role`` or ``role#n`` for parties and route points and the 0-based index for goods and
    vessels. ``field`` is the field inside the group (``identifiers.inn`` for identifiers) or the top-level
    field name (``attributes.<key>`` for attributes).
    """

    path: str
    group: tuple[Collection, str] | None
    field: str


def parse_target(path: str) -> Target:
    """Parse a target path, raising ValueError with a message that says what is wrong."""
    text = path.strip()
    if text in RECORD_FIELDS:
        return Target(text, None, text)
    if text.startswith("attributes"):
        attr = _ATTRIBUTE_PATH.match(text)
        if attr is None:
            raise ValueError(f"{path!r}: an attribute target is 'attributes.<key>' with a key without spaces")
        return Target(text, None, text)
    match = _GROUP_PATH.match(text)
    if match is None:
        raise ValueError(
            f"{path!r} is not a target path; expected one of id, kind, declared_end_use, attributes.<key>, "
            "parties[<role>].<field>, goods[<n>].<field>, route[<role>].<field>, vessels[<n>].<field>"
        )
    collection: Collection = match["collection"]  # type: ignore[assignment]
    selector, field, sub = match["selector"], match["field"], match["sub"]
    if collection in ("parties", "route"):
        if selector.isdigit():
            raise ValueError(f"{path!r}: {collection} are selected by role, e.g. {collection}[consignee]")
        role = selector.partition("#")[0]
        roles = PartyRole if collection == "parties" else RouteRole
        if role not in roles.__members__:
            raise ValueError(f"{path!r}: unknown {collection} role {role!r}; "
                             f"known: {', '.join(roles.__members__)}")
        if selector.endswith("#1"):
            selector = role  # [consignee#1] and [consignee] are the same group
    else:
        if not selector.isdigit():
            raise ValueError(f"{path!r}: {collection} are selected by position from 0, e.g. {collection}[0]")
        if int(selector) > _MAX_INDEX:
            raise ValueError(f"{path!r}: position above {_MAX_INDEX}")
        selector = str(int(selector))
    allowed = {"parties": PARTY_FIELDS, "goods": GOODS_FIELDS, "route": ROUTE_FIELDS,
               "vessels": VESSEL_FIELDS}[collection]
    if collection == "parties" and field == "identifiers":
        if sub is None or sub not in IdentifierKind.__members__:
            raise ValueError(f"{path!r}: identifiers take a kind, one of {', '.join(IdentifierKind.__members__)}")
        field = f"identifiers.{sub}"
    elif sub is not None or field not in allowed:
        raise ValueError(f"{path!r}: unknown field {field if sub is None else field + '.' + sub!r} of "
                         f"{collection}; known: {', '.join(allowed)}"
                         + (", identifiers.<kind>" if collection == "parties" else ""))
    canonical = f"{collection}[{selector}].{field}"
    return Target(canonical, (collection, selector), field)


# --- the default layout -------------------------------------------------------------------------------------

_PARTY_ROLES_LONGEST_FIRST = sorted(PartyRole.__members__, key=len, reverse=True)
_ROUTE_ROLES_LONGEST_FIRST = sorted(RouteRole.__members__, key=len, reverse=True)
_PARTY_COLUMN_FIELDS = (*PARTY_FIELDS, *IdentifierKind.__members__)


def _split_numbered(text: str, prefixes: Sequence[str], fields: Sequence[str]) -> tuple[str, int, str] | None:
    """Split '<prefix><n?>_<field>' where n >= 1 is optional (absent = 1)."""
    for prefix in prefixes:
        if not text.startswith(prefix):
            continue
        rest = text[len(prefix):]
        number = re.match(r"^([1-9][0-9]*)?_(.+)$", rest)
        if number is None:
            continue
        field = number[2]
        if field in fields:
            return prefix, int(number[1] or 1), field
    return None


def default_target(column: str) -> str | None:
    """The target path a column feeds in the default layout, or None when the name is not part of it.

    Flat names: ``id``, ``kind``, ``declared_end_use``; ``<role>_name|country|address|<identifier kind>``
    (``consignee_name``, ``end_user_inn``; a second party of a role: ``notify_party2_name``);
    ``goods_<field>`` (first goods line; the n-th: ``goods<n>_<field>``); ``route_<role>_place|country|
    locode`` (``route_port_of_loading_locode``; a second point: ``route_transit2_country``);
    ``vessel_name|imo|flag`` (``vessel2_imo``); ``attr_<key>`` for attributes. A column named like a target
    path (``parties[consignee].name``) feeds that path.
    """
    name = column.strip()
    if name in RECORD_FIELDS:
        return name
    if name.startswith("attr_") and len(name) > 5:
        return f"attributes.{name[5:]}"
    if name.startswith("route_"):
        split = _split_numbered(name[6:], _ROUTE_ROLES_LONGEST_FIRST, ROUTE_FIELDS)
        if split:
            role, nth, field = split
            return f"route[{role}{'' if nth == 1 else f'#{nth}'}].{field}"
    if name.startswith("goods"):
        split = _split_numbered(name, ["goods"], GOODS_FIELDS)
        if split:
            return f"goods[{split[1] - 1}].{split[2]}"
    if name.startswith("vessel"):
        split = _split_numbered(name, ["vessel"], VESSEL_FIELDS)
        if split:
            return f"vessels[{split[1] - 1}].{split[2]}"
    split = _split_numbered(name, _PARTY_ROLES_LONGEST_FIRST, _PARTY_COLUMN_FIELDS)
    if split:
        role, nth, field = split
        field = field if field in PARTY_FIELDS else f"identifiers.{field}"
        return f"parties[{role}{'' if nth == 1 else f'#{nth}'}].{field}"
    if "[" in name or "." in name:
        try:
            return parse_target(name).path
        except ValueError:
            return None
    return None


def _default_column(target: Target) -> str:
    """The default-layout column name of a target (the inverse of :func:`default_target`)."""
    if target.group is None:
        return target.field if target.field in RECORD_FIELDS else "attr_" + target.field[len("attributes."):]
    collection, selector = target.group
    field = target.field.removeprefix("identifiers.")
    if collection in ("parties", "route"):
        role, _, nth = selector.partition("#")
        prefix = role if collection == "parties" else f"route_{role}"
        return f"{prefix}{nth}_{field}"
    index = int(selector)
    prefix = "goods" if collection == "goods" else "vessel"
    return f"{prefix}{'' if index == 0 else index + 1}_{field}"


# --- mapping files ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    """A validated mapping: column -> target, constants, ignored columns and CSV dialect."""

    columns: dict[str, Target]
    constants: dict[str, tuple[Target, str]]
    ignore: frozenset[str]
    delimiter: str | None  # None: by extension, tab for .tsv, comma otherwise
    encoding: str
    source: str
    digest: str

    @classmethod
    def default(cls) -> ColumnMapping:
        """The mapping used without a file: columns are read with :func:`default_target`."""
        return cls({}, {}, frozenset(), None, "utf-8", "default layout", "default")

    @property
    def is_default(self) -> bool:
        return self.digest == "default"


_MAPPING_KEYS = {"columns", "constants", "ignore", "delimiter", "encoding"}


def render_problem(problem: Problem) -> str:
    """``file: key: message`` (with the field between key and message when there is one)."""
    parts = [problem.file, problem.entry or "-", *([problem.field] if problem.field else []), problem.message]
    return ": ".join(parts)


def _problems_error(problems: list[Problem]) -> BatchError:
    return BatchError("invalid mapping:\n" + "\n".join(f"  {render_problem(p)}" for p in problems))


def load_mapping(path: Path) -> ColumnMapping:
    """Read and validate a mapping file; every problem is reported at once as file: key: field: message."""
    name = str(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise BatchError(f"cannot read mapping {name}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(raw_bytes.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _problems_error([Problem(name, "", "", f"not valid YAML: {exc}")]) from None
    return mapping_from_data(data, name, hashlib.sha256(raw_bytes).hexdigest())


def mapping_from_data(data: Any, source: str, digest: str) -> ColumnMapping:
    """Validate mapping data already decoded from YAML (see the module docstring for the format)."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise _problems_error([Problem(source, "", "", "a mapping file is a YAML mapping with a 'columns' key")])
    for key in data:
        if key not in _MAPPING_KEYS:
            problems.append(Problem(source, str(key), "", f"unknown key; allowed: {', '.join(sorted(_MAPPING_KEYS))}"))
    raw_columns = data.get("columns")
    columns: dict[str, Target] = {}
    if not isinstance(raw_columns, dict) or not raw_columns:
        problems.append(Problem(source, "columns", "", "required: a mapping of column name -> target path"))
        raw_columns = {}
    seen_targets: dict[str, str] = {}
    for column, target_text in raw_columns.items():
        column_name = str(column)
        if not isinstance(target_text, str):
            problems.append(Problem(source, f"columns.{column_name}", "", "the target must be a path string"))
            continue
        try:
            target = parse_target(target_text)
        except ValueError as exc:
            problems.append(Problem(source, f"columns.{column_name}", "", str(exc)))
            continue
        if target.path in seen_targets:
            problems.append(Problem(source, f"columns.{column_name}", "",
                                    f"{target.path} is already fed by column {seen_targets[target.path]!r}"))
            continue
        seen_targets[target.path] = column_name
        columns[column_name] = target
    raw_constants = data.get("constants") or {}
    constants: dict[str, tuple[Target, str]] = {}
    if not isinstance(raw_constants, dict):
        problems.append(Problem(source, "constants", "", "must be a mapping of target path -> value"))
        raw_constants = {}
    for target_text, value in raw_constants.items():
        key = f"constants.{target_text}"
        try:
            target = parse_target(str(target_text))
        except ValueError as exc:
            problems.append(Problem(source, key, "", str(exc)))
            continue
        if target.path == "id":
            problems.append(Problem(source, key, "", "every record needs its own id; map a column to id"))
            continue
        if target.path in seen_targets:
            problems.append(Problem(source, key, "", f"{target.path} is also fed by column "
                                                     f"{seen_targets[target.path]!r}"))
            continue
        if value is None or isinstance(value, dict | list):
            problems.append(Problem(source, key, "", "a constant is a single text or number"))
            continue
        seen_targets[target.path] = key
        constants[target.path] = (target, cell_text(value) or "")
    if raw_columns and "id" not in seen_targets and not problems:
        problems.append(Problem(source, "columns", "", "no column feeds 'id'; every record needs one"))
    raw_ignore = data.get("ignore") or []
    if not isinstance(raw_ignore, list):
        problems.append(Problem(source, "ignore", "", "must be a list of column names"))
        raw_ignore = []
    ignore = frozenset(str(c) for c in raw_ignore)
    for column_name in sorted(ignore & set(columns)):
        problems.append(Problem(source, "ignore", column_name, "column is both mapped and ignored"))
    delimiter = data.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n"):
        problems.append(Problem(source, "delimiter", "", "one character other than a quote or a line break"))
        delimiter = None
    encoding = data.get("encoding", "utf-8")
    try:
        if not isinstance(encoding, str):
            raise LookupError(encoding)
        codec = codecs.lookup(encoding)
        if codec.name.startswith(("utf-16", "utf-32")) or "\n".encode(codec.name) != b"\n":
            problems.append(Problem(source, "encoding", "", f"{encoding!r} is not ASCII-compatible; "
                                                            "re-encode the file as UTF-8"))
    except LookupError:
        problems.append(Problem(source, "encoding", "", f"unknown encoding {encoding!r}"))
        encoding = "utf-8"
    if problems:
        raise _problems_error(problems)
    return ColumnMapping(columns, constants, ignore, delimiter, str(encoding), source, digest)


# --- plans: a mapping applied to one header -----------------------------------------------------------------


@dataclass(frozen=True)
class RowPlan:
    """How to turn rows of one file (one header) into record dicts. Built once per file, sent to workers."""

    columns: tuple[tuple[int, str, Target], ...]  # (cell index, column name, target), in group order
    constants: tuple[tuple[Target, str], ...]
    width: int

    @cached_property
    def columns_by_group(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """(field, column) of every column feeding each group."""
        grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for _, column, target in self.columns:
            if target.group is not None:
                grouped.setdefault(target.group, []).append((target.field, column))
        return grouped

    def build(self, cells: Sequence[Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Build the record dict of one row and the map from record path to the column that fed it.

        Empty cells are absent values; a party, goods line, route point or vessel whose cells are all empty
        is left out, so positions in the record count only the groups present in this row.
        """
        record: dict[str, Any] = {}
        sources: dict[str, str] = {}
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        group_columns: dict[tuple[str, str], dict[str, str]] = {}
        values: list[tuple[Target, str, str]] = []
        for target, value in self.constants:
            values.append((target, value, f"constant {target.path}"))
        for index, column, target in self.columns:
            text = cell_text(cells[index]) if index < len(cells) else None
            if text:
                values.append((target, text, column))
        for target, text, column in values:
            if target.group is None:
                if target.field.startswith("attributes."):
                    record.setdefault("attributes", {})[target.field[11:]] = text
                else:
                    record[target.field] = text
                sources[target.field] = column
                continue
            fields = groups.setdefault(target.group, {})
            columns_of_group = group_columns.setdefault(target.group, {})
            if target.field.startswith("identifiers."):
                fields.setdefault("identifiers", {})[target.field[12:]] = text
            else:
                fields[target.field] = text
            columns_of_group[target.field] = column
        positions: dict[str, int] = {}
        for (collection, selector), fields in _ordered_groups(groups):
            if collection in ("parties", "route"):
                fields = {"role": selector.partition("#")[0], **fields}
            index = positions.get(collection, 0)
            positions[collection] = index + 1
            record.setdefault(collection, []).append(fields)
            # every column that could feed this group, empty ones too: a missing name is then blamed on
            # the (empty) name column
            for field, column in self.columns_by_group.get((collection, selector), ()):
                sources[f"{collection}[{index}].{field}"] = column
            for field, column in group_columns[(collection, selector)].items():
                sources[f"{collection}[{index}].{field}"] = column
        return record, sources


def _ordered_groups(groups: dict[tuple[str, str], dict[str, Any]]) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    # Goods and vessels keep their declared positions (goods[2] stays after goods[0] even if goods[1] is
    # empty); parties and route points keep the order in which the header first names them.
    def key(item: tuple[tuple[str, str], dict[str, Any]]) -> tuple[int, int]:
        (_, selector), _ = item
        return (int(selector), 0) if selector.isdigit() else (0, 0)

    return sorted(groups.items(), key=key)


def plan_for_header(header: Sequence[str], mapping: ColumnMapping, source: str) -> tuple[RowPlan, list[str]]:
    """Check a file's header against the mapping and build its plan; returns the plan and warnings.

    Raises BatchError (a usage error) when a mapped column is missing, when the default layout meets a
    column it does not know, or when two columns feed the same field.
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in positions:
            problems.append(Problem(source, "header", name, f"column appears twice (columns {positions[name] + 1} "
                                                            f"and {index + 1})"))
        positions.setdefault(name, index)
    planned: list[tuple[int, str, Target]] = []
    if mapping.is_default:
        unknown: list[str] = []
        fed: dict[str, str] = {}
        for index, name in enumerate(header):
            target_path = default_target(name)
            if target_path is None:
                if name.strip():
                    unknown.append(name)
                continue
            if target_path in fed:
                problems.append(Problem(source, "header", name, f"feeds {target_path}, as does {fed[target_path]!r}"))
                continue
            fed[target_path] = name
            planned.append((index, name, parse_target(target_path)))
        if unknown:
            problems.append(Problem(source, "header", ", ".join(unknown),
                                    "not columns of the default layout; write a mapping file "
                                    "(screening batch mapping FILE proposes one) or rename them"))
        if "id" not in fed:
            problems.append(Problem(source, "header", "id", "no 'id' column; every record needs an id"))
    else:
        for name, target in mapping.columns.items():
            if name not in positions:
                problems.append(Problem(source, "header", name, f"column named in {mapping.source} is missing"))
                continue
            planned.append((positions[name], name, target))
        unmapped = [n for n in header if n not in mapping.columns and n not in mapping.ignore and n.strip()]
        if unmapped:
            warnings.append(f"{source}: columns not in the mapping are not screened: {', '.join(unmapped)} "
                            f"(list them under 'ignore' in {mapping.source} to silence this)")
    if problems:
        raise BatchError("the input does not fit the mapping:\n"
                         + "\n".join(f"  {render_problem(p)}" for p in problems))
    return RowPlan(tuple(planned), tuple(mapping.constants.values()), len(header)), warnings


# --- cells --------------------------------------------------------------------------------------------------


def cell_text(value: Any) -> str | None:
    """The text of one cell: None and blank are absent; numbers as written (integral floats without .0)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN is how pandas-made Parquet files say "missing"
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip() or None


# --- writing records in the default layout ------------------------------------------------------------------


def flatten_record(record: Record) -> dict[str, str]:
    """A record as one row of the default layout (column -> text); empty fields are left out.

    Parties and route points are named by role, so a row read back lists them in header order; write the
    header with :func:`default_header` to keep the canonical order.
    """
    row: dict[str, str] = {"id": record.id, "kind": record.kind}
    if record.declared_end_use:
        row["declared_end_use"] = record.declared_end_use
    role_counts: dict[str, int] = {}
    for party in record.parties:
        nth = role_counts[party.role] = role_counts.get(party.role, 0) + 1
        selector = party.role.value if nth == 1 else f"{party.role.value}#{nth}"
        for field in PARTY_FIELDS:
            value = getattr(party, field)
            if value is not None:
                row[_default_column(Target("", ("parties", selector), field))] = cell_text(value) or ""
        for kind, value in party.identifiers.items():
            row[_default_column(Target("", ("parties", selector), f"identifiers.{kind.value}"))] = value
    for index, goods in enumerate(record.goods):
        for field in GOODS_FIELDS:
            value = getattr(goods, field)
            if value is not None:
                row[_default_column(Target("", ("goods", str(index)), field))] = cell_text(value) or ""
    route_counts: dict[str, int] = {}
    for point in record.route:
        nth = route_counts[point.role] = route_counts.get(point.role, 0) + 1
        selector = point.role.value if nth == 1 else f"{point.role.value}#{nth}"
        for field in ROUTE_FIELDS:
            value = getattr(point, field)
            if value is not None:
                row[_default_column(Target("", ("route", selector), field))] = value
    for index, vessel in enumerate(record.vessels):
        for field in VESSEL_FIELDS:
            value = getattr(vessel, field)
            if value is not None:
                row[_default_column(Target("", ("vessels", str(index)), field))] = value
    for key, value in record.attributes.items():
        row[f"attr_{key}"] = value
    return {k: v for k, v in row.items() if v != ""}


def default_header(rows: Iterable[Mapping[str, str]]) -> list[str]:
    """The union of the rows' columns in canonical order: record fields, parties by role, goods, route by
    role, vessels, attributes."""
    seen: set[str] = set()
    for row in rows:
        seen.update(row)
    party_rank = {role: i for i, role in enumerate(PartyRole.__members__)}
    route_rank = {role: i for i, role in enumerate(RouteRole.__members__)}
    field_rank = {f: i for i, f in enumerate((*PARTY_FIELDS, *(f"identifiers.{k}" for k in IdentifierKind.__members__),
                                              *GOODS_FIELDS, *ROUTE_FIELDS, *VESSEL_FIELDS))}

    def rank(column: str) -> tuple[int, int, int, int, str]:
        target = parse_target(default_target(column) or column)
        if target.group is None:
            top = RECORD_FIELDS.index(target.field) if target.field in RECORD_FIELDS else 99
            return (0 if top < 99 else 6, top, 0, 0, column)
        collection, selector = target.group
        field = field_rank.get(target.field, 99)
        if collection in ("parties", "route"):
            role, _, nth = selector.partition("#")
            ranks = party_rank if collection == "parties" else route_rank
            return (1 if collection == "parties" else 3, ranks[role], int(nth or 1), field, column)
        return (2 if collection == "goods" else 4, int(selector), 0, field, column)

    return sorted(seen, key=rank)


# --- proposing a mapping from a header ----------------------------------------------------------------------

_ROLE_WORDS: dict[str, str] = {
    "shipper": "shipper", "exporter": "seller", "seller": "seller", "supplier": "seller", "vendor": "seller",
    "buyer": "buyer", "purchaser": "buyer", "importer": "buyer", "customer": "counterparty",
    "consignee": "consignee", "cnee": "consignee", "receiver": "consignee",
    "end_user": "end_user", "enduser": "end_user", "eu": "end_user", "ultimate_consignee": "end_user",
    "notify": "notify_party", "notify_party": "notify_party",
    "forwarder": "freight_forwarder", "freight_forwarder": "freight_forwarder", "ff": "freight_forwarder",
    "intermediary": "intermediary", "agent": "intermediary", "broker": "intermediary",
    "payer": "payer", "payor": "payer", "remitter": "payer", "ordering_customer": "payer",
    "bank": "bank", "beneficiary_bank": "bank", "carrier": "carrier",
    "counterparty": "counterparty", "client": "counterparty", "beneficiary": "counterparty",
}
_PARTY_FIELD_WORDS: dict[str, str] = {
    "name": "name", "nm": "name", "company": "name", "country": "country", "ctry": "country",
    "cntry": "country", "country_code": "country", "address": "address", "addr": "address",
    **{kind: f"identifiers.{kind}" for kind in IdentifierKind.__members__},
    "vat": "identifiers.tax_id", "tin": "identifiers.tax_id", "taxid": "identifiers.tax_id",
}
_ROUTE_WORDS: dict[str, str] = {
    "pol": "port_of_loading", "port_of_loading": "port_of_loading", "loading_port": "port_of_loading",
    "pod": "port_of_discharge", "port_of_discharge": "port_of_discharge", "discharge_port": "port_of_discharge",
    "origin": "origin", "orig": "origin", "destination": "destination", "dest": "destination",
    "final_destination": "destination", "final_dest": "destination", "place_of_delivery": "destination",
    "transit": "transit", "transshipment": "transshipment", "tranship": "transshipment",
}
_ROUTE_FIELD_WORDS: dict[str, str] = {
    "locode": "locode", "unlocode": "locode", "country": "country", "ctry": "country",
    "place": "place", "port": "place", "city": "place", "name": "place",
}
_GOODS_FIELD_WORDS: dict[str, str] = {
    "hs": "hs_code", "hs_code": "hs_code", "hscode": "hs_code", "tariff_code": "hs_code",
    "commodity_code": "hs_code", "taric": "hs_code", "description": "description", "desc": "description",
    "goods_description": "description", "item_description": "description", "product": "description",
    "eccn": "eccn", "part_number": "part_number", "part_no": "part_number", "partno": "part_number",
    "pn": "part_number", "mpn": "part_number", "manufacturer": "manufacturer", "mfr": "manufacturer",
    "maker": "manufacturer", "brand": "manufacturer", "quantity": "quantity", "qty": "quantity",
    "value": "value", "amount": "value", "currency": "currency", "ccy": "currency", "cur": "currency",
}
_VESSEL_FIELD_WORDS: dict[str, str] = {"imo": "imo", "name": "name", "flag": "flag"}
_ID_WORDS = {"id", "ref", "reference", "record_id", "shipment_id", "shipment_ref", "customer_id",
             "transaction_id", "txn_id", "order_id", "invoice_no", "document_no"}


def _normalise_column(name: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())  # camelCase -> camel_Case
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def guess_target(column: str) -> str | None:
    """A best guess of the target a column of an export feeds (used to propose mappings), or None."""
    exact = default_target(column)
    if exact:
        return exact
    name = _normalise_column(column)
    if name in _ID_WORDS:
        return "id"
    if name in ("end_use", "declared_end_use", "enduse", "intended_use"):
        return "declared_end_use"
    if name in ("kind", "record_kind", "type"):
        return None  # too ambiguous to propose; the operator decides
    number_match = re.match(r"^(.*?)_?([0-9]+)$", name)
    base, number = (number_match[1], int(number_match[2])) if number_match else (name, 1)
    for word, field in _GOODS_FIELD_WORDS.items():
        for candidate in (base, base.removeprefix("goods_"), base.removeprefix("item_")):
            if candidate == word:
                return f"goods[{max(number, 1) - 1}].{field}"
    if base.startswith(("vessel_", "ship_")):
        vessel_field = _VESSEL_FIELD_WORDS.get(base.split("_", 1)[1])
        if vessel_field:
            return f"vessels[{max(number, 1) - 1}].{vessel_field}"
    if base in ("imo", "imo_number", "imo_no"):
        return f"vessels[{max(number, 1) - 1}].imo"
    for prefix in sorted(_ROUTE_WORDS, key=len, reverse=True):
        for start in (f"route_{prefix}", prefix):
            if base == start or base.startswith(start + "_"):
                # a bare "destination" or "origin" column is usually a country, a bare "pol" a port
                bare = "country" if _ROUTE_WORDS[prefix] in ("origin", "destination") else "place"
                rest = base[len(start) + 1:] or bare
                route_field = _ROUTE_FIELD_WORDS.get(rest)
                if route_field:
                    role = _ROUTE_WORDS[prefix]
                    return f"route[{role}{'' if number == 1 else f'#{number}'}].{route_field}"
    for prefix in sorted(_ROLE_WORDS, key=len, reverse=True):
        if base == prefix or base.startswith(prefix + "_"):
            rest = base[len(prefix) + 1:] or "name"
            party_field = _PARTY_FIELD_WORDS.get(rest)
            if party_field == "address" and number_match:
                return None  # consignee_address_2 is more likely a second address line than a second party
            if party_field:
                role = _ROLE_WORDS[prefix]
                return f"parties[{role}{'' if number == 1 else f'#{number}'}].{party_field}"
    return None


def propose_mapping(header: Sequence[str], source: str) -> str:
    """A mapping file (YAML text with comments) proposed from a header; columns it cannot place are listed
    under ``ignore`` with a note, so the file loads as it is and the operator reviews it."""
    lines = [f"# Mapping proposed by `screening batch mapping` from the header of {Path(source).name}.",
             "# Review every line: guesses are made from column names only.",
             "# Target paths: id, kind, declared_end_use, attributes.<key>, parties[<role>].name|country|",
             "# address|identifiers.<kind>, goods[<n>].<field>, route[<role>].place|country|locode,",
             "# vessels[<n>].name|imo|flag (see docs/batch.md).", "columns:"]
    ignored: list[str] = []
    used: set[str] = set()
    has_id = False
    for column in header:
        if not column.strip():
            continue
        target = guess_target(column)
        if target is None or target in used:
            ignored.append(column)
            continue
        used.add(target)
        has_id = has_id or target == "id"
        lines.append(f"  {_yaml_key(column)}: {target}")
    if not has_id:
        lines.append("  # TODO: no column looks like a record id; map one to `id`")
    lines.append("ignore:" + ("" if ignored else " []"))
    for column in ignored:
        lines.append(f"  - {_yaml_key(column)}  # no confident guess; map it under columns or keep ignored")
    return "\n".join(lines) + "\n"


def _yaml_key(text: str) -> str:
    dumped = yaml.safe_dump(text, default_flow_style=True, allow_unicode=True).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()
