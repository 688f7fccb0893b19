"""The pages under /ui. Handlers read the request, call the review service layer in a worker thread and
render a template; every rule (roles, four eyes, what may change when) lives in the service layer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.api.auth import runtime_of
from service.errors import NotFoundError, PermissionDenied, ScreeningError
from service.review import workflow
from service.review.alerts import MatchDecision, Outcome
from service.review.allowlist import revoke_allow_list_entry
from service.review.users import LoginFailure, User, authenticate, create_session, end_session, find_user
from service.review.web import pages
from service.review.web.rendering import Message, render, static_response
from service.review.web.session import (
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRejected,
    FormViewer,
    LoginRequired,
    PageViewer,
    Viewer,
    check_login_csrf,
    clear_session_cookie,
    login_csrf,
    login_url,
    optional_viewer,
    safe_next,
    set_login_csrf_cookie,
    set_session_cookie,
)
from service.rulepack import Pack

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ui", include_in_schema=False)

Comment = Annotated[str, Form(max_length=4000)]


def see_other(url: str) -> RedirectResponse:
    """After a successful form post: the browser loads ``url`` with GET (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)


# --- login ---------------------------------------------------------------------------------------------------


def login_page(request: Request, *, next_url: str, username: str = "", status: int = 200,
               messages: list[Message] | None = None) -> Response:
    token = login_csrf(request)
    response = render(request, "login.html", {"next": next_url, "username": username, "csrf_token": token},
                      status=status, messages=messages)
    set_login_csrf_cookie(response, request, token)
    return response


@router.get("/login")
async def get_login(request: Request, next: Annotated[str, Query(max_length=2000)] = "/ui/queue") -> Response:
    if await optional_viewer(request) is not None:
        return see_other(safe_next(next))
    return login_page(request, next_url=safe_next(next))


