"""What the customer portal adds: its cache and change listeners, and its staff pages."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Plugin

PLUGIN = Plugin(
    api_tag="portal",
    api_description="What a B2B customer user sees: entitlements, performance, notices.",
    lifespans=("tierline.portal.cache:lifespan",),
    navigation=(
        NavItem(
            "Portal users",
            "portal-users",
            "portal:invite",
            "Invite your customers' people to the customer portal; revoke their access.",
            70,
            group="Portal",
        ),
        NavItem(
            "Portal branding",
            "portal-branding",
            "users:manage",
            "Name, logo and colours of the customer portal.",
            86,
            group="Portal",
        ),
    ),
)
