"""What monitoring adds: service performance in the menu, the KPI command, the KPI update after
every import of order lines, and the planner's dashboard on the staff home."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(
    commands=(Command("kpi", "tierline.monitoring.cli:kpi_app"),),
    navigation=(
        NavItem(
            "Service performance",
            "performance",
            "kpi:read",
            "KPI attainment per segment and region, drill-down to order lines, and alerts.",
            30,
            group="Segments",
        ),
    ),
    extensions=("tierline.monitoring.hooks",),
    api_tag="service performance",
    api_description="KPI series and attainment per segment, alerts and the KPI definition.",
)
