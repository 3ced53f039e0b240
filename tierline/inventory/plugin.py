"""What inventory adds: ``tierline inventory``, its pages in the menu and its demo step."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, DemoStep, Plugin

PLUGIN = Plugin(
    api_tag="inventory",
    commands=(Command("inventory", "tierline.inventory.cli:inventory_app"),),
    demo_steps=(
        DemoStep(40, "inventory policy", "tierline.inventory.demo:demo_step"),
        DemoStep(
            45, "ERP reconciliation and simulation", "tierline.inventory.network_demo:demo_step"
        ),
    ),
    navigation=(
        NavItem(
            "Inventory policy",
            "inventory",
            "inventory:read",
            "Safety stock and reorder points per segment: policies, runs, results, calculator.",
            50,
            group="Inventory",
        ),
        NavItem(
            "ERP reconciliation",
            "inventory/reconciliation",
            "inventory:read",
            "Recommended parameters against the ERP's, by money at stake; change sets.",
            52,
            group="Inventory",
        ),
        NavItem(
            "Simulation",
            "inventory/simulation",
            "inventory:read",
            "Replay the demand history under the ERP's parameters and the proposed policy.",
            53,
            group="Inventory",
        ),
    ),
    extensions=("tierline.inventory.reconciliation.approvals",),
)
