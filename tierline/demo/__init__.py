"""Demo data and demo seeding, above all domains: synthetic data sets, the demo tenants and
logins, and one module per domain that seeds its part through that domain's service."""
