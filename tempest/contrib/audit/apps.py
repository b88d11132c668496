"""Configuration of the audit app."""

from tempest.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit-log table; no routes."""

    name = "tempest.contrib.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        """Make ``AuditLog`` the audit table of repositories and of the admin."""
        from tempest.contrib.audit.models import AuditLog
        from tempest.db.audit import set_default_audit_model

        set_default_audit_model(AuditLog)
