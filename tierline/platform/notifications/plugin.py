"""What notifications add: the in-app notifications page in the menu."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Plugin

PLUGIN = Plugin(
    api_tag="notifications",
    api_description="The caller's notifications.",
    navigation=(
        NavItem(
            "Notifications",
            "notifications",
            "tenant:view",
            "Segment moves, customer notices and escalations addressed to you.",
            5,
            group="Workspace",
        ),
    ),
)
