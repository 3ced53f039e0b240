"""Segment assignments and their read side (assignments in force, timeline, sales vs
operations conflicts, segment counts, pending moves), exports and the ERP write-back, the
changes other domains make through segmentation's service, their pages and API."""
