"""Classification runs: features, the rules engine, the stability decision, writing a run,
dry runs, verification, the run job and rebalancing scheduler, account-manager notices, the
run pages and the run API."""
