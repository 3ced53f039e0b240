"""Reading a JSON request body for the API: one object, or a 422 naming what is wrong."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request

from tierline.platform.errors import DomainError


class BodyNotAnObject(DomainError):
    status_code = 422
    title = "Invalid request body"


async def json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise BodyNotAnObject("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise BodyNotAnObject("body: a JSON object is expected")
    return data
