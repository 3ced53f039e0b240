"""What commercial analytics adds: its pages in the menu and its demo step."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import DemoStep, Plugin

PLUGIN = Plugin(
    api_tag="analytics",
    api_description="Cost-to-serve by segment, cohorts after reclassification, service pricing "
    "within contracts and the impact of a reclassification.",
    navigation=(
        NavItem(
            "Cost to serve",
            "analytics/cost-to-serve",
            "analytics:read",
            "Revenue, margin and cost-to-serve by segment, region and month; the whale curve.",
            60,
            group="Service",
        ),
        NavItem(
            "Cohorts",
            "analytics/cohorts",
            "analytics:read",
            "Customers who moved segment against matched customers who stayed.",
            61,
            group="Service",
        ),
        NavItem(
            "Reclassification impact",
            "analytics/impact",
            "analytics:read",
            "Accounts, revenue and service changes per account manager and region of held moves.",
            62,
            group="Service",
        ),
        NavItem(
            "Service pricing",
            "analytics/pricing",
            "analytics:read",
            "Service surcharges and discounts, checked against each customer's contract.",
            63,
            group="Service",
        ),
    ),
    extensions=("tierline.analytics.hooks",),
    demo_steps=(DemoStep(40, "commercial analytics", "tierline.analytics.demo:demo_step"),),
)
