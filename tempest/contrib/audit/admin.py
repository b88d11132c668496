"""The audit log in the admin: read-only, newest first, searchable by table and key."""

from tempest.contrib.admin import AdminModel, site
from tempest.contrib.audit.models import AuditLog

site.register(
    AdminModel(
        model=AuditLog,
        list_display=[
            AuditLog.created_at,
            AuditLog.action,
            AuditLog.table_name,
            AuditLog.object_pk,
            AuditLog.actor_kind,
            AuditLog.actor_id,
        ],
        list_filter=[AuditLog.action, AuditLog.table_name],
        search_fields=[AuditLog.object_pk, AuditLog.actor_id],
        ordering="-created_at",
        can_create=False,
        can_edit=False,
        can_delete=False,
    )
)