@router.post("/login")
async def post_login(request: Request, username: Annotated[str, Form(max_length=100)],
                     password: Annotated[str, Form(max_length=1000)],
                     csrf_token: Annotated[str, Form(max_length=200)] = "",
                     next: Annotated[str, Form(max_length=2000)] = "/ui/queue") -> Response:
    next_url = safe_next(next)
    if not check_login_csrf(request, csrf_token):
        return login_page(request, next_url=next_url, username=username, status=403,
                          messages=[Message("The login form expired or did not come from this site; please try "
                                            "again.", "error")])
    runtime = runtime_of(request)
    outcome = await run_in_threadpool(authenticate, runtime.database, runtime.settings, username, password)
    if isinstance(outcome, LoginFailure):
        settings = runtime.settings
        # One message for a wrong password, an unknown user and a locked account: the page must not tell
        # an attacker which names exist or that guessing has locked one.
        return login_page(request, next_url=next_url, username=username, status=401, messages=[Message(
            f"Wrong username or password, or the account is locked. After {settings.login_max_failures} failed "
            f"attempts in a row an account is locked for {settings.login_lockout_minutes} minutes.", "error")])
    token = await run_in_threadpool(create_session, runtime.database, runtime.settings, outcome)
    response = see_other(next_url)
    set_session_cookie(response, request, token, max_age=runtime.settings.session_hours * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
async def post_logout(request: Request, viewer: FormViewer) -> Response:
    await run_in_threadpool(end_session, runtime_of(request).database, viewer.session_token)
    response = see_other("/ui/login")
    clear_session_cookie(response, request)
    return response


@router.get("/static/{name}")
async def get_static(name: Annotated[str, Path(max_length=100)]) -> Response:
    return static_response(name)


@router.get("/")
async def get_home(viewer: PageViewer) -> Response:
    return see_other("/ui/queue")


# --- queue ---------------------------------------------------------------------------------------------------

#: Confirmations shown after a form succeeded (the redirect names one by key; nothing else reaches the page).
DONE_MESSAGES = {
    "decided": "Decision recorded.",
    "allow_listed": "Decision recorded and the match added to the allow-list.",
    "started": "Review started.",
    "closed": "Alert closed.",
    "proposed": "Clearance proposed: it now needs approval by a second person with the approver role.",
    "approved": "Clearance approved: the alert is closed.",
    "rejected": "Clearance rejected: the alert is back in review.",
    "assigned": "Assignee changed.",
    "escalated": "Alert escalated.",
    "reopened": "Alert reopened.",
    "revoked": "Allow-list entry revoked: its matches alert again from the next screening.",
}


def done_messages(done: str | None, count: int | None = None) -> list[Message]:
    if done == "bulk" and count is not None:
        return [Message(f"{count} alert{'' if count == 1 else 's'} updated.", "ok")]
    return [Message(DONE_MESSAGES[done], "ok")] if done in DONE_MESSAGES else []


def refusal(exc: ScreeningError) -> Message:
    return Message(f"Refused: {exc}", "error")


def is_refusal(exc: ScreeningError) -> bool:
    """A service error that refuses the action (shown on the page); anything else is a real failure."""
    return pages.error_status(exc) < 500


def current_pack(request: Request) -> Pack:
    return runtime_of(request).holder.current.pack


@router.get("/queue")
async def get_queue(request: Request, viewer: PageViewer,
                    state: Annotated[str, Query(max_length=20)] = "active",
                    decision: Annotated[str, Query(max_length=20)] = "",
                    rule: Annotated[str, Query(max_length=200)] = "",
                    severity: Annotated[str, Query(max_length=20)] = "",
                    age: Annotated[str, Query(max_length=20)] = "",
                    assignee: Annotated[str, Query(max_length=100)] = "",
                    before: Annotated[int | None, Query(ge=1)] = None,
                    done: Annotated[str | None, Query(max_length=40)] = None,
                    count: Annotated[int | None, Query(ge=0)] = None) -> Response:
    query = pages.QueueQuery(state, decision, rule, severity, age, assignee, before)
    return await queue_response(request, viewer, query, done_messages(done, count))


async def queue_response(request: Request, viewer: Viewer, query: pages.QueueQuery, messages: list[Message],
                         status: int = 200) -> Response:
    context = await run_in_threadpool(pages.queue_page, runtime_of(request).database, current_pack(request),
                                      viewer.user, query)
    return render(request, "queue.html", context, viewer=viewer, section="queue", messages=messages, status=status)


@router.post("/queue/bulk")
async def post_bulk(request: Request, viewer: FormViewer, action: Annotated[str, Form(max_length=120)],
                    alert_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
                    comment: Comment = "", back: Annotated[str, Form(max_length=2000)] = "/ui/queue") -> Response:
    database = runtime_of(request).database
    back_url = safe_next(back)
    if not alert_ids:
        return await queue_response(request, viewer, pages.QueueQuery(),
                                    [Message("Select at least one alert first.", "error")], status=422)
    assignee_id: int | None = None
    try:
        if action in ("assign_me", "unassign") or action.startswith("assign:"):
            if action == "assign_me":
                assignee_id = viewer.user.id
            elif action.startswith("assign:"):
                assignee: User = await run_in_threadpool(find_user, database, action.removeprefix("assign:"))
                assignee_id = assignee.id
            service_action = "assign"
        else:
            service_action = action
        outcomes = await run_in_threadpool(workflow.bulk_action, database, alert_ids, service_action,
                                           viewer.principal, assignee_id=assignee_id, comment=comment or None)
    except ScreeningError as exc:
        if not is_refusal(exc):
            raise
        return await queue_response(request, viewer, pages.QueueQuery(), [refusal(exc)], status=pages.error_status(exc))
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        separator = "&" if "?" in back_url else "?"
        return see_other(f"{back_url}{separator}done=bulk&count={len(outcomes)}")
    done = len(outcomes) - len(failed)
    messages = [Message(f"{done} alert{'' if done == 1 else 's'} updated; {len(failed)} skipped.",
                        "ok" if done else "error")]
    messages += [Message(f"Alert #{o.alert_id}: {o.error}", "error") for o in failed[:20]]
    return await queue_response(request, viewer, pages.QueueQuery(), messages, status=200 if done else 409)


# --- alert ---------------------------------------------------------------------------------------------------


@router.get("/alerts/{alert_id}")
async def get_alert_page(request: Request, viewer: PageViewer, alert_id: Annotated[int, Path(ge=1)],
                         done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    return await alert_response(request, viewer, alert_id, done_messages(done))


async def alert_response(request: Request, viewer: Viewer, alert_id: int, messages: list[Message],
                         status: int = 200) -> Response:
    runtime = runtime_of(request)
    try:
        context = await run_in_threadpool(pages.alert_page, runtime.database, current_pack(request), viewer.user,
                                          alert_id, "/ui/queue", runtime.settings.allow_list_days)
    except NotFoundError as exc:
        return render(request, "error.html", {"heading": "No such alert", "detail": str(exc), "back_url": "/ui/queue"},
                      status=404, viewer=viewer, section="queue")
    return render(request, "alert.html", context, viewer=viewer, section="queue", messages=messages, status=status)


async def alert_action(request: Request, viewer: Viewer, alert_id: int, call: Callable[[], object], done: str,
                       anchor: str = "") -> Response:
    """Run one workflow action; on success go back to the alert page, on refusal show why on it."""
    try:
        result = await run_in_threadpool(call)
    except ScreeningError as exc:
        if not is_refusal(exc):
            raise
        return await alert_response(request, viewer, alert_id, [refusal(exc)], status=pages.error_status(exc))
    if isinstance(result, workflow.ActionResult) and done == "closed" and result.proposed_outcome is not None:
        done = "proposed"
    return see_other(f"/ui/alerts/{alert_id}?done={done}{anchor}")


@router.post("/alerts/{alert_id}/matches/{match_id}/decide")
async def post_decide(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)],
                      match_id: Annotated[int, Path(ge=1)], comment: Comment = "",
                      decision: Annotated[str, Form(max_length=20)] = "",
                      allow_list: Annotated[bool, Form()] = False,
                      expires_days: Annotated[int | None, Form(ge=1, le=3650)] = None) -> Response:
    runtime = runtime_of(request)
    if decision not in {d.value for d in MatchDecision}:
        return await alert_response(request, viewer, alert_id,
                                    [Message("Choose true match or false positive.", "error")], status=422)
    days = expires_days or runtime.settings.allow_list_days
    return await alert_action(
        request, viewer, alert_id,
        lambda: workflow.decide_match(runtime.database, alert_id, match_id, decision, comment, viewer.principal,
                                      allow_list=allow_list, pack=current_pack(request), allow_list_days=days),
        "allow_listed" if allow_list else "decided", f"#match-{match_id}")


