"""What governance adds: the approval queue in the menu, and the customer notices of runs."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Plugin

PLUGIN = Plugin(
    api_tag="governance",
    api_description="Override requests and the approval queue.",
    navigation=(
        NavItem(
            "Approvals",
            "approvals",
            "segments:read",
            "Override requests and pending moves waiting for a decision.",
            45,
            group="Segments",
        ),
    ),
    extensions=("tierline.governance.hooks",),
)
