"""HTTP shapes: ``*Request`` bodies and ``*Response`` bodies, with examples for the OpenAPI page.

The screening result itself is the engine's ``ScreeningResult``; responses extend it rather than copy it, so
the HTTP contract and the batch/CLI contract cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.model import Decision, PackInfo, Record, ScreeningResult
from service.rulepack.spec import GoodsSpec, PartySpec, PortSpec, SourceSpec, Verification
from service.store.access import Role

_PACK_DIGEST = "sha256:3f5a9c0e1d2b4a6f8e7c9d0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f"
_SCREENING_ID = "0196f1a2-7b3c-7d4e-8f5a-6b7c8d9e0f1a"

_RESULT_EXAMPLE: dict[str, Any] = {
    "screening_id": _SCREENING_ID,
    "record_id": "ship-0001",
    "decision": "block",
    "risk_score": 92,
    "flags": [{
        "rule": "listed-party-confident",
        "severity": "critical",
        "action": "block",
        "title": "Party on a sanctions list",
        "reason": "consignee 'OOO Vertikal Alabuga' matches the listed entry 'VERTIKAL ALABUGA LLC'",
        "evidence": [{
            "field": "parties[1].name", "value": "OOO Vertikal Alabuga", "kind": "party",
            "matched": "VERTIKAL ALABUGA LLC", "entry": "ru-vertikal-alabuga", "list": "curated",
            "score": 0.97, "method": "name-fuzzy",
        }],
        "sources": ["ofac-sdn"],
    }],
    "pack": {"name": "drone-supply-chain", "version": "2026.06", "digest": _PACK_DIGEST},
    "screened_at": "2026-06-01T09:30:00Z",
}


class ErrorItem(BaseModel):
    """One thing wrong with the request, located by its path."""

    field: str = Field(description="Path of the offending value, e.g. parties[0].name or query.limit; "
                       "body for the body as a whole, empty when the body is not JSON",
                       examples=["parties[0].name"])
    message: str = Field(examples=["String should have at least 1 character"])


class ErrorResponse(BaseModel):
    """The one shape of every error the API returns."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "detail": "the record is invalid",
        "code": "invalid_record",
        "errors": [{"field": "parties[0].name", "message": "String should have at least 1 character"}],
    }]})

    detail: str = Field(description="What went wrong, in a sentence")
    code: str = Field(description="Stable machine-readable code, e.g. invalid_record, forbidden",
                      examples=["invalid_record"])
    errors: list[ErrorItem] = Field(default_factory=list, description="Each problem with its field path")


class ScreenResponse(ScreeningResult):
    """A screening result, with the id under which it is kept in the screening log."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_RESULT_EXAMPLE]})

    screening_id: str = Field(description="Id of this screening in the log (GET /v1/screenings/{id})",
                              examples=[_SCREENING_ID])


class BatchScreenRequest(BaseModel):
    """Records screened in one call; results come back in the same order."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "records": Record.model_config["json_schema_extra"]["examples"]  # type: ignore[index]
    }]})

    records: list[Record] = Field(min_length=1, description="At most the server's max_batch_records")


class BatchScreenResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"count": 1, "results": [_RESULT_EXAMPLE]}]})

    count: int = Field(description="Number of results", examples=[1])
    results: list[ScreenResponse]


class SourceResponse(BaseModel):
    """Where a pack entry or rule comes from."""

    id: str = Field(examples=["ofac-sdn"])
    title: str = Field(examples=["Specially Designated Nationals and Blocked Persons List"])
    issuer: str = Field(examples=["US Treasury, OFAC"])
    date: str = Field(examples=["2026-05-30"])
    url: str = Field(examples=["https://ofac.treasury.gov/"])
    kind: str = Field(examples=["official"])
    verification: Verification

    @classmethod
    def from_spec(cls, spec: SourceSpec) -> SourceResponse:
        return cls(id=spec.id, title=spec.title, issuer=spec.issuer, date=spec.date, url=spec.url,
                   kind=spec.kind, verification=spec.verification)


class PackResponse(BaseModel):
    """The rule pack answering screenings right now."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "drone-supply-chain", "version": "2026.06", "digest": _PACK_DIGEST,
        "loaded_at": "2026-06-01T08:00:00Z", "counts": {"parties": 61, "rules": 12, "sources": 14},
        "sources": [{"id": "ofac-sdn", "title": "Specially Designated Nationals and Blocked Persons List",
                     "issuer": "US Treasury, OFAC", "date": "2026-05-30", "url": "https://ofac.treasury.gov/",
                     "kind": "official", "verification": "V-off"}],
    }]})

    name: str
    version: str
    digest: str
    loaded_at: datetime
    counts: dict[str, int]
    sources: list[SourceResponse]


class PackReloadResponse(BaseModel):
    """Outcome of a successful reload: the pack now serving and the one it replaced."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "changed": True,
        "previous": {"name": "drone-supply-chain", "version": "2026.05", "digest": "sha256:0a1b..."},
        "current": {"name": "drone-supply-chain", "version": "2026.06", "digest": _PACK_DIGEST},
        "warnings": [],
    }]})

    changed: bool = Field(description="Whether the digest differs from the previous pack")
    previous: PackInfo
    current: PackInfo
    warnings: list[str] = Field(description="Loader warnings (alias collisions, unused lists)")


