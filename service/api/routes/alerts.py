"""/v1/alerts: the review queue and the reviewer's actions as JSON, for case systems that integrate with us.

The same service functions back the web UI, so the workflow rules (mandatory comments, four eyes on
clearing a blocked alert) hold here too. API keys with the reviewer, approver or admin role may call these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from service.api.auth import authenticate
from service.api.deps import CurrentPack, RuntimeDep
from service.api.errors import BODY_RESPONSES, COMMON_RESPONSES
from service.api.schemas import ErrorResponse
from service.errors import PermissionDenied, RecordError
from service.review import alerts as alert_store
from service.review import users, workflow
from service.review.alerts import AlertFilter, AlertState, MatchDecision, Outcome
from service.store import Principal

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such alert (or match)"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The alert's state or the four-eyes rule does not allow this"}}

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=COMMON_RESPONSES)


async def reviewer(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The caller, if it may work alerts (reviewer, approver or admin)."""
    if not workflow.can_review(principal):
        roles = ", ".join(sorted(principal.roles)) or "no role"
        raise PermissionDenied(f"{roles} may not work alerts")
    return principal


Reviewer = Annotated[Principal, Depends(reviewer)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 42, "record_id": "ship-0001", "state": "in_review", "outcome": None, "decision": "block",
            "severity": "critical", "risk_score": 98, "rules": ["listed-party-confident"], "assignee_id": 3,
            "assignee": "rita", "proposed_outcome": None, "proposed_by": None, "source": "api", "pack_version": "1.0.0",
            "opened_at": "2026-06-01T09:30:00Z", "updated_at": "2026-06-01T10:02:00Z", "closed_at": None}


class AlertSummaryResponse(_Out):
    id: int = Field(examples=[42])
    record_id: str = Field(examples=["ship-0001"])
    state: AlertState
    outcome: Outcome | None
    decision: str = Field(examples=["block"])
    severity: str = Field(examples=["critical"])
    risk_score: int
    rules: list[str] = Field(examples=[["listed-party-confident"]])
    assignee_id: int | None
    assignee: str | None = Field(examples=["rita"])
    proposed_outcome: Outcome | None = Field(description="A clearance awaiting a second person's approval")
    proposed_by: str | None
    source: str = Field(examples=["api"])
    pack_version: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class AlertPageResponse(BaseModel):
    model_config = _examples({"items": [_SUMMARY_EXAMPLE], "next_before_id": 42})
    items: list[AlertSummaryResponse]
    next_before_id: int | None = Field(description="Pass as before_id for the next page; null on the last")


class MatchResponse(_Out):
    id: int
    rule: str
    field: str = Field(examples=["parties[1].name"])
    value: str
    kind: str
    entry: str = Field(examples=["ru-vertikal-alabuga"])
    list_name: str | None
    matched: str | None
    score: float
    suppressed_by: str | None
    decision: MatchDecision | None
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    allow_list_id: int | None


class EventResponse(_Out):
    id: int
    at: datetime
    actor: str = Field(examples=["user:3"])
    action: str = Field(examples=["decide"])
    comment: str | None
    detail: dict[str, Any]


class AlertResponse(BaseModel):
    model_config = _examples({
        "alert": _SUMMARY_EXAMPLE, "screening_id": "01900000-0000-7000-8000-000000000000", "pack_digest": "ab12",
        "result_digest": "cd34", "record": {"id": "ship-0001"}, "result": {"record_id": "ship-0001"},
        "matches": [{"id": 7, "rule": "listed-party-confident", "field": "parties[1].name",
                     "value": "OOO Vertikal Alabuga", "kind": "party", "entry": "ru-vertikal-alabuga",
                     "list_name": "curated", "matched": "VERTIKAL ALABUGA", "score": 0.97, "suppressed_by": None,
                     "decision": None, "comment": None, "decided_by": None, "decided_at": None,
                     "allow_list_id": None}],
        "history": [{"id": 1, "at": "2026-06-01T09:30:00Z", "actor": "system", "action": "opened", "comment": None,
                     "detail": {"source": "api"}}]})
    alert: AlertSummaryResponse
    screening_id: str
    pack_digest: str
    result_digest: str
    record: dict[str, Any] | None
    result: dict[str, Any]
    matches: list[MatchResponse]
    history: list[EventResponse]


