"""Batch imports of CSV/XLSX files (and API batches): validate everything, then apply all rows
in one transaction through COPY-based staging, or nothing.

``service.run_import`` runs one import through its phases (``pipeline``: ``reader``,
``validate``, ``apply`` with ``pgbinary``) and keeps its record (``records``, ``models``).
``entities`` declares what each importable entity looks like. Files arrive through the pages and
API (``uploads``, ``controllers``) and run in the worker (``jobs``); the real-time API upserts
records through the same path (``batches``, ``batch_controllers``); ``cli`` is ``tierline import``.
"""
