"""Errors as RFC 9457 problem details on the API and friendly pages in the browser.

No stack trace ever reaches a client: unexpected errors are logged with the request id, and the
client gets that id to quote to support.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("tierline.errors")

PROBLEM_JSON = "application/problem+json"


class ProblemError(msgspec.Struct, omit_defaults=True):
    """One thing wrong with a request: the ``field`` it concerns (a body path such as
    ``records[3].name``, a query or path parameter's name, or ``body``), what is wrong, and
    where the field was sent (``source``: ``body``, ``query``, ``path`` or ``header``).
    ``index`` is the record's position in a batch, ``line`` the line of a document."""

    field: str
    message: str
    source: str = "body"
    index: int | None = None
    line: int | None = None


class Problem(msgspec.Struct):
    """An error answer on the API: RFC 9457 problem details (``application/problem+json``).

    ``code`` is the stable, machine-readable name of the refusal (``not_found``,
    ``invalid_request``, ``run_refused``...); ``request_id`` is what to quote to support;
    ``errors`` names every field at fault, when the refusal is about fields.
    """

    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str
    type: str = "about:blank"
    errors: list[ProblemError] = msgspec.field(default_factory=list)


def status_code_name(status: int) -> str:
    """The default ``code`` of a status: ``not_found``, ``too_many_requests``..."""
    try:
        return HTTPStatus(status).name.lower()
    except ValueError:
        return "error"


def _error_item(raw: Any) -> dict[str, Any]:
    """One entry of ``errors`` in the documented shape (``field``, ``message``, ``source``),
    keeping what the producer added beside (a scheme issue's ``path``, a record's ``reason``).
    Litestar names the field ``key``; the scheme checker ``path``; the importers ``reason``."""
    if not isinstance(raw, dict):
        return {"field": "body", "message": str(raw), "source": "body"}
    item = dict(raw)
    field = item.get("field", item.get("key", item.get("path")))
    item["field"] = str(field) if field not in (None, "") else "body"
    message = item.get("message", item.get("reason", ""))
    item["message"] = str(message)
    item["source"] = str(item.get("source") or "body")
    item.pop("key", None)
    return item


class DomainError(Exception):
    """Base for refusals raised by domain code that the web layer maps to a status code.

    ``code`` is the stable, machine-readable name of the refusal (jobs report it): a subclass
    may set it, else it is the class name in snake case (``RunRefused`` -> ``run_refused``).
    """

    status_code = 400
    title = "Request refused"
    code: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith(("/api/", "/.well-known/", "/health", "/ready", "/schema")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _request_id(request: Request[Any, Any, Any]) -> str:
    return str(structlog.contextvars.get_contextvars().get("request_id", ""))


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response[Any]:
    """A problem answer (``Problem``) to an API or JSON client, the error page to a browser.
    ``extra`` may carry ``errors`` (normalised to ``ProblemError``'s fields) and further
    members (RFC 9457 extensions)."""
    title = title or HTTPStatus(status).phrase
    request_id = _request_id(request)
    if _wants_json(request):
        more = dict(extra or {})
        errors = [_error_item(e) for e in more.pop("errors", None) or []]
        problem = Problem(
            title=title,
            status=status,
            detail=detail,
            instance=request.url.path,
            code=code or status_code_name(status),
            request_id=request_id,
        )
        body: dict[str, Any] = {**more, **msgspec.to_builtins(problem), "errors": errors}
        return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    return Template(
        template_name="error.html",
        context={"status": status, "title": title, "detail": detail, "request_id": request_id},
        status_code=status,
        media_type=MediaType.HTML,
        headers=headers,
    )


def _known_error_status(exc: Exception) -> tuple[int, str] | None:
    from tierline.platform.databases import RegionUnavailable, UnknownRegion
    from tierline.platform.db import InvalidSlug
    from tierline.platform.jobs.service import JobNotFound
    from tierline.platform.tenancy import TenantNotFound

    if isinstance(exc, DomainError):
        return exc.status_code, exc.title
    table: list[tuple[type[Exception], int, str]] = [
        (TenantNotFound, 404, "Not Found"),
        (JobNotFound, 404, "Not Found"),
        (InvalidSlug, 422, "Invalid tenant slug"),
        (UnknownRegion, 422, "Unknown region"),
        (RegionUnavailable, 503, "Region unavailable"),
    ]
    for cls, status, title in table:
        if isinstance(exc, cls):
            return status, title
    return None


UNAVAILABLE = "A service Tierline depends on is briefly unavailable. Try again in a moment."


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lost connection to Redis or PostgreSQL: the
    request could not be served now, and the same request will work once the service is back
    (503, not 500). Found by walking the exception's causes."""
    import asyncpg
    import redis.exceptions
    from sqlalchemy.exc import DBAPIError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            redis.exceptions.ConnectionError
            | redis.exceptions.TimeoutError
            | asyncpg.PostgresConnectionError
            | asyncpg.CannotConnectNowError
            | asyncpg.AdminShutdownError
            | asyncpg.ConnectionDoesNotExistError
            | ConnectionError
            | TimeoutError,
        ):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def _sign_in_redirect(request: Request[Any, Any, Any], exc: Exception) -> Response[Any] | None:
    from tierline.platform.identity.redirects import LoginRequired, PasswordChangeRequired

    if isinstance(exc, PasswordChangeRequired) and not _wants_json(request):
        return Redirect(exc.page, status_code=303)

    if not isinstance(exc, LoginRequired) or _wants_json(request) or not exc.tenant_slug:
        return None
    target = f"/t/{exc.tenant_slug}/login?next={quote(exc.next_path)}"
    if request.url.path.startswith("/portal/"):
        target = f"/portal/{exc.tenant_slug}/login?next={quote(exc.next_path)}"
    return Redirect(target, status_code=303)


_MISSING = re.compile(r"missing required field `([^`]+)`")


def _body_field(item: dict[str, Any]) -> dict[str, Any]:
    """Litestar calls the whole body ``data``; a missing field is named in the message only."""
    if item["source"] != "body":
        return item
    field = "" if item["field"] in ("data", "body") else item["field"]
    missing = _MISSING.search(item["message"])
    if missing:
        field = f"{field}.{missing.group(1)}" if field else missing.group(1)
    return {**item, "field": field or "body"}


def _invalid_request(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A value that does not fit its declared type: 422 when it is the body's (the request
    was read, its content is refused), 400 when a parameter is malformed. Every field named."""
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [_body_field(_error_item(e)) for e in raw]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    in_body = bool(raw) and all(isinstance(e, dict) and e.get("source") == "body" for e in raw)
    return problem_response(
        request,
        422 if in_body else 400,
        detail or str(exc.detail),
        "Invalid request body" if in_body else "Invalid request",
        {"errors": errors},
        code="invalid_body" if in_body else "invalid_request",
    )


def exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    redirect = _sign_in_redirect(request, exc)
    if redirect is not None:
        return redirect
    if isinstance(exc, ValidationException):
        return _invalid_request(request, exc)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = exc.detail if status < 500 else HTTPStatus(status).phrase
        if status == 404 and not detail:
            detail = "Not Found"
        return problem_response(request, status, detail, headers=exc.headers)
    known = _known_error_status(exc)
    if known is not None and known[0] != HTTP_500_INTERNAL_SERVER_ERROR:
        status, title = known
        detail = "Not Found" if status == 404 else str(exc)
        code = exc.code if isinstance(exc, DomainError) and status != 404 else None
        return problem_response(request, status, detail, title, code=code)
    if is_outage(exc):
        log.warning(
            "service unavailable on %s %s: %s", request.method, request.url.path, exc, exc_info=True
        )
        return problem_response(
            request, 503, UNAVAILABLE, "Service unavailable", headers={"Retry-After": "5"}
        )
    from tierline.platform.metrics import UNHANDLED

    UNHANDLED.inc()
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. Quote the request id to support.",
    )
