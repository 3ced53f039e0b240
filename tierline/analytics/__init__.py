"""Commercial analytics: cost-to-serve and margin by segment, cohorts after reclassification,
pricing differentiation within contracts, the incentive impact of a reclassification."""
