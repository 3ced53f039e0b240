"""Governance: override requests, the approval queue for overrides and held moves, decision
rights, and the notices customers receive."""
