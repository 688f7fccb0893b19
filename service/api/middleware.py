"""Pure ASGI middleware: request ids, access logs and metrics, the body-size limit.

Written against ASGI directly rather than ``BaseHTTPMiddleware`` because they run on every request and the
latter adds a task and a memory stream per call.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response, unexpected_error_response
from service.api.logs import request_id_var
from service.api.metrics import Metrics

access_log = logging.getLogger("service.api.access")
log = logging.getLogger(__name__)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` if sane), echoes it, logs the request as one
    JSON line and feeds the request metrics. Turns an unexpected exception into a 500 error body."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        offered = Headers(scope=scope).get("x-request-id", "")
        request_id = offered if _VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error")
            if response_started:
                raise
            await unexpected_error_response()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route_path, status, elapsed)
            state = scope.get("state") or {}
            access_log.info("%s %s %d", scope["method"], scope["path"], status, extra={
                "method": scope["method"], "path": scope["path"], "route": route_path, "status": status,
                "duration_ms": round(elapsed * 1000, 2), "actor": state.get("actor"),
            })
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than the {limit} bytes this server accepts")


class BodySizeLimitMiddleware:
    """Refuses bodies over ``limit`` bytes with 413: at once when Content-Length says so, otherwise as soon
    as the streamed body passes the limit (chunked uploads), before it is all held in memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(413, "body_too_large", BodyTooLarge(self.limit).detail)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI re-raises HTTPExceptions met while reading the body; the handler renders it.
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)