class ActionResponse(_Out):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [
        {"alert_id": 42, "state": "in_review", "outcome": None, "proposed_outcome": "cleared", "allow_list_id": None}]})
    alert_id: int
    state: AlertState
    outcome: Outcome | None
    proposed_outcome: Outcome | None = Field(description="Set when a clearance now awaits approval (four eyes)")
    allow_list_id: int | None = None


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"comment": "Checked against the registry extract"}]})
    comment: str = Field(min_length=1, max_length=4000, examples=["Checked against the registry extract"])


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "rita"}]})
    assignee: str | None = Field(description="Username, or null to unassign", examples=["rita"])


class CloseRequest(CommentRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "cleared", "comment": "Different company: other INN and address"}]})
    outcome: Outcome


class DecideRequest(CommentRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "false_positive", "comment": "Our customer since 2019, INN differs", "allow_list": True}]})
    decision: MatchDecision
    allow_list: bool = Field(False, description="Add an allow-list entry (false positives only)")
    expires_days: int | None = Field(None, ge=1, le=3650, description="Allow-list lifetime; default 365 days")


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"alert_ids": [41, 42], "action": "assign", "assignee": "rita"}]})
    alert_ids: list[int] = Field(min_length=1, max_length=500)
    action: Literal["assign", "start", "escalate", "close"]
    assignee: str | None = None
    outcome: Outcome | None = None
    comment: str | None = Field(None, max_length=4000)


class BulkItemResponse(_Out):
    alert_id: int
    ok: bool
    state: str | None
    error: str | None


class BulkResponse(BaseModel):
    model_config = _examples({"results": [{"alert_id": 41, "ok": True, "state": "open", "error": None}]})
    results: list[BulkItemResponse]


def _detail(detail: alert_store.AlertDetail) -> AlertResponse:
    return AlertResponse(alert=AlertSummaryResponse.model_validate(detail.summary), screening_id=detail.screening_id,
                         pack_digest=detail.pack_digest, result_digest=detail.result_digest, record=detail.record,
                         result=detail.result,
                         matches=[MatchResponse.model_validate(m) for m in detail.matches],
                         history=[EventResponse.model_validate(e) for e in detail.history])


def _user_id(runtime: Any, username: str | None) -> int | None:
    if username is None:
        return None
    try:
        return users.find_user(runtime.database, username).id
    except Exception as exc:  # NotFoundError: the name is part of the request, so a 422 names the field
        raise RecordError([("assignee", str(exc))]) from None


@router.get("", summary="The review queue", response_model=AlertPageResponse)
async def list_alerts(
    principal: Reviewer, runtime: RuntimeDep,
    state: Annotated[list[AlertState] | None, Query(description="Repeat for several")] = None,
    decision: Annotated[Literal["block", "review"] | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=200)] = None,
    severity: Annotated[Literal["critical", "high", "medium", "low"] | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=100, description="Username")] = None,
    unassigned: bool = False,
    opened_before: datetime | None = None,
    opened_after: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertPageResponse:
    """Alerts, newest first, filtered; page with ``before_id``."""
    where = AlertFilter(states=tuple(s.value for s in state or ()), decision=decision, rule=rule, severity=severity,
                        assignee_id=await run_in_threadpool(_user_id, runtime, assignee), unassigned=unassigned,
                        opened_before=opened_before, opened_after=opened_after)
    page = await run_in_threadpool(alert_store.list_alerts, runtime.database, where, limit=limit,
                                   before_id=before_id)
    return AlertPageResponse(items=[AlertSummaryResponse.model_validate(a) for a in page.items],
                             next_before_id=page.next_before_id)


@router.get("/counts", summary="How many alerts are in each state", response_model=dict[str, int])
async def count_alerts(principal: Reviewer, runtime: RuntimeDep) -> dict[str, int]:
    return await run_in_threadpool(alert_store.count_alerts, runtime.database)


@router.post("/bulk", summary="Apply one action to many alerts", response_model=BulkResponse,
             responses=BODY_RESPONSES)
async def bulk(body: BulkRequest, principal: Reviewer, runtime: RuntimeDep) -> BulkResponse:
    """Each alert is handled in its own transaction; those the action does not suit are reported with why."""
    assignee_id = await run_in_threadpool(_user_id, runtime, body.assignee)
    outcomes = await run_in_threadpool(workflow.bulk_action, runtime.database, body.alert_ids, body.action, principal,
                                       assignee_id=assignee_id, outcome=body.outcome, comment=body.comment)
    return BulkResponse(results=[BulkItemResponse.model_validate(o) for o in outcomes])


