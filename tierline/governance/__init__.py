"""Governance: override requests, pending-move decisions, the approval queue, decision rights
and customer notices."""
