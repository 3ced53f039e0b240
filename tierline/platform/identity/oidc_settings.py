"""A tenant's identity provider configuration for single sign-on (table ``oidc_providers``).

Validation of the tenant admin's form (issuer URL, client id and secret, allowed e-mail domains,
role claim and mapping, default role) into ``ProviderSettings``, loading and saving the tenant's
one provider row (audited; the client secret sealed with the tenant's field codec, bound to the
row), and reading the secret back. It neither talks to the provider nor signs anyone in.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit import record
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import OidcProvider
from tierline.platform.identity.users import STAFF_ROLES, Actor

TABLE, SECRET_COLUMN = "oidc_providers", "client_secret_enc"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_:./-]{1,100}$")


class SsoConfigError(DomainError):
    status_code = 422
    title = "Invalid single sign-on configuration"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class SecretCodec(Protocol):
    """The part of the tenant's field codec used here (``encryption.FieldCodec``)."""

    def encrypt(self, value: Any, *, table: str, column: str, row_key: str) -> bytes | None: ...

    def decrypt(self, blob: bytes | None, *, table: str, column: str, row_key: str) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class ProviderSettings:
    """A validated provider configuration; ``client_secret`` None keeps the stored one."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None
    allowed_domains: tuple[str, ...]
    role_claim: str | None
    role_mapping: dict[str, str]
    default_role: str | None
    enabled: bool


def is_allowed_url(url: str) -> bool:
    """https, or plain http to this machine only (local demos and tests)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _issuer_problems(issuer: str) -> list[str]:
    if not issuer:
        return ["the issuer URL is required"]
    if len(issuer) > 500:
        return ["the issuer URL is too long (500 characters at most)"]
    parts = urlsplit(issuer)
    if not is_allowed_url(issuer) or parts.query or parts.fragment:
        return [
            "the issuer must be an https:// URL without query or fragment "
            "(http:// only for localhost)"
        ]
    return []


def parse_domains(raw: str) -> tuple[list[str], list[str]]:
    """E-mail domains from a comma/space/newline separated list: (domains, problems)."""
    domains: list[str] = []
    problems: list[str] = []
    for item in re.split(r"[\s,;]+", raw.strip().lower()):
        if not item:
            continue
        domain = item.removeprefix("@")
        if not _DOMAIN.match(domain):
            problems.append(f"'{item}' is not an e-mail domain (e.g. example.com)")
        elif domain not in domains:
            domains.append(domain)
    if not domains and not problems:
        problems.append("list at least one allowed e-mail domain")
    return domains, problems


def parse_role_mapping(raw: str) -> tuple[dict[str, str], list[str]]:
    """Lines ``claim value = role``: (mapping, problems). Roles are staff roles only."""
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        value, sep, role = line.rpartition("=")
        value, role = value.strip(), role.strip()
        if not sep or not value or len(value) > 200:
            problems.append(f"role mapping line {number}: write it as 'claim value = role'")
        elif role not in STAFF_ROLES:
            problems.append(
                f"role mapping line {number}: '{role}' is not a staff role "
                f"(choose: {', '.join(STAFF_ROLES)})"
            )
        else:
            mapping[value] = role
    return mapping, problems


def format_role_mapping(mapping: Mapping[str, Any]) -> str:
    return "\n".join(f"{value} = {role}" for value, role in sorted(mapping.items()))


def _text(form: Mapping[str, Any], key: str, limit: int) -> str:
    return str(form.get(key, "") or "").strip()[:limit]


def _identity_problems(name: str, client_id: str) -> list[str]:
    problems = []
    if not name:
        problems.append("a display name is required (it labels the sign-in button)")
    if not client_id or any(c.isspace() for c in client_id):
        problems.append("the client id is required and has no spaces")
    return problems


