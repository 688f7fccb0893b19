"""Who is looking at a page: the session cookie, the CSRF check on every form, and the login redirect.

The cookie holds a random token (the store keeps only its hash, see ``service.review.users``). Every form
carries a CSRF token derived from that cookie; a form posted from another site cannot know it. The login
form has no session yet, so it uses a double-submit token: a random value in a short-lived cookie that the
form must repeat.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.api.auth import runtime_of
from service.review.users import User, check_csrf, csrf_token, resolve_session
from service.store import Permission, Principal

SESSION_COOKIE = "screening_session"
LOGIN_CSRF_COOKIE = "screening_login_csrf"
COOKIE_PATH = "/ui"


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRejected(Exception):
    """A form arrived without this session's CSRF token (a forged or stale form)."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of one request, with their session's CSRF token for the forms of the page."""

    user: User
    session_token: str

    @property
    def principal(self) -> Principal:
        return self.user.principal()

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_token)

    def can(self, permission: Permission) -> bool:
        return self.principal.can(permission)


def safe_next(url: str | None) -> str:
    """Only paths of this UI may be a post-login destination (no open redirect to another site)."""
    if url and url.startswith("/ui/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/ui/queue"


def login_url(next_url: str) -> str:
    return f"/ui/login?next={quote(next_url, safe='')}"


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="lax",
                        secure=is_secure(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_secure(request))


def login_csrf(request: Request) -> str:
    """The login form's token: the one already in the browser's cookie, or a new one."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return existing if len(existing) >= 32 else secrets.token_urlsafe(32)


def set_login_csrf_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=is_secure(request))


def check_login_csrf(request: Request, presented: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return len(cookie) >= 32 and hmac.compare_digest(cookie, presented)


async def optional_viewer(request: Request) -> Viewer | None:
    """The logged-in user, or None when the cookie is missing, unknown, ended or expired."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    user = await run_in_threadpool(resolve_session, runtime_of(request).database, token)
    return Viewer(user, token) if user is not None else None


async def require_viewer(request: Request) -> Viewer:
    """The logged-in user; without one, the browser goes to the login page (and comes back afterwards)."""
    viewer = await optional_viewer(request)
    if viewer is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(here) if request.method == "GET" else "/ui/queue")
    return viewer


async def require_form_viewer(request: Request) -> Viewer:
    """The logged-in user of a form post, after checking the form's CSRF token."""
    viewer = await require_viewer(request)
    form = await request.form()
    presented = form.get("csrf_token")
    if not isinstance(presented, str) or not check_csrf(viewer.session_token, presented):
        raise CsrfRejected()
    return viewer


PageViewer = Annotated[Viewer, Depends(require_viewer)]
FormViewer = Annotated[Viewer, Depends(require_form_viewer)]
