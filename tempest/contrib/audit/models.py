"""The audit-log table used by the audited writes and the admin."""

from tempest.db import BaseAuditLogModel


class AuditLog(BaseAuditLogModel):
    """One change of one row (see ``BaseAuditLogModel``)."""

    __tablename__ = "audit_log"
