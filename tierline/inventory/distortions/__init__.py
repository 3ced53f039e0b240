"""Inventory distortion, wired: the tenant's newest positions against the targets of the run in
force, per segment and location, the network expense and root causes (``inventory.distortion``
is the pure engine)."""