@router.post("/alerts/{alert_id}/start")
async def post_start(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)]) -> Response:
    database = runtime_of(request).database
    return await alert_action(request, viewer, alert_id,
                              lambda: workflow.start_review(database, alert_id, viewer.principal), "started")


@router.post("/alerts/{alert_id}/close")
async def post_close(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)],
                     comment: Comment = "", outcome: Annotated[str, Form(max_length=20)] = "") -> Response:
    database = runtime_of(request).database
    if outcome not in {o.value for o in Outcome}:
        return await alert_response(request, viewer, alert_id,
                                    [Message("Choose confirmed hit or cleared.", "error")], status=422)
    return await alert_action(request, viewer, alert_id,
                              lambda: workflow.close(database, alert_id, outcome, comment, viewer.principal), "closed")


@router.post("/alerts/{alert_id}/approval")
async def post_approval(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)],
                        comment: Comment = "", verdict: Annotated[str, Form(max_length=20)] = "") -> Response:
    database = runtime_of(request).database
    if verdict == "approve":
        return await alert_action(request, viewer, alert_id, lambda: workflow.approve_clearance(
            database, alert_id, comment, viewer.principal), "approved")
    if verdict == "reject":
        return await alert_action(request, viewer, alert_id, lambda: workflow.reject_clearance(
            database, alert_id, comment, viewer.principal), "rejected")
    return await alert_response(request, viewer, alert_id, [Message("Choose approve or reject.", "error")], status=422)


