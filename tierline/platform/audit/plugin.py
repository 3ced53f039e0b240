"""What the audit log adds: the ``audit`` command and its page in the menu."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(
    api_tag="audit",
    api_description="The tenant's hash-chained audit trail.",
    commands=(Command("audit", "tierline.platform.audit.cli:audit_app"),),
    navigation=(
        NavItem(
            "Audit log",
            "audit",
            "audit:read",
            "Every sign-in, change and export, hash-chained and verifiable.",
            90,
            group="Administration",
        ),
    ),
)
