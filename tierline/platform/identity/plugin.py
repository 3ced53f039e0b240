"""What identity adds: the ``users`` and ``clients`` commands and the admin menu entries."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(
    api_tag="identity",
    api_description="Access tokens for API clients (OAuth2 client credentials).",
    commands=(
        Command("users", "tierline.platform.identity.users_cli:users_app"),
        Command("clients", "tierline.platform.identity.clients_cli:clients_app"),
    ),
    navigation=(
        NavItem(
            "Users & roles",
            "admin/users",
            "users:manage",
            "Invite staff, grant roles per scope, lock or disable accounts.",
            80,
            group="Administration",
        ),
        NavItem(
            "Single sign-on",
            "admin/sso",
            "sso:manage",
            "Let staff and customer portal users sign in through your identity provider "
            "(OpenID Connect).",
            85,
            group="Administration",
        ),
    ),
)
