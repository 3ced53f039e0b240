"""Identity and access: users, sessions, SSO, machine clients and the permission check."""
