"""What inventory adds: ``tierline inventory``, its pages in the menu and its demo step."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, DemoStep, Plugin

PLUGIN = Plugin(
    api_tag="inventory",
    commands=(Command("inventory", "tierline.inventory.cli:inventory_app"),),
    extensions=("tierline.inventory.hooks",),
    demo_steps=(DemoStep(40, "inventory policy", "tierline.inventory.demo:demo_step"),),
    navigation=(
        NavItem(
            "Inventory policy",
            "inventory",
            "inventory:read",
            "Safety stock and reorder points per segment: policies, runs, results, calculator.",
            50,
            group="Inventory",
        ),
    ),
)