@router.post("/alerts/{alert_id}/assign")
async def post_assign(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)],
                      assignee: Annotated[str, Form(max_length=100)] = "") -> Response:
    database = runtime_of(request).database

    def call() -> object:
        assignee_id = find_user(database, assignee).id if assignee else None
        return workflow.assign(database, alert_id, assignee_id, viewer.principal)

    return await alert_action(request, viewer, alert_id, call, "assigned")


@router.post("/alerts/{alert_id}/escalate")
async def post_escalate(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)],
                        comment: Comment = "") -> Response:
    database = runtime_of(request).database
    return await alert_action(request, viewer, alert_id,
                              lambda: workflow.escalate(database, alert_id, comment, viewer.principal), "escalated")


@router.post("/alerts/{alert_id}/reopen")
async def post_reopen(request: Request, viewer: FormViewer, alert_id: Annotated[int, Path(ge=1)],
                      comment: Comment = "") -> Response:
    database = runtime_of(request).database
    return await alert_action(request, viewer, alert_id,
                              lambda: workflow.reopen(database, alert_id, comment, viewer.principal), "reopened")


# --- allow-list and dashboard --------------------------------------------------------------------------------


@router.get("/allow-list")
async def get_allow_list(request: Request, viewer: PageViewer, show: Annotated[str, Query(max_length=10)] = "active",
                         done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    return await allow_list_response(request, viewer, "all" if show == "all" else "active", done_messages(done))


async def allow_list_response(request: Request, viewer: Viewer, show: str, messages: list[Message],
                              status: int = 200) -> Response:
    context = await run_in_threadpool(pages.allow_list_page, runtime_of(request).database, current_pack(request),
                                      viewer.user, show)
    return render(request, "allowlist.html", context, viewer=viewer, section="allow-list", messages=messages,
                  status=status)


@router.post("/allow-list/{entry_id}/revoke")
async def post_revoke(request: Request, viewer: FormViewer, entry_id: Annotated[int, Path(ge=1)],
                      comment: Comment = "") -> Response:
    database = runtime_of(request).database
    try:
        if not workflow.can_review(viewer.principal):
            raise PermissionDenied("only reviewers, approvers and admins may revoke allow-list entries")
        await run_in_threadpool(revoke_allow_list_entry, database, entry_id, viewer.principal.actor, comment)
    except ScreeningError as exc:
        if not is_refusal(exc):
            raise
        return await allow_list_response(request, viewer, "active", [refusal(exc)], status=pages.error_status(exc))
    return see_other("/ui/allow-list?done=revoked")


@router.get("/dashboard")
async def get_dashboard(request: Request, viewer: PageViewer) -> Response:
    context = await run_in_threadpool(pages.dashboard_page, runtime_of(request).database)
    return render(request, "dashboard.html", context, viewer=viewer, section="dashboard")


# --- error handling ------------------------------------------------------------------------------------------


async def handle_login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    response = see_other(login_url(exc.next_url))
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookie(response, request)  # ended or expired: drop it
    return response


async def handle_csrf_rejected(request: Request, exc: Exception) -> Response:
    viewer = await optional_viewer(request)
    return render(request, "error.html", {"heading": "Form refused", "back_url": "/ui/queue",
                                          "detail": "This form did not carry a valid security token (it may be "
                                                    "stale, or it was sent from another site). Nothing was "
                                                    "changed. Reload the page and try again."},
                  status=403, viewer=viewer)


def install_review_ui(app: FastAPI) -> None:
    """Serve the UI under /ui from ``app``."""
    app.include_router(router)
    app.add_exception_handler(LoginRequired, handle_login_required)
    app.add_exception_handler(CsrfRejected, handle_csrf_rejected)


