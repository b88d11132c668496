"""The docs' examples run.

Each test below executes one page with ``transcripts.Transcript``: its titled blocks are
written into a project made by ``tempest startproject shop`` + ``startapp orders`` (the
``new_project`` fixture), its console transcripts are run there and their output is
compared with the page. The page is the single source of the examples; the tests only
say which page runs where, and check that nothing was silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.docs.markdown import DOCS, blocks, pages, sessions
from tests.docs.transcripts import Transcript
from tests.seaweed import SeaweedFS

pytestmark = pytest.mark.e2e

EXECUTED = {
    "getting-started.md",
    "topics/settings.md",
    "topics/apps.md",
    "topics/models.md",
    "topics/repository.md",
    "topics/services.md",
    "topics/pagination.md",
    "topics/transactions.md",
    "topics/asgi.md",
    "topics/checks.md",
    "topics/migrations.md",
    "topics/testing.md",
    "topics/fixtures.md",
    "topics/backup.md",
    "topics/users.md",
    "topics/auth-flow.md",
    "topics/oauth.md",
    "topics/metrics.md",
    "topics/prometheus.md",
    "topics/tracing.md",
    "topics/tasks.md",
    "topics/outbox.md",
    "topics/audit.md",
    "topics/queues.md",
    "topics/admin.md",
    "topics/csrf.md",
    "topics/body-size.md",
    "topics/error-messages.md",
    "topics/client-ip.md",
    "topics/idempotency.md",
    "topics/rate-limits.md",
    "topics/feature-flags.md",
    "topics/cache.md",
    "topics/graceful-shutdown.md",
    "topics/outages.md",
    "topics/http-client.md",
    "topics/files.md",
    "topics/static-files.md",
    "topics/s3.md",
    "topics/sessions.md",
    "topics/sse.md",
    "topics/webhooks.md",
    "topics/brazil.md",
    "topics/deployment.md",
    "topics/web-push.md",
    "topics/logging.md",
    "commands/index.md",
    "commands/writing.md",
}
"""Pages whose examples the tests below run; only these may hold titled or console blocks."""

RunPage = Callable[[str], Transcript]


@pytest.fixture
def run_in_project(new_project: Callable[..., Path], tmp_path: Path) -> Iterator[RunPage]:
    """Run a page in a new project ``shop`` with the example app ``orders``."""
    transcripts: list[Transcript] = []

    def run(page: str) -> Transcript:
        project = new_project("shop", "orders")
        transcript = Transcript(home=tmp_path, cwd=project)
        transcripts.append(transcript)
        transcript.run_page(DOCS / page)
        return transcript

    yield run
    for transcript in transcripts:
        transcript.close()


def commands_on(page: str) -> list[str]:
    """Every console command of a page, to check that the test ran them all."""
    return [
        session.command
        for block in blocks(DOCS / page)
        if block.lang == "console"
        for session in sessions(block)
    ]


def titles_on(page: str) -> list[str]:
    """Every file example of a page."""
    return [block.title for block in blocks(DOCS / page) if block.title]


def assert_ran_everything(page: str, transcript: Transcript, *, files: int, commands: int) -> None:
    """The page's examples all ran, and there are as many as the test expects."""
    assert transcript.ran == commands_on(page)
    assert transcript.written == titles_on(page)
    assert (len(transcript.written), len(transcript.ran)) == (files, commands)


def test_getting_started(tmp_path: Path) -> None:
    transcript = Transcript(home=tmp_path, cwd=tmp_path)
    try:
        transcript.run_page(DOCS / "getting-started.md")
    finally:
        transcript.close()
    assert_ran_everything("getting-started.md", transcript, files=0, commands=12)
    assert "python manage.py runserver" in transcript.ran


