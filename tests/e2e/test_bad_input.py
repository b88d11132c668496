"""Bad input: each exits non-zero with one line that says what to fix, and writes nothing."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import free_port, manage, one_line_error, tempest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Bad-Name", "not a valid project name"),
        ("2shop", "not a valid project name"),
        ("class", "Python keyword"),
        ("match", "Python keyword"),
        ("test", "existing Python module"),
        ("tempest", "existing Python module"),
    ],
)
def test_startproject_refuses_bad_names(tmp_path: Path, name: str, reason: str) -> None:
    result = tempest(tmp_path, "startproject", name)
    assert result.returncode == 2
    assert reason in one_line_error(result)
    assert list(tmp_path.iterdir()) == []


def test_startproject_refuses_a_non_empty_target(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "notes.txt").write_text("mine")
    result = tempest(tmp_path, "startproject", "shop")
    assert "already exists" in one_line_error(result)
    assert [path.name for path in (tmp_path / "shop").iterdir()] == ["notes.txt"]


def test_startproject_into_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    result = tempest(tmp_path, "startproject", "shop", "here")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "here" / "shop" / "settings.py").is_file()


@pytest.mark.parametrize(
    ("name", "reason"), [("my-app", "not a valid app name"), ("def", "keyword")]
)
def test_startapp_refuses_bad_names(
    new_project: Callable[..., Path], name: str, reason: str
) -> None:
    project = new_project()
    before = sorted(path.name for path in project.iterdir())
    result = manage(project, "startapp", name)
    assert result.returncode == 2
    assert reason in one_line_error(result)
    assert sorted(path.name for path in project.iterdir()) == before


def test_startapp_refuses_an_existing_directory(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    settings_before = (project / "mysite" / "settings.py").read_text()
    result = manage(project, "startapp", "orders")
    assert "already exists" in one_line_error(result)
    assert (project / "mysite" / "settings.py").read_text() == settings_before


def test_startapp_prints_the_line_when_settings_were_rewritten(
    new_project: Callable[..., Path],
) -> None:
    project = new_project()
    settings_file = project / "mysite" / "settings.py"
    original = settings_file.read_text()
    start = original.index("    INSTALLED_APPS: list[str] = [")
    end = original.index("\n    ]", start) + len("\n    ]")
    source = original[:start] + "    INSTALLED_APPS: list[str] = BASE_APPS + []" + original[end:]
    settings_file.write_text("BASE_APPS: list[str] = []\n" + source)
    result = manage(project, "startapp", "blog")
    assert result.returncode == 0, result.stderr
    assert 'Add "blog", to INSTALLED_APPS' in result.stdout
    assert settings_file.read_text() == "BASE_APPS: list[str] = []\n" + source


def test_unknown_command_suggests_the_closest(shared_project: Path) -> None:
    result = manage(shared_project, "chek")
    assert result.returncode == 2
    assert "Unknown command 'chek'. Did you mean 'check'?" in one_line_error(result)


def test_unknown_option_is_one_line(shared_project: Path) -> None:
    result = manage(shared_project, "check", "--nope")
    assert result.returncode == 2
    assert "No such option '--nope'" in one_line_error(result)


def test_bad_verbosity(shared_project: Path) -> None:
    result = manage(shared_project, "check", "-v", "7")
    assert result.returncode == 2
    assert "Verbosity must be 0, 1, 2 or 3" in one_line_error(result)


def test_unknown_app_in_installed_apps(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    result = manage(project, "check", INSTALLED_APPS='["ordrs"]')
    line = one_line_error(result)
    assert "no app named 'ordrs'" in line
    assert "Did you mean 'orders'?" in line


def test_settings_module_pointing_nowhere(shared_project: Path) -> None:
    result = manage(shared_project, "check", TEMPEST_SETTINGS_MODULE="shop.nowhere")
    assert "TEMPEST_SETTINGS_MODULE='shop.nowhere': no such module" in one_line_error(result)
    flag = manage(shared_project, "check", "--settings", "nope.settings")
    assert "'nope.settings': no such module" in one_line_error(flag)


def test_wrong_type_in_dotenv(new_project: Callable[..., Path]) -> None:
    project = new_project()
    env = project / ".env"
    env.write_text(env.read_text() + "SERVER_PORT=eighty\n")
    line = one_line_error(manage(project, "check"))
    assert "SERVER_PORT='eighty'" in line
    assert "valid integer" in line


def test_app_whose_models_raise(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    models = project / "orders" / "models.py"
    models.write_text(models.read_text() + "\n1 / 0\n")
    line = one_line_error(manage(project, "check"))
    assert "App 'orders': importing orders.models failed: ZeroDivisionError" in line
    traced = manage(project, "check", "--traceback")
    assert "Traceback" in traced.stderr and "ZeroDivisionError" in traced.stderr


def test_two_models_with_one_table_name(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders", "billing")
    models = project / "billing" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\nclass Order(BaseModel):\n    total: Mapped[int] = mapped_column()\n"
    )
    line = one_line_error(manage(project, "check"))
    assert "orders.models.OrderModel" in line and "billing.models.Order" in line
    assert "'order'" in line


def test_a_router_that_fails_to_import_is_a_check_error(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    routers = project / "orders" / "routers.py"
    routers.write_text("import does_not_exist\n" + routers.read_text())
    result = manage(project, "check")
    assert result.returncode == 1
    assert "(tempest.E010)" in result.stderr and "does_not_exist" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: System check found 1")


def test_runserver_on_a_port_in_use(shared_project: Path) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = manage(
            shared_project, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"
        )
    assert f"Port {port} on 127.0.0.1 is already in use" in one_line_error(result)


@pytest.mark.parametrize("addrport", ["127.0.0.1:http", "127.0.0.1:70000", "[::1"])
def test_runserver_bad_addrport(shared_project: Path, addrport: str) -> None:
    result = manage(shared_project, "runserver", addrport, "--noreload")
    assert result.returncode == 2
    one_line_error(result)


def test_a_global_option_without_its_value(shared_project: Path) -> None:
    result = manage(shared_project, "check", "--settings")
    assert result.returncode == 2
    assert one_line_error(result) == "Error: Option --settings needs a value."


def test_routes_of_an_unknown_app(shared_project: Path) -> None:
    result = manage(shared_project, "routes", "--app", "ordrs")
    assert "Did you mean 'orders'?" in one_line_error(result)
