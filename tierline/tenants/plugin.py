"""What the tenant lifecycle adds: ``tierline tenants`` and ``tierline migrate``, and bringing
every schema to head before an embedded ``tierline serve``."""

from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(
    api_tag="tenants",
    api_description="Tenant lifecycle for the platform operator.",
    commands=(
        Command("migrate", "tierline.tenants.cli:migrate"),
        Command("tenants", "tierline.tenants.cli:tenants_app"),
    ),
    before_serving=("tierline.tenants.migrate:migrate_before_serving",),
)
