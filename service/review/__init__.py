"""The review workflow's service layer (no web framework here): alerts opened from screenings, the
workflow with four eyes, the allow-list, users and sessions, and the append-only audit trail.

The JSON API (``service.api.routes.alerts`` and ``audit``) and the web UI (``service.review.web``) both call
these functions, so both enforce the same rules.
"""

from service.review.alerts import (
    AlertChange,
    AlertDetail,
    AlertFilter,
    AlertPage,
    AlertState,
    AlertSummary,
    MatchDecision,
    Outcome,
    count_alerts,
    get_alert,
    list_alerts,
    record_screening,
    record_screenings,
    result_digest,
)
from service.review.allowlist import AllowListEntry, apply_allow_list, entries_for, list_allow_list
from service.review.audit import AuditEntry, audit_csv, audit_json, list_audit, record_audit
from service.review.users import (
    LoginFailure,
    User,
    authenticate,
    check_csrf,
    create_session,
    create_user,
    csrf_token,
    end_session,
    resolve_session,
)
from service.review.workflow import (
    approve_clearance,
    assign,
    bulk_action,
    close,
    decide_match,
    escalate,
    reject_clearance,
    reopen,
    start_review,
)

__all__ = [
    "AlertChange",
    "AlertDetail",
    "AlertFilter",
    "AlertPage",
    "AlertState",
    "AlertSummary",
    "AllowListEntry",
    "AuditEntry",
    "LoginFailure",
    "MatchDecision",
    "Outcome",
    "User",
    "apply_allow_list",
    "approve_clearance",
    "assign",
    "audit_csv",
    "audit_json",
    "authenticate",
    "bulk_action",
    "check_csrf",
    "close",
    "count_alerts",
    "create_session",
    "create_user",
    "csrf_token",
    "decide_match",
    "end_session",
    "entries_for",
    "escalate",
    "get_alert",
    "list_alerts",
    "list_allow_list",
    "list_audit",
    "record_audit",
    "record_screening",
    "record_screenings",
    "reject_clearance",
    "reopen",
    "resolve_session",
    "result_digest",
    "start_review",
]