def test_settings(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/settings.md")
    assert_ran_everything("topics/settings.md", transcript, files=4, commands=10)
    assert "tests/test_settings.py" in transcript.written


def test_apps(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/apps.md")
    assert_ran_everything("topics/apps.md", transcript, files=4, commands=10)


def test_models(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/models.md")
    assert_ran_everything("topics/models.md", transcript, files=2, commands=4)
    assert transcript.written == ["orders/models.py", "orders/tests/test_models.py"]


def test_repository(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/repository.md")
    assert_ran_everything("topics/repository.md", transcript, files=3, commands=1)
    assert transcript.written[-1] == "orders/tests/test_products.py"


def test_services(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/services.md")
    assert_ran_everything("topics/services.md", transcript, files=3, commands=1)
    assert transcript.written[:2] == ["orders/exceptions.py", "orders/services.py"]


def test_pagination(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/pagination.md")
    assert_ran_everything("topics/pagination.md", transcript, files=3, commands=1)
    assert transcript.written[-1] == "orders/tests/test_pagination.py"


def test_asgi_middleware(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/asgi.md")
    assert_ran_everything("topics/asgi.md", transcript, files=3, commands=1)
    assert transcript.written[0] == "shop/middleware.py"


def test_checks(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/checks.md")
    assert_ran_everything("topics/checks.md", transcript, files=2, commands=13)
    assert "orders/checks.py" in transcript.written


def test_migrations(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/migrations.md")
    assert_ran_everything("topics/migrations.md", transcript, files=0, commands=5)
    assert "python manage.py migrate orders zero --noinput" in transcript.ran


def test_testing(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/testing.md")
    assert_ran_everything("topics/testing.md", transcript, files=4, commands=2)
    assert transcript.written == [
        "orders/tests/test_orders.py",
        "orders/tasks.py",
        "orders/subscribers.py",
        "orders/tests/test_background.py",
    ]


def test_transactions(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/transactions.md")
    assert_ran_everything("topics/transactions.md", transcript, files=1, commands=4)
    assert transcript.ran[2:] == ["python manage.py restock --fail", "python manage.py restock"]


def test_backup(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/backup.md")
    assert_ran_everything("topics/backup.md", transcript, files=0, commands=9)
    assert "python manage.py restore backups/before-upgrade.sqlite3 --yes" in transcript.ran


def test_fixtures(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/fixtures.md")
    assert_ran_everything("topics/fixtures.md", transcript, files=4, commands=12)
    assert "python manage.py loaddata menu" in transcript.ran


def test_users(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/users.md")
    assert_ran_everything("topics/users.md", transcript, files=0, commands=7)
    assert "python manage.py user list" in transcript.ran


def test_auth_flow(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/auth-flow.md")
    assert_ran_everything("topics/auth-flow.md", transcript, files=0, commands=6)
    assert "AUTH_REQUIRE_ACTIVATION=false python manage.py runserver" in transcript.ran


def test_oauth(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/oauth.md")
    assert_ran_everything("topics/oauth.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_oauth.py"]


def test_queues(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/queues.md")
    assert_ran_everything("topics/queues.md", transcript, files=2, commands=2)
    assert transcript.written == ["orders/subscribers.py", "orders/tests/test_subscribers.py"]


def test_outbox(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/outbox.md")
    assert_ran_everything("topics/outbox.md", transcript, files=4, commands=6)
    assert transcript.ran[-2:] == ["python manage.py relay_outbox"] * 2


def test_audit(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/audit.md")
    assert_ran_everything("topics/audit.md", transcript, files=2, commands=6)
    assert transcript.written == ["shop/settings.py", "orders/management/commands/save_order.py"]
    assert transcript.ran[-2].startswith("python manage.py audit history orders.OrderModel")


def test_metrics(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/metrics.md")
    assert_ran_everything("topics/metrics.md", transcript, files=1, commands=1)
    assert transcript.written == ["report.py"]


def test_prometheus(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/prometheus.md")
    assert_ran_everything("topics/prometheus.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_metrics.py"]


def test_tracing(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/tracing.md")
    assert_ran_everything("topics/tracing.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_tracing.py"]


def test_tasks(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/tasks.md")
    assert_ran_everything("topics/tasks.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tasks.py"]


def test_admin(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/admin.md")
    assert_ran_everything("topics/admin.md", transcript, files=3, commands=7)
    assert transcript.written[1] == "orders/admin.py"
    assert transcript.ran[-1] == "pytest -q orders/tests/test_admin.py"


def test_body_size(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/body-size.md")
    assert_ran_everything("topics/body-size.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_body_size.py"]


def test_error_messages(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/error-messages.md")
    assert_ran_everything("topics/error-messages.md", transcript, files=2, commands=1)
    assert transcript.written == ["orders/locale/pt-BR.json", "orders/tests/test_error_messages.py"]


def test_client_ip(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/client-ip.md")
    assert_ran_everything("topics/client-ip.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_client_ip.py"]


def test_rate_limits(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/rate-limits.md")
    assert_ran_everything("topics/rate-limits.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_rate_limit.py"]


def test_cache(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/cache.md")
    assert_ran_everything("topics/cache.md", transcript, files=2, commands=2)
    assert transcript.written == ["catalog/routers.py", "catalog/tests/test_cache.py"]


def test_feature_flags(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/feature-flags.md")
    assert_ran_everything("topics/feature-flags.md", transcript, files=2, commands=4)
    assert transcript.written == ["shop/settings.py", "orders/tests/test_flags.py"]


def test_idempotency(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/idempotency.md")
    assert_ran_everything("topics/idempotency.md", transcript, files=3, commands=4)
    assert transcript.written == [
        "shop/settings.py",
        "shop/settings.py",
        "orders/tests/test_idempotency.py",
    ]


def test_graceful_shutdown(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/graceful-shutdown.md")
    assert_ran_everything("topics/graceful-shutdown.md", transcript, files=2, commands=1)
    assert transcript.written == ["shop/settings.py", "orders/tests/test_graceful_shutdown.py"]


def test_outages(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/outages.md")
    assert_ran_everything("topics/outages.md", transcript, files=1, commands=1)
    assert transcript.written == ["orders/tests/test_outage.py"]


def test_static_files(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/static-files.md")
    assert_ran_everything("topics/static-files.md", transcript, files=1, commands=5)
    assert transcript.written == ["orders/static/orders/site.css"]


def test_sessions(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/sessions.md")
    assert_ran_everything("topics/sessions.md", transcript, files=2, commands=1)
    assert transcript.written == ["orders/reports.py", "orders/tests/test_reports.py"]


def test_csrf(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/csrf.md")
    assert_ran_everything("topics/csrf.md", transcript, files=2, commands=1)
    assert transcript.written == ["shop/settings.py", "orders/tests/test_csrf.py"]


def test_commands_reference(run_in_project: RunPage) -> None:
    transcript = run_in_project("commands/index.md")
    assert_ran_everything("commands/index.md", transcript, files=0, commands=13)


def test_writing_commands(run_in_project: RunPage) -> None:
    transcript = run_in_project("commands/writing.md")
    assert_ran_everything("commands/writing.md", transcript, files=3, commands=13)
    assert "orders/management/commands/version.py" in transcript.written


def test_only_executed_pages_have_runnable_examples() -> None:
    unexpected = [
        block.where
        for page in pages()
        if str(page.relative_to(DOCS)) not in EXECUTED
        for block in blocks(page)
        if block.title or block.lang == "console"
    ]
    assert not unexpected, f"add these pages to EXECUTED and to a test: {unexpected}"
    assert {str(page.relative_to(DOCS)) for page in pages()} >= EXECUTED


def test_sse(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/sse.md")
    assert_ran_everything("topics/sse.md", transcript, files=2, commands=1)
    assert transcript.written == ["orders/tasks.py", "orders/tests/test_live.py"]


def test_http_client(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/http-client.md")
    assert_ran_everything("topics/http-client.md", transcript, files=2, commands=1)
    assert transcript.written == ["orders/payments.py", "orders/tests/test_payments.py"]


def test_files(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/files.md")
    assert_ran_everything("topics/files.md", transcript, files=2, commands=1)
    assert transcript.written == ["orders/files.py", "orders/tests/test_files.py"]


def test_brazil(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/brazil.md")
    assert_ran_everything("topics/brazil.md", transcript, files=2, commands=1)
    assert transcript.written == ["orders/customers.py", "orders/tests/test_customers.py"]


def test_web_push(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/web-push.md")
    assert_ran_everything("topics/web-push.md", transcript, files=3, commands=3)
    assert transcript.written == [
        "shop/settings.py",
        "orders/notifications.py",
        "orders/tests/test_notifications.py",
    ]


def test_logging(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/logging.md")
    assert_ran_everything("topics/logging.md", transcript, files=2, commands=2)
    assert transcript.written == ["ops/routers.py", "ops/tests/test_ops.py"]


def test_webhooks(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/webhooks.md")
    assert_ran_everything("topics/webhooks.md", transcript, files=2, commands=2)
    assert transcript.written == ["hooks/routers.py", "hooks/tests/test_webhooks.py"]


def test_deployment(run_in_project: RunPage) -> None:
    transcript = run_in_project("topics/deployment.md")
    assert_ran_everything("topics/deployment.md", transcript, files=0, commands=1)


def test_s3(run_in_project: RunPage, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in seaweedfs.settings("shop").items():  # the page's project uses it
        monkeypatch.setenv(name, value)
    transcript = run_in_project("topics/s3.md")
    assert_ran_everything("topics/s3.md", transcript, files=3, commands=2)
    assert transcript.written == [
        "shop/settings.py",
        "documents/routers.py",
        "documents/tests/test_documents.py",
    ]
