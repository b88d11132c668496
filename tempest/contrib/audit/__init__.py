"""tempest.contrib.audit: the audit trail's table, kept in the project's database.

Add ``"tempest.contrib.audit"`` to INSTALLED_APPS and run ``python manage.py migrate``:
``BaseRepository.add_audited`` / ``update_audited`` / ``delete_audited`` and the admin's
create, edit, delete and bulk actions then write one row of ``audit_log`` per change, in
the change's transaction, and ``python manage.py audit history`` lists a row's history.
"""
