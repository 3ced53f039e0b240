"""Cohorts after a reclassification: movers against matched stayers, difference in differences."""
