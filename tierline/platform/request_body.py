"""Reading a JSON request body for the API, the same typed way on every endpoint.

The content type must be JSON (415 otherwise); the body is read within the request size limit
and checked by ``documents.parse_json`` (UTF-8, depth, no NUL or lone surrogates, integers that
fit 64 bits), off the event loop when it is large, then — for ``typed_body`` — converted to the
endpoint's msgspec struct with every field error named. Refusals are problem details (400,
413, 415 or 422) naming the field or the reason; never a 500.

Handlers declare their body as ``data: SomeStruct`` (so the OpenAPI document shows it): the
app's ``CheckedRequest`` makes Litestar read that body through ``json_body`` too, with the
bounds a handler names in ``opt={"body_bounds": callable(state) -> Bounds}`` (batches are
larger than the default); a handler taking a document as text too names the field it goes in
(``opt={"text_body": "text"}``: a ``text/yaml`` body arrives as ``{"text": ...}``). Litestar
converts it to the struct (a misfit is a 422 naming
every field, ``errors.exception_handler``).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import msgspec
from litestar import Request

from tierline.platform.documents import (
    DEFAULT_BOUNDS,
    INLINE_BYTES,
    Bounds,
    DocumentRefused,
    parse_json,
)
from tierline.platform.errors import DomainError

T = TypeVar("T")


class BodyNotAnObject(DomainError):
    status_code = 422
    title = "Invalid request body"


class UnsupportedBody(DomainError):
    status_code = 415
    title = "Unsupported media type"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class CheckedRequest(Request[Any, Any, Any]):
    """The app's request class: ``json()`` (what Litestar decodes ``data`` from) goes through
    ``json_body`` and the handler's bounds."""

    async def json(self) -> Any:
        text_field = self.route_handler.opt.get("text_body")
        if text_field and _is_text(self.headers.get("content-type", "")):
            return {text_field: (await self.body()).decode("utf-8", errors="replace")}
        bounds = self.route_handler.opt.get("body_bounds")
        return await json_body(self, bounds(self.app.state) if bounds else DEFAULT_BOUNDS)


def _is_text(content_type: str) -> bool:
    """A document sent as is (``text/yaml``, ``text/plain``, ``application/yaml``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in ("application/yaml", "application/x-yaml")


async def json_body(request: Request[Any, Any, Any], bounds: Bounds = DEFAULT_BOUNDS) -> Any:
    """The body's JSON value; an empty body is None."""
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if not raw:
        return None
    if not _is_json(content_type):
        raise UnsupportedBody(
            f"send the body as application/json (it came as {content_type or 'no content type'})"
        )
    try:
        if len(raw) > INLINE_BYTES:
            return await asyncio.to_thread(parse_json, raw, bounds)
        return parse_json(raw, bounds)
    except DocumentRefused as exc:
        exc.title = "Invalid request body"
        raise


async def json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    data = await json_body(request)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BodyNotAnObject("body: a JSON object is expected")
    return data


async def typed_body(request: Request[Any, Any, Any], shape: type[T]) -> T:
    """The body converted to ``shape`` (a msgspec struct); a field that does not fit is a 422
    naming it (``$.entitlements[0].fill_rate_target: Expected number, got str``)."""
    data = await json_body(request)
    try:
        return msgspec.convert(data, shape)
    except msgspec.ValidationError as exc:
        raise BodyNotAnObject(f"body: {exc}") from None
