"""The refusal of a single sign-on attempt, shared by every step of the login flow.

``SsoRefused`` is raised by the protocol checks (``oidc_protocol``: token exchange, ID token),
by account resolution (``oidc_accounts``) and by the flow itself (``oidc``); it carries a reason
for the audit log (never a token or secret) and a message fit for the person signing in. It
lives on its own so that those modules share it without importing one another.
"""

from __future__ import annotations

GENERIC_FAILURE = "Single sign-on did not complete. Start again from the sign-in page."


class SsoRefused(Exception):
    """A sign-in attempt refused; ``reason`` goes to the audit log, ``message`` to the page."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str = GENERIC_FAILURE,
        *,
        email: str | None = None,
        user_id: str | None = None,
        link: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.message = message
        self.email = email
        self.user_id = user_id
        self.link = link  # (URL, label): where to go instead, e.g. the other sign-in page