@router.get("/{alert_id}", summary="One alert with its matches and history", response_model=AlertResponse,
            responses=_NOT_FOUND)
async def get_alert(alert_id: AlertId, principal: Reviewer, runtime: RuntimeDep) -> AlertResponse:
    return _detail(await run_in_threadpool(alert_store.get_alert, runtime.database, alert_id))


@router.post("/{alert_id}/start", summary="Start reviewing", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT})
async def start(alert_id: AlertId, principal: Reviewer, runtime: RuntimeDep) -> ActionResponse:
    """open or escalated -> in_review."""
    return ActionResponse.model_validate(await run_in_threadpool(workflow.start_review, runtime.database, alert_id,
                                                                 principal))


@router.post("/{alert_id}/assign", summary="Assign to a user", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def assign(alert_id: AlertId, body: AssignRequest, principal: Reviewer, runtime: RuntimeDep) -> ActionResponse:
    assignee_id = await run_in_threadpool(_user_id, runtime, body.assignee)
    return ActionResponse.model_validate(await run_in_threadpool(workflow.assign, runtime.database, alert_id,
                                                                 assignee_id, principal))


@router.post("/{alert_id}/escalate", summary="Escalate", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def escalate(alert_id: AlertId, body: CommentRequest, principal: Reviewer,
                   runtime: RuntimeDep) -> ActionResponse:
    return ActionResponse.model_validate(await run_in_threadpool(workflow.escalate, runtime.database, alert_id,
                                                                 body.comment, principal))


@router.post("/{alert_id}/matches/{match_id}", summary="Decide a match", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def decide(alert_id: AlertId, match_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: DecideRequest,
                 principal: Reviewer, runtime: RuntimeDep, loaded: CurrentPack) -> ActionResponse:
    """``true_match`` or ``false_positive`` with a comment; a false positive may add an allow-list entry
    (digests of the list entry and rule taken from the pack serving now)."""
    days = body.expires_days or runtime.settings.allow_list_days
    done = await run_in_threadpool(workflow.decide_match, runtime.database, alert_id, match_id, body.decision,
                                   body.comment, principal, allow_list=body.allow_list, pack=loaded.pack,
                                   allow_list_days=days)
    return ActionResponse.model_validate(done)


@router.post("/{alert_id}/close", summary="Close (or propose clearing)", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def close(alert_id: AlertId, body: CloseRequest, principal: Reviewer, runtime: RuntimeDep) -> ActionResponse:
    """Clearing an alert whose decision was block only proposes it (``proposed_outcome``): a second person
    with the approver role must approve it."""
    return ActionResponse.model_validate(await run_in_threadpool(workflow.close, runtime.database, alert_id,
                                                                 body.outcome, body.comment, principal))


@router.post("/{alert_id}/approve", summary="Approve a proposed clearance (four eyes)", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def approve(alert_id: AlertId, body: CommentRequest, principal: Reviewer, runtime: RuntimeDep) -> ActionResponse:
    """Approver role, and not the proposer."""
    return ActionResponse.model_validate(await run_in_threadpool(workflow.approve_clearance, runtime.database,
                                                                 alert_id, body.comment, principal))


@router.post("/{alert_id}/reject", summary="Reject a proposed clearance", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def reject(alert_id: AlertId, body: CommentRequest, principal: Reviewer, runtime: RuntimeDep) -> ActionResponse:
    return ActionResponse.model_validate(await run_in_threadpool(workflow.reject_clearance, runtime.database,
                                                                 alert_id, body.comment, principal))


@router.post("/{alert_id}/reopen", summary="Reopen a closed alert", response_model=ActionResponse,
             responses={**_NOT_FOUND, **_CONFLICT, **BODY_RESPONSES})
async def reopen(alert_id: AlertId, body: CommentRequest, principal: Reviewer, runtime: RuntimeDep) -> ActionResponse:
    """Approvers and admins."""
    return ActionResponse.model_validate(await run_in_threadpool(workflow.reopen, runtime.database, alert_id,
                                                                 body.comment, principal))
