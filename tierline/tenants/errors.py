"""What can go wrong in the tenant lifecycle, each with a message fit to show a user."""

from __future__ import annotations

from tierline.platform.errors import DomainError


class TenantError(DomainError, ValueError):
    """A tenant operation refused for a reason the caller can fix."""

    status_code = 422
    title = "Invalid tenant"


class DuplicateTenant(TenantError):
    status_code = 409
    title = "Conflict"

    def __init__(self, slug: str) -> None:
        super().__init__(f"a tenant with slug '{slug}' already exists")


class InvalidTenantName(TenantError):
    pass


class SchemaConflict(TenantError):
    status_code = 409
    title = "Conflict"

    def __init__(self, schema: str, region: str) -> None:
        super().__init__(
            f"schema '{schema}' already exists in region '{region}'; refusing to reuse it"
        )


class ProvisioningFailed(DomainError, RuntimeError):
    """Provisioning broke part-way; everything it had created was removed."""

    status_code = 500
    title = "Provisioning failed"
