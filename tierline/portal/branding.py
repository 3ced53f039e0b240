"""The tenant's portal branding: name, logo and colours, validated before they are saved.

- Colours are ``#rrggbb`` and must carry white text at a WCAG 2.1 contrast of at least 4.5:1
  (the portal writes white on the primary colour, on the accent colour for buttons and focus
  rings), so a tenant cannot brand its portal into illegibility.
- Logos are PNG or JPEG (checked by their magic bytes, not the file name), at most 256 KB.
  SVG is refused: it can carry script, and served from our origin it would run with the
  portal's privileges. The logo is served from the portal's own origin (the content security
  policy allows no third-party images), so there is no logo URL setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from tierline.platform.audit import record
from tierline.platform.errors import DomainError
from tierline.platform.identity.users import Actor, normalize_email
from tierline.platform.tenancy import TenantRef
from tierline.portal.models import PortalBranding

MAX_LOGO_BYTES = 256 * 1024
MIN_CONTRAST = 4.5
DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_ACCENT = "#0b6e4f"
_HEX = re.compile(r"^#[0-9a-f]{6}$")


class BrandingError(DomainError):
    status_code = 422
    title = "Invalid branding"


@dataclass(frozen=True)
class Branding:
    display_name: str
    primary_colour: str
    accent_colour: str
    support_email: str | None
    has_logo: bool
    version: str  # changes when the branding changes (cache-busting for css and logo)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_with_white(colour: str) -> float:
    return (1.0 + 0.05) / (luminance(colour) + 0.05)


def check_colour(raw: str, label: str) -> str:
    colour = raw.strip().lower()
    if not _HEX.match(colour):
        raise BrandingError(f"{label} must be a colour like #1f4e79")
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        raise BrandingError(
            f"{label} {colour} is too light for white text (contrast {ratio:.2f}:1, "
            f"at least {MIN_CONTRAST}:1 is needed); choose a darker shade"
        )
    return colour


def sniff_logo(data: bytes) -> str:
    """The logo's media type from its first bytes; BrandingError unless PNG or JPEG."""
    if len(data) > MAX_LOGO_BYTES:
        raise BrandingError(f"the logo is {len(data) // 1024} KB; at most 256 KB is allowed")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    raise BrandingError("the logo must be a PNG or JPEG image (SVG and other formats are refused)")


def default_branding(tenant: TenantRef) -> Branding:
    return Branding(tenant.name, DEFAULT_PRIMARY, DEFAULT_ACCENT, None, False, "0")


def _view(row: PortalBranding, has_logo: bool) -> Branding:
    return Branding(
        row.display_name,
        row.primary_colour,
        row.accent_colour,
        row.support_email,
        has_logo,
        str(int(row.updated_at.timestamp())) if row.updated_at else "0",
    )


async def load_branding(session: AsyncSession, tenant: TenantRef) -> Branding:
    row = await session.get(PortalBranding, 1)
    if row is None:
        return default_branding(tenant)
    return _view(row, row.logo_type is not None)


async def load_logo(session: AsyncSession) -> tuple[bytes, str] | None:
    row = (
        await session.execute(
            select(PortalBranding)
            .options(undefer(PortalBranding.logo))
            .where(PortalBranding.id == 1)
        )
    ).scalar_one_or_none()
    if row is None or row.logo is None or row.logo_type is None:
        return None
    return row.logo, row.logo_type


async def save_branding(
    session: AsyncSession,
    tenant: TenantRef,
    actor: Actor,
    *,
    display_name: str,
    primary_colour: str,
    accent_colour: str,
    support_email: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Branding:
    """Validate and save; every problem is a BrandingError and nothing is written."""
    name = display_name.strip()[:200]
    if not name:
        raise BrandingError("the portal needs a display name")
    primary = check_colour(primary_colour, "The primary colour")
    accent = check_colour(accent_colour, "The accent colour")
    email: str | None = None
    if support_email.strip():
        try:
            email = normalize_email(support_email)
        except DomainError as exc:
            raise BrandingError(str(exc)) from None
    logo_type = sniff_logo(logo) if logo else None
    row = await session.get(PortalBranding, 1)
    before: dict[str, Any] | None = None
    if row is None:
        row = PortalBranding(id=1)
        session.add(row)
    else:
        before = {
            "display_name": row.display_name,
            "primary_colour": row.primary_colour,
            "accent_colour": row.accent_colour,
            "support_email": row.support_email,
        }
    row.display_name, row.primary_colour, row.accent_colour = name, primary, accent
    row.support_email, row.updated_by = email, actor.name
    if logo:
        row.logo, row.logo_type = logo, logo_type
    elif remove_logo:
        row.logo, row.logo_type = None, None
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="portal.branding_saved",
        object_type="portal_branding",
        object_id="1",
        before=before,
        after={
            "display_name": name,
            "primary_colour": primary,
            "accent_colour": accent,
            "support_email": email,
            "logo": "uploaded" if logo else ("removed" if remove_logo else "unchanged"),
        },
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    await session.refresh(row)
    return _view(row, row.logo_type is not None)
