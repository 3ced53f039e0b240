"""Golden records: one customer (or product) however many source systems describe it.

``rules`` says who wins each attribute and what identifies a record; ``normalise`` and
``matching`` decide links, reviews and new codes (pure, polars); ``survivorship`` picks each
attribute's value; ``reconcile`` runs it all after a non-ERP import. A data steward works the
queue (``queue``) and decides ambiguous matches (``service``) on the steward pages
(``controllers``); ``models`` holds the review table.
"""
