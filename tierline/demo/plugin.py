"""What the demo adds: ``tierline demo`` and, for each demo tenant, its steps in order."""

from tierline.platform.plugins import Command, DemoStep, Plugin

PLUGIN = Plugin(
    commands=(Command("demo", "tierline.demo.cli:demo_app"),),
    demo_steps=(
        DemoStep(10, "master data", "tierline.demo.seeding:seed_demo_data"),
        DemoStep(15, "account manager's book", "tierline.demo.seeding:give_account_manager_a_book"),
        DemoStep(20, "segmentation", "tierline.demo.segmentation:demo_step"),
        DemoStep(30, "service levels", "tierline.demo.service_levels:demo_step"),
        DemoStep(60, "service performance", "tierline.demo.monitoring:demo_step"),
        DemoStep(90, "portal login", "tierline.demo.portal:demo_step"),
    ),
)
