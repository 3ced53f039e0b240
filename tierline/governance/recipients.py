"""Who governance tells: people, at a real e-mail address, never a machine.

A request or decision is recorded under the name its author acts with: a staff user's e-mail,
or a machine client's name (``ERP connector``). Only people are notified. Machine clients have
no contact address registered, so they are told nothing (a client whose name happens to look
like an e-mail address neither): they read the outcome through the API
(``GET /api/v1/overrides?status=all``). An account manager's address comes from master data
and is used only when it is an e-mail address. An address that is not one would sit in the
e-mail outbox failing forever.
"""

from __future__ import annotations

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.identity.models import ApiClient


def email_address(text: str | None) -> str | None:
    """``text`` as a lower-case e-mail address, or None when it is not one."""
    if not text or not text.strip():
        return None
    try:
        found = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return found.normalized.lower()


async def people(session: AsyncSession, names: Iterable[str | None]) -> list[str]:
    """Of ``names`` (authors as the audit log names them), those that are people to write to,
    by e-mail, in the order given: an e-mail address that is not the name of one of this
    tenant's machine clients."""
    wanted = [e for e in dict.fromkeys(email_address(n) for n in names) if e]
    if not wanted:
        return []
    rows = await session.execute(
        select(func.lower(ApiClient.name)).where(func.lower(ApiClient.name).in_(wanted))
    )
    machines = set(rows.scalars())
    return [e for e in wanted if e not in machines]
