"""Templates and static files of the UI, and the HTTP headers every page carries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png"}

#: Pages only load what this app serves; nothing inline runs (ui.js is a file), no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Message:
    """A line shown at the top of a page."""

    text: str
    kind: str = "info"  # info | ok | error


@cache
def static_files() -> dict[str, tuple[bytes, str, str]]:
    """Every file under static/: name -> (content, media type, short content digest), read once."""
    files: dict[str, tuple[bytes, str, str]] = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file() and path.suffix in STATIC_TYPES:
            content = path.read_bytes()
            files[path.name] = (content, STATIC_TYPES[path.suffix], hashlib.sha256(content).hexdigest()[:12])
    return files


def static_url(name: str) -> str:
    """URL of a static file, with its digest so browsers may cache it for long and still see changes."""
    return f"/ui/static/{name}?v={static_files()[name][2]}"


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["static_url"] = static_url
    return env


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
           viewer: Any = None, section: str = "", messages: list[Message] | None = None) -> HTMLResponse:
    """Render a page of the UI for ``viewer`` (None on the login page)."""
    page = environment().get_template(template).render(
        request=request, user=viewer.user if viewer is not None else None,
        csrf_token=viewer.csrf if viewer is not None else context.pop("csrf_token", ""),
        section=section, messages=messages or [], **context)
    return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)


def static_response(name: str) -> Response:
    found = static_files().get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    content, media_type, _ = found
    return Response(content, media_type=media_type,
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
