"""ERP reconciliation: recommended policy numbers against the planning parameters the ERP runs
on today, the mismatches that make them incomparable, an approvable change set and the
write-back file in the ERP's own layout."""