class PackEntryResponse(BaseModel):
    """A list entry of the pack, with the sources it is drawn from, for reviewers comparing a match."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "ru-vertikal-alabuga", "kind": "party", "party_list": "curated",
        "entry": {"id": "ru-vertikal-alabuga", "type": "organization", "name": "VERTIKAL ALABUGA LLC",
                  "aliases": ["OOO VERTIKAL"], "countries": ["RU"], "identifiers": {"inn": ["1646000000"]},
                  "sources": ["ofac-sdn"]},
        "sources": [{"id": "ofac-sdn", "title": "Specially Designated Nationals and Blocked Persons List",
                     "issuer": "US Treasury, OFAC", "date": "2026-05-30", "url": "https://ofac.treasury.gov/",
                     "kind": "official", "verification": "V-off"}],
    }]})

    id: str
    kind: Literal["party", "goods", "port"]
    party_list: str | None = Field(description="Party list holding the entry (parties only)",
                                   examples=["curated"])
    entry: PartySpec | GoodsSpec | PortSpec
    sources: list[SourceResponse]


class ScreeningSummary(BaseModel):
    """One screening of the log, without the record and result bodies."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": _SCREENING_ID, "screened_at": "2026-06-01T09:30:00Z", "source": "api", "api_key_id": 3,
        "record_id": "ship-0001", "decision": "block", "risk_score": 92, "pack_version": "2026.06",
        "pack_digest": _PACK_DIGEST, "latency_ms": 3.4,
    }]})

    id: str
    screened_at: datetime
    source: str = Field(description="api or batch", examples=["api"])
    api_key_id: int | None = Field(description="Key that asked; null when authentication was disabled")
    record_id: str
    decision: Decision
    risk_score: int
    pack_version: str
    pack_digest: str
    latency_ms: float = Field(description="Time spent screening, in milliseconds")


class ScreeningDetail(ScreeningSummary):
    """One screening with what was asked and what came back."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": _SCREENING_ID, "screened_at": "2026-06-01T09:30:00Z", "source": "api", "api_key_id": 3,
        "record_id": "ship-0001", "decision": "block", "risk_score": 92, "pack_version": "2026.06",
        "pack_digest": _PACK_DIGEST, "latency_ms": 3.4,
        "record": Record.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
        "result": {k: v for k, v in _RESULT_EXAMPLE.items() if k != "screening_id"},
    }]})

    record: dict[str, Any] | None = Field(
        description="The record as screened; null for clear results when the server does not keep them")
    result: ScreeningResult


class ScreeningPage(BaseModel):
    """A page of the screening log, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"id": _SCREENING_ID, "screened_at": "2026-06-01T09:30:00Z", "source": "api",
                   "api_key_id": 3, "record_id": "ship-0001", "decision": "block", "risk_score": 92,
                   "pack_version": "2026.06", "pack_digest": _PACK_DIGEST, "latency_ms": 3.4}],
        "next_cursor": None,
    }]})

    items: list[ScreeningSummary]
    next_cursor: str | None = Field(description="Pass as cursor= for the next (older) page; null at the end")


class KeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "order system (production)", "role": "screener"}]})

    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key")
    role: Role


class ApiKeyResponse(BaseModel):
    """An API key as listed; the key itself is never shown again after creation."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "prefix": "scr_1a2b3c4d", "name": "order system (production)", "role": "screener",
        "created_at": "2026-06-01T08:00:00Z", "created_by": "key:1", "revoked_at": None, "active": True,
    }]})

    id: int
    prefix: str = Field(description="Public start of the key, to recognise it")
    name: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    active: bool


class IssuedKeyResponse(BaseModel):
    """A new key. ``secret`` is shown this once; only its hash is stored."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "key": {"id": 3, "prefix": "scr_1a2b3c4d", "name": "order system (production)", "role": "screener",
                "created_at": "2026-06-01T08:00:00Z", "created_by": "key:1", "revoked_at": None,
                "active": True},
        "secret": "scr_1a2b3c4d_Xq3...",
    }]})

    key: ApiKeyResponse
    secret: str


class HealthResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


class ReadinessResponse(BaseModel):
    """Whether the service can answer screenings: a pack is loaded and the store is reachable."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ready", "checks": {"pack": "ok", "store": "ok", "log_writer": "ok"}}]})

    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="ok, or what is wrong, per check")
    warnings: list[str] = Field(
        default_factory=list,
        description="Problems that do not stop screening, e.g. an imported list older than "
                    "SCREENING_LIST_MAX_AGE_DAYS: the service stays ready (status 200) so that it keeps screening "
                    "with the lists it has, and operators alert on this field.",
        examples=[["list ofac-sdn is 9 days old (published 2026-05-24; limit 7 days)"]])
