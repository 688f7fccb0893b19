"""The record and result contract: what callers send to be screened and what they get back.

Every model forbids unknown keys, so a misspelt field is an error naming that field rather than data that is
silently ignored. The same models serve the command line, the HTTP API and batch files.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.errors import RecordError


class PartyRole(StrEnum):
    shipper = "shipper"
    seller = "seller"
    buyer = "buyer"
    consignee = "consignee"
    end_user = "end_user"
    notify_party = "notify_party"
    freight_forwarder = "freight_forwarder"
    intermediary = "intermediary"
    payer = "payer"
    bank = "bank"
    carrier = "carrier"
    counterparty = "counterparty"
    other = "other"


class IdentifierKind(StrEnum):
    inn = "inn"
    ogrn = "ogrn"
    okpo = "okpo"
    imo = "imo"
    national_id = "national_id"
    registration = "registration"
    lei = "lei"
    passport = "passport"
    tax_id = "tax_id"


class RouteRole(StrEnum):
    origin = "origin"
    port_of_loading = "port_of_loading"
    transit = "transit"
    transshipment = "transshipment"
    port_of_discharge = "port_of_discharge"
    destination = "destination"


class Decision(StrEnum):
    block = "block"
    review = "review"
    clear = "clear"


class Severity(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class Action(StrEnum):
    block = "block"
    review = "review"


def _scalar_to_text(value: Any) -> Any:
    """Accept numbers where codes are expected: exports often write an IMO or an HS code as a number."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


Text = Annotated[str, Field(max_length=2000)]
ShortText = Annotated[str, Field(max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


class Party(_Strict):
    role: PartyRole = PartyRole.other
    name: Annotated[str, Field(min_length=1, max_length=500)]
    country: ShortText | None = None
    address: Text | None = None
    identifiers: dict[IdentifierKind, ShortText] = Field(default_factory=dict)

    @field_validator("identifiers", mode="before")
    @classmethod
    def _identifiers_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _scalar_to_text(v) for k, v in value.items()}
        return value


_HS_DIGITS = re.compile(r"\d")


class Goods(_Strict):
    description: Text | None = None
    hs_code: ShortText | None = None
    eccn: ShortText | None = None
    part_number: ShortText | None = None
    manufacturer: ShortText | None = None
    quantity: float | None = None
    value: float | None = None
    currency: Annotated[str, Field(max_length=10)] | None = None

    @field_validator("hs_code", mode="before")
    @classmethod
    def _hs_as_text(cls, value: Any) -> Any:
        return _scalar_to_text(value)

    @field_validator("hs_code")
    @classmethod
    def _hs_has_4_to_10_digits(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        digits = "".join(_HS_DIGITS.findall(value))
        if not 4 <= len(digits) <= 10:
            raise ValueError(f"an HS code needs 4 to 10 digits, got {len(digits)} in {value!r}")
        return value


class RoutePoint(_Strict):
    role: RouteRole = RouteRole.transit
    place: ShortText | None = None
    country: ShortText | None = None
    locode: Annotated[str, Field(max_length=12)] | None = None


class Vessel(_Strict):
    name: ShortText | None = None
    imo: Annotated[str, Field(max_length=40)] | None = None
    flag: ShortText | None = None

    @field_validator("imo", mode="before")
    @classmethod
    def _imo_as_text(cls, value: Any) -> Any:
        return _scalar_to_text(value)


class Record(_Strict):
    """One shipment or counterparty to screen."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "ship-0001",
                    "kind": "shipment",
                    "parties": [
                        {"role": "seller", "name": "Elektronik Vertrieb Nord GmbH", "country": "DE"},
                        {"role": "consignee", "name": "OOO Vertikal Alabuga", "country": "RU"},
                    ],
                    "goods": [{"description": "FPGA, Artix-7", "hs_code": "8542.39", "part_number": "XC7A35T"}],
                    "route": [
                        {"role": "port_of_loading", "place": "Hamburg", "country": "DE", "locode": "DEHAM"},
                        {"role": "destination", "place": "Yelabuga", "country": "RU"},
                    ],
                }
            ]
        },
    )

    id: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["shipment", "counterparty"] = "shipment"
    parties: list[Party] = Field(default_factory=list, max_length=200)
    goods: list[Goods] = Field(default_factory=list, max_length=1000)
    route: list[RoutePoint] = Field(default_factory=list, max_length=100)
    vessels: list[Vessel] = Field(default_factory=list, max_length=50)
    declared_end_use: Text | None = None
    attributes: dict[str, Annotated[str, Field(max_length=2000)]] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return _scalar_to_text(value)

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _scalar_to_text(v) if not isinstance(v, bool) else str(v).lower() for k, v in value.items()}
        return value


class Evidence(BaseModel):
    """One value of the record and what it matched."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="Path into the record, e.g. parties[1].name or goods[0].hs_code",
                       examples=["parties[1].name"])
    value: str = Field(description="The record's value at that path", examples=["OOO Vertikal Alabuga"])
    kind: str = Field(description="What was compared: party, vessel, identifier, hs_code, keyword, "
                      "part_number, military_item, port, country, address, role, attribute",
                      examples=["party"])
    matched: str | None = Field(default=None, description="The list value it matched",
                                examples=["VERTIKAL ALABUGA LLC"])
    entry: str | None = Field(default=None, description="Id of the matched list entry",
                              examples=["ru-vertikal-alabuga"])
    list: str | None = Field(default=None, description="Name of the list the entry belongs to",
                             examples=["curated"])
    score: float = Field(ge=0, le=1, description="Strength of the match, 0 to 1", examples=[0.97])
    method: str = Field(description="How it was matched", examples=["name-fuzzy"])
    suppressed_by: str | None = Field(
        default=None, description="Id of the allow-list entry that cleared this match (still reported, never "
                                  "dropped); None when the match counts")


class Flag(BaseModel):
    """A rule that fired, with the reason an officer can act on and the evidence behind it."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(examples=["party-listed-confident"])
    severity: Severity
    action: Action
    title: str
    reason: str
    evidence: list[Evidence]
    sources: list[str] = Field(description="Source ids (see seeds/) of the rule and of the entries matched")
    suppressed: bool = Field(default=False, description="True when allow-list entries cleared every match of "
                                                        "this flag; a suppressed flag does not count in the decision")


class PackInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    digest: str = Field(description="sha256 of the pack content")


class ScreeningResult(BaseModel):
    """The outcome of screening one record."""

    model_config = ConfigDict(extra="forbid")

    record_id: str
    decision: Decision
    risk_score: int = Field(ge=0, le=100)
    flags: list[Flag]
    pack: PackInfo
    screened_at: datetime


def parse_record(data: Any) -> Record:
    """Validate raw data (a dict decoded from JSON) as a Record, raising RecordError with field paths."""
    try:
        return Record.model_validate(data)
    except ValidationError as exc:
        raise RecordError([(error_path(e["loc"]), e["msg"]) for e in exc.errors()]) from None


def error_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """Render a pydantic error location as a record path: ('parties', 1, 'name') -> 'parties[1].name'."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic marks an invalid dict key this way; the path already names the key
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "record"
