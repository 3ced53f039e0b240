"""The return of the segmentation programme: per segment, service and cost-to-serve in a
comparison period against a baseline."""
