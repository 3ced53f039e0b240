"""Segmentation: schemes, classification runs and segment assignments; other domains use
``service`` only."""