def _role_problems(role_claim: str, mapping: dict[str, str], default_role: str) -> list[str]:
    problems = []
    if role_claim and not _CLAIM_NAME.match(role_claim):
        problems.append("the role claim is a claim name such as 'groups' or 'realm_access.roles'")
    if mapping and not role_claim:
        problems.append("a role mapping needs the role claim it reads")
    if default_role and default_role not in STAFF_ROLES:
        problems.append(f"the default role must be one of: {', '.join(STAFF_ROLES)}")
    return problems


def validate_settings(form: Mapping[str, Any], *, has_secret: bool) -> ProviderSettings:
    """Check the admin form; ``has_secret`` says whether a secret is stored already."""
    name, issuer = _text(form, "name", 100), _text(form, "issuer", 501)
    client_id, secret = _text(form, "client_id", 500), str(form.get("client_secret", "") or "")
    domains, problems = parse_domains(str(form.get("allowed_domains", "") or ""))
    mapping, mapping_problems = parse_role_mapping(str(form.get("role_mapping", "") or ""))
    role_claim, default_role = _text(form, "role_claim", 101), _text(form, "default_role", 40)
    problems = [
        *_identity_problems(name, client_id),
        *_issuer_problems(issuer),
        *problems,
        *mapping_problems,
        *_role_problems(role_claim, mapping, default_role),
    ]
    if not secret.strip() and not has_secret:
        problems.append("the client secret is required")
    if len(secret) > 2000:
        problems.append("the client secret is too long")
    if problems:
        raise SsoConfigError(problems)
    return ProviderSettings(
        name=name,
        issuer=issuer,
        client_id=client_id,
        client_secret=secret.strip() or None,
        allowed_domains=tuple(domains),
        role_claim=role_claim or None,
        role_mapping=mapping,
        default_role=default_role or None,
        enabled=str(form.get("enabled", "")).lower() in ("1", "on", "true", "yes"),
    )


async def get_provider(session: AsyncSession) -> OidcProvider | None:
    """The tenant's identity provider (one per tenant; the oldest if several exist)."""
    rows = await session.execute(
        select(OidcProvider).order_by(OidcProvider.created_at, OidcProvider.id).limit(1)
    )
    return rows.scalar_one_or_none()


def _public_view(provider: OidcProvider) -> dict[str, Any]:
    """What the audit log may show of a configuration: everything except the secret."""
    return {
        "name": provider.name,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "allowed_domains": list(provider.allowed_domains or []),
        "role_claim": provider.role_claim,
        "role_mapping": dict(provider.role_mapping or {}),
        "default_role": provider.default_role,
        "enabled": provider.enabled,
    }


async def save_provider(
    session: AsyncSession, codec: SecretCodec, settings: ProviderSettings, actor: Actor
) -> OidcProvider:
    """Create or update the tenant's provider; the secret is sealed with the tenant's codec."""
    provider = await get_provider(session)
    before = _public_view(provider) if provider is not None else None
    if provider is None:
        if settings.client_secret is None:
            raise SsoConfigError(["the client secret is required"])
        provider = OidcProvider(id=uuid.uuid4(), client_secret_enc=b"")
        session.add(provider)
    provider.name, provider.issuer = settings.name, settings.issuer
    provider.client_id = settings.client_id
    provider.allowed_domains = list(settings.allowed_domains)
    provider.role_claim, provider.role_mapping = settings.role_claim, dict(settings.role_mapping)
    provider.default_role, provider.enabled = settings.default_role, settings.enabled
    if settings.client_secret is not None:
        # Associated data binds the ciphertext to this row: copied elsewhere it fails to open.
        sealed = codec.encrypt(
            settings.client_secret, table=TABLE, column=SECRET_COLUMN, row_key=str(provider.id)
        )
        provider.client_secret_enc = sealed or b""
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="sso.configure",
        object_type="oidc_provider",
        object_id=str(provider.id),
        before=before,
        after={**_public_view(provider), "secret_changed": settings.client_secret is not None},
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    return provider


def client_secret(provider: OidcProvider, codec: SecretCodec) -> str:
    value = codec.decrypt(
        provider.client_secret_enc, table=TABLE, column=SECRET_COLUMN, row_key=str(provider.id)
    )
    return str(value)
