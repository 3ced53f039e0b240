"""What segmentation adds: ``tierline segment`` and its pages in the menu."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(
    api_tag="segmentation",
    api_description="Schemes, classification runs, segment assignments and pending moves.",
    commands=(Command("segment", "tierline.segmentation.cli:segment_app"),),
    data_steps=("tierline.segmentation.runs.snapshots:seal_plaintext_snapshots",),
    navigation=(
        NavItem(
            "Segments",
            "segments",
            "segments:read",
            "Schemes and their rules, classification runs, assignments and pending moves.",
            40,
            group="Segments",
        ),
    ),
)
