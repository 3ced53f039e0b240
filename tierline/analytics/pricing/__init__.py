"""Pricing differentiation within contracts: service surcharges and discounts per segment or
entitlement feature, and the contract clauses they must respect."""
