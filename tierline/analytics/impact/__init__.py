"""The incentive and customer impact of a reclassification, before it is applied: per account
manager and sales region, the accounts moving, the revenue affected and the service changes."""
