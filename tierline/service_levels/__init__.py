"""Service levels: what each segment is promised (entitlements), what each customer is owed
(contracts), and who is told when a promise slips (escalation paths)."""
