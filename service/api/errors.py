"""From exceptions to HTTP answers: one table, one body shape (``ErrorResponse``).

Service errors are looked up along their class hierarchy, so a new ``ScreeningError`` subclass answers like
its parent until it gets a line here. Anything unexpected becomes, in the request middleware, a 500 that names the
request id and is logged with its traceback; bad input never reaches that branch.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.api.logs import request_id_var
from service.api.schemas import ErrorItem, ErrorResponse
from service.errors import (
    AuthError,
    BatchError,
    ListImportError,
    NotFoundError,
    PackError,
    PermissionDenied,
    RecordError,
    ScreeningError,
    StoreError,
    WorkflowError,
)
from service.model import error_path

log = logging.getLogger(__name__)

#: Status and code of each service error (looked up along the class's MRO).
ERROR_TABLE: dict[type[ScreeningError], tuple[int, str]] = {
    RecordError: (422, "invalid_record"),
    PackError: (422, "invalid_pack"),
    NotFoundError: (404, "not_found"),
    StoreError: (503, "store_unavailable"),
    PermissionDenied: (403, "forbidden"),
    AuthError: (401, "unauthorized"),
    BatchError: (422, "invalid_batch"),
    ListImportError: (422, "invalid_list"),
    WorkflowError: (409, "conflict"),
    ScreeningError: (500, "internal_error"),
}

#: Codes of plain HTTP errors raised by routing and middleware.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    409: "conflict",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}

#: Responses every route may give, for the OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorResponse, "description": "The key's role does not allow this"},
    422: {"model": ErrorResponse, "description": "The request does not follow its schema"},
    503: {"model": ErrorResponse, "description": "The store is unreachable"},
}
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON"},
    413: {"model": ErrorResponse, "description": "The body is larger than the server accepts"},
}


def error_response(status: int, code: str, detail: str, errors: list[ErrorItem] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(detail=detail, code=code, errors=errors or [])
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _status_of(exc: ScreeningError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return 500, "internal_error"


def _service_error_items(exc: ScreeningError) -> list[ErrorItem]:
    if isinstance(exc, RecordError):
        return [ErrorItem(field=path, message=message) for path, message in exc.errors]
    if isinstance(exc, PackError):
        return [ErrorItem(field=":".join(part for part in (p.file, p.entry, p.field) if part), message=p.message)
                for p in exc.problems]
    return []


_SERVICE_DETAILS = {
    "invalid_record": "the record is invalid",
    "invalid_pack": "the rule pack on disk is invalid; the previous pack keeps serving",
    "store_unavailable": "the screening store is unavailable",
}


async def handle_service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScreeningError)
    status, code = _status_of(exc)
    if status >= 500:
        # The store's message may name hosts or tables: log it, answer in general terms.
        log.error("request failed: %s", exc, extra={"code": code})
        detail = _SERVICE_DETAILS.get(code, "internal error")
    else:
        detail = _SERVICE_DETAILS.get(code) or str(exc) or code
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, code, detail, _service_error_items(exc), headers)


def _request_field(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``('body', 'parties', 0, 'name')`` -> ``parties[0].name``; ``('query', 'limit')`` -> ``query.limit``;
    a problem with the body as a whole (absent, null, not an object) -> ``body``."""
    parts = list(loc)
    where = parts.pop(0) if parts and parts[0] in ("body", "query", "path", "header", "cookie") else "body"
    if not parts:
        return str(where)
    return error_path(parts) if where == "body" else f"{where}.{error_path(parts)}"


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        problem = problems[0]
        reason = (problem.get("ctx") or {}).get("error", "invalid JSON")
        position = problem["loc"][-1] if problem.get("loc") else "?"
        return error_response(400, "malformed_json", "the body is not valid JSON",
                              [ErrorItem(field="", message=f"{reason} at character {position}")])
    items = [ErrorItem(field=_request_field(problem.get("loc", ())), message=str(problem.get("msg", "")))
             for problem in problems]
    return error_response(422, "invalid_request", "the request does not follow its schema", items)


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, detail, headers=dict(exc.headers or {}))


def unexpected_error_response() -> JSONResponse:
    """The answer to a bug: no details, but the request id to find the traceback in the logs."""
    return error_response(500, "internal_error",
                          f"internal error; quote request id {request_id_var.get() or '-'} when reporting it")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(ScreeningError, handle_service_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_error)
