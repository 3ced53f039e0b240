"""The per-tenant, append-only, hash-chained audit log (DESIGN.md §6)."""

from tierline.platform.audit.service import AuditEntry, VerifyResult, record, verify_chain

__all__ = ["AuditEntry", "VerifyResult", "record", "verify_chain"]
