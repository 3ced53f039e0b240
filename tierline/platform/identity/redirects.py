"""Why a request is sent to a page instead of being answered: nobody is signed in, or the user
must first change a one-time password. Raised by the permission check; the error handler turns
them into redirects for pages (and 401/403 problems on the API)."""

from __future__ import annotations

from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

# Routes a user who still holds a one-time password may use: changing it, and signing out.
WHILE_PASSWORD_PENDING = "while_password_pending"  # noqa: S105 (an option name)


class PasswordChangeRequired(PermissionDeniedException):
    """The user signed in with a one-time password and must change it before anything else;
    pages turn this into a redirect to the password page."""

    def __init__(self, tenant_slug: str, portal: bool) -> None:
        super().__init__("change your one-time password first")
        self.tenant_slug = tenant_slug
        self.portal = portal

    @property
    def page(self) -> str:
        surface = "portal" if self.portal else "t"
        return f"/{surface}/{self.tenant_slug}/account/password"


class LoginRequired(NotAuthorizedException):
    """Nobody is signed in; pages turn this into a redirect to the sign-in page."""

    def __init__(self, tenant_slug: str | None, next_path: str) -> None:
        super().__init__("sign-in is required")
        self.tenant_slug = tenant_slug
        self.next_path = next_path
