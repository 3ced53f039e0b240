"""Service levels: entitlements per segment, customer contracts and escalation paths."""
