"""Scheme documents (model, parsing with source lines, validation, conditions, schedule, the
template library), the scheme store (drafts, immutable published versions), the editor pages
and the scheme API."""
