"""tempest.contrib.idempotency: the table of idempotency keys kept in the project's database.

Add ``"tempest.contrib.idempotency"`` to INSTALLED_APPS, set ``IDEMPOTENCY_URL`` to
``"database://"`` and run ``python manage.py migrate``: ``IdempotencyMiddleware`` then
records each key in the same transaction as the request's writes
(:class:`tempest.db.DatabaseIdempotencyStore`).
"""
