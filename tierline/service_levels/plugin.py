"""What service levels add: the entitlements pages in the menu and the contract check of runs."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Plugin

PLUGIN = Plugin(
    api_tag="service levels",
    api_description="Entitlements per segment, contracts and escalation paths.",
    navigation=(
        NavItem(
            "Entitlements",
            "segments/entitlements",
            "entitlements:read",
            "Service levels per segment, contracts and escalation paths.",
            45,
            group="Segments",
        ),
    ),
    extensions=("tierline.service_levels.hooks",),
)
