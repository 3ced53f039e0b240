"""Simulation before deployment, wired: the demand history, lanes and the ERP's parameters
from the tenant, the proposed policy from the run in force, both replayed by
``inventory.simulation`` and kept with their per-segment comparison and calibration."""
