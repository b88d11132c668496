"""collectstatic, and the static files that runserver and serve answer at STATIC_URL.

Refusals first (no STATIC_ROOT, a STATIC_ROOT that overlaps the sources or the project,
a linked folder leading out), then the copy, then the two servers.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import serve_project
from tests.warm import warm_manage as manage  # manage.py processes forked warm

pytestmark = pytest.mark.e2e

CSS = "body { color: teal; }\n"


@pytest.fixture(scope="module")
def project(shared_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared project copied, with ``orders/static/`` (a file, a dotfile, a link out)."""
    copy = tmp_path_factory.mktemp("static") / "shop"
    shutil.copytree(shared_project, copy)
    static = copy / "orders" / "static" / "orders"
    static.mkdir(parents=True)
    (static / "site.css").write_text(CSS)
    (static / ".env").write_text("SECRET=1")
    secret = copy.parent / "secret.txt"
    secret.write_text("outside")
    os.symlink(secret, static / "leak.txt")
    return copy


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_without_static_root_it_says_what_to_set(project: Path) -> None:
    result = manage(project, "collectstatic", "--noinput", STATIC_ROOT="")
    assert result.returncode == 1
    assert "STATIC_ROOT is not set" in result.stderr


@pytest.mark.parametrize(
    ("root", "message"),
    [
        (".", "holds the project itself"),
        ("..", "holds the project itself"),
        ("orders/static", "overlaps the app folder"),
        ("orders/static/orders/out", "overlaps the app folder"),
    ],
)
def test_a_static_root_overlapping_sources_is_refused(
    project: Path, root: str, message: str
) -> None:
    result = manage(project, "collectstatic", "--noinput", "--clear", STATIC_ROOT=root)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert (project / "orders" / "static" / "orders" / "site.css").read_text() == CSS


def test_a_linked_folder_in_static_root_is_not_followed(project: Path, tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "collected", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, root / "orders")
    result = manage(project, "collectstatic", "--noinput", STATIC_ROOT=str(root))
    assert result.returncode == 1
    assert "leads out of STATIC_ROOT" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_without_noinput_it_asks_first(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "collected"
    result = manage(project, "collectstatic", STATIC_ROOT=str(root), input="n\n")
    assert result.returncode == 1
    assert "Are you sure?" in result.stdout
    assert not root.exists()


def test_collectstatic_copies_the_apps_files_and_clear_empties_first(
    project: Path, tmp_path: Path
) -> None:
    root = tmp_path / "collected"
    result = manage(project, "collectstatic", "--noinput", STATIC_ROOT=str(root))
    assert result.returncode == 0, result.stderr
    assert (root / "orders" / "site.css").read_text() == CSS
    assert (root / "admin").is_dir()  # tempest.contrib.admin's own static/admin/
    assert not (root / "orders" / ".env").exists()
    assert not (root / "orders" / "leak.txt").exists()
    assert "leads out of" in result.stdout

    again = manage(project, "collectstatic", "--noinput", STATIC_ROOT=str(root))
    assert "\n0 static file(s) copied" in "\n" + again.stdout, again.stdout

    (root / "stale.css").write_text("old")
    cleared = manage(project, "collectstatic", "--noinput", "--clear", STATIC_ROOT=str(root))
    assert cleared.returncode == 0, cleared.stderr
    assert not (root / "stale.css").exists()
    assert (root / "orders" / "site.css").read_text() == CSS


def test_runserver_serves_the_apps_static_folders(project: Path) -> None:
    with serve_project(project, "runserver", "--noreload") as (base, _):
        status, headers, body = fetch(f"{base}/static/orders/site.css")
        assert (status, body.decode()) == (200, CSS)
        assert headers["x-content-type-options"] == "nosniff"
        assert "etag" in headers
        for hostile in ("orders/.env", "orders/leak.txt", "orders/", "%2e%2e/secret.txt"):
            status, _, body = fetch(f"{base}/static/{hostile}")
            assert status == 404, hostile
            assert json.loads(body)["code"] == "NOT_FOUND"
        # The admin keeps serving its own assets at its own URL; its static/ folder is
        # also found at STATIC_URL, as Django's admin files are.
        assert fetch(f"{base}/admin/static/admin.css")[0] == 200
        assert fetch(f"{base}/static/admin/admin.css")[0] == 200


def test_serve_serves_static_root_only_when_set(project: Path, tmp_path: Path) -> None:
    with serve_project(project, "serve") as (base, _):
        assert fetch(f"{base}/static/orders/site.css")[0] == 404
    root = tmp_path / "collected"
    assert manage(project, "collectstatic", "--noinput", STATIC_ROOT=str(root)).returncode == 0
    with serve_project(project, "serve", env={"STATIC_ROOT": str(root)}) as (base, _):
        status, headers, body = fetch(f"{base}/static/orders/site.css")
        assert (status, body.decode()) == (200, CSS)
        assert headers["referrer-policy"] == "same-origin"
