"""What the domains show on the staff home besides the menu tiles: panels of figures.

A domain registers a hook (from a module its plugin lists under ``extensions``) that is asked,
for each home page view, for its panel: a template and its context, or None when the signed-in
person may not see it. The chassis knows no domain: the home renders whatever the hooks give,
in registration order, and a failing hook hides its panel rather than the home.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from tierline.platform.extensions import ExtensionPoint
from tierline.platform.identity.principal import Principal
from tierline.platform.tenancy import TenantRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HomePanel:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


PanelHook = Callable[[Request[Any, Any, Any], Principal, TenantRef], Awaitable[HomePanel | None]]

HOME_PANELS: ExtensionPoint[PanelHook] = ExtensionPoint("platform.home_panels")


async def home_panels(
    request: Request[Any, Any, Any], principal: Principal, tenant: TenantRef
) -> list[HomePanel]:
    panels = []
    for hook in HOME_PANELS:
        try:
            panel = await hook(request, principal, tenant)
        except Exception:  # one domain's trouble must not take the home page down
            log.exception("home panel %s failed", getattr(hook, "__name__", hook))
            continue
        if panel is not None:
            panels.append(panel)
    return panels
