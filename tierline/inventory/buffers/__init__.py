"""Multi-echelon buffers, wired: where the run in force holds its safety stock across the
network's echelons per segment, and capacity cuts at locations whose recommended stock
exceeds their capacity (lowest tiers first, with the service cost of each cut)."""
