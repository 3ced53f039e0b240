"""What can go wrong in the tenant lifecycle, each with a message fit to show a user."""

from __future__ import annotations


class TenantError(ValueError):
    """A tenant operation refused for a reason the caller can fix."""


class DuplicateTenant(TenantError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"a tenant with slug '{slug}' already exists")


class InvalidTenantName(TenantError):
    pass


class SchemaConflict(TenantError):
    def __init__(self, schema: str, region: str) -> None:
        super().__init__(
            f"schema '{schema}' already exists in region '{region}'; refusing to reuse it"
        )


class ProvisioningFailed(RuntimeError):
    """Provisioning broke part-way; everything it had created was removed."""
