"""The app registry: populate, configs, models, and every way an app can be broken."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tempest.apps import AppConfig, Apps
from tempest.conf import ImproperlyConfigured

MakeApp = Callable[..., str]


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeApp:
    """Write an app package with the given modules; return its (unique) name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def make(prefix: str = "app", **modules: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        package = tmp_path / name
        package.mkdir()
        (package / "__init__.py").write_text("")
        for module, source in modules.items():
            path = package / f"{module.replace('.', '/')}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source).replace("TABLE", f"t_{name}"))
        return name

    return make


MODELS = """
from sqlalchemy.orm import Mapped, mapped_column
from tempest.db import BaseModel

class ThingModel(BaseModel):
    __tablename__ = "TABLE"
    name: Mapped[str] = mapped_column()
"""


def test_populate_builds_configs_in_order(make_app: MakeApp) -> None:
    first, second = make_app("first"), make_app("second")
    registry = Apps()
    registry.populate([first, second])
    assert [config.name for config in registry.get_app_configs()] == [first, second]
    config = registry.get_app_config(first)
    assert config.label == first
    assert config.api_prefix == f"/api/{first}"
    assert config.verbose_name == first.replace("_", " ").title()
    assert config.path.name == first


def test_populate_twice_is_a_no_op(make_app: MakeApp) -> None:
    name = make_app()
    registry = Apps()
    registry.populate([name])
    registry.populate(["does.not.exist"])
    assert [config.name for config in registry.get_app_configs()] == [name]


def test_app_config_from_apps_py(make_app: MakeApp) -> None:
    name = make_app(
        apps="""
        from tempest.apps import AppConfig

        class ShopConfig(AppConfig):
            label = "shop"
            verbose_name = "The shop"
            api_prefix = "/api/v2/shop"
            ready_called = False

            def ready(self) -> None:
                type(self).ready_called = True
        """
    )
    registry = Apps()
    registry.populate([name])
    config = registry.get_app_config("shop")
    assert type(config).__name__ == "ShopConfig"
    assert config.verbose_name == "The shop"
    assert config.api_prefix == "/api/v2/shop"
    assert type(config).ready_called is True  # type: ignore[attr-defined]


def test_several_configs_need_a_default(make_app: MakeApp) -> None:
    source = """
    from tempest.apps import AppConfig

    class One(AppConfig):
        pass

    class Two(AppConfig):
        {marker}
    """
    ambiguous = make_app(apps=source.format(marker="pass"))
    with pytest.raises(ImproperlyConfigured, match="default = True"):
        Apps().populate([ambiguous])
    chosen = make_app(apps=source.format(marker="default = True"))
    registry = Apps()
    registry.populate([chosen])
    assert type(registry.get_app_configs()[0]).__name__ == "Two"


def test_models_are_known_per_app(make_app: MakeApp) -> None:
    with_models, without = make_app(models=MODELS), make_app()
    registry = Apps()
    registry.populate([with_models, without])
    models = registry.get_models(with_models)
    assert [model.__name__ for model in models] == ["ThingModel"]
    assert registry.get_models(without) == []
    assert models[0] in registry.get_models()


def test_unknown_app_suggests_a_local_package(make_app: MakeApp) -> None:
    name = make_app()
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(ImproperlyConfigured) as error:
        Apps().populate([typo])
    assert f"no app named {typo!r}" in str(error.value)
    assert f"Did you mean {name!r}?" in str(error.value)


def test_duplicate_labels(make_app: MakeApp) -> None:
    first = make_app("dup")
    second = make_app(
        "other",
        apps=f"""
        from tempest.apps import AppConfig

        class Clash(AppConfig):
            label = "{first}"
        """,
    )
    with pytest.raises(ImproperlyConfigured, match="App labels must be unique"):
        Apps().populate([first, second])


def test_listed_twice(make_app: MakeApp) -> None:
    name = make_app()
    with pytest.raises(ImproperlyConfigured, match="twice"):
        Apps().populate([name, name])


def test_a_failed_populate_leaves_an_empty_registry_and_fails_again(make_app: MakeApp) -> None:
    good, broken = make_app(), make_app(models="raise RuntimeError('boom')\n")
    registry = Apps()
    for _ in range(2):
        with pytest.raises(ImproperlyConfigured) as error:
            registry.populate([good, broken])
        assert f"importing {broken}.models failed: RuntimeError: boom" in str(error.value)
        assert registry.app_configs == {}
        assert not registry.ready
    with pytest.raises(ImproperlyConfigured, match="Apps aren't loaded yet"):
        registry.get_app_configs()


def test_unknown_label_suggests_the_closest(make_app: MakeApp) -> None:
    name = make_app()
    registry = Apps()
    registry.populate([name])
    with pytest.raises(LookupError, match=f"Did you mean {name!r}"):
        registry.get_app_config(name + "s")


def test_other_modules_are_imported_on_demand(make_app: MakeApp) -> None:
    name = make_app(routers="raise RuntimeError('routers are imported lazily')\n", seeds="X = 1\n")
    registry = Apps()
    registry.populate([name])  # routers.py is not imported here
    config = registry.get_app_config(name)
    assert config.has_module("routers")
    assert not config.has_module("tasks")
    assert config.import_module("tasks") is None
    seeds = config.import_module("seeds")
    assert seeds is not None and seeds.X == 1
    with pytest.raises(ImproperlyConfigured, match="routers are imported lazily"):
        config.import_module("routers")


def test_checks_module_is_imported_by_populate(make_app: MakeApp) -> None:
    name = make_app(checks="import builtins\nbuiltins.CHECKS_IMPORTED = True\n")
    Apps().populate([name])
    import builtins

    assert getattr(builtins, "CHECKS_IMPORTED", False) is True
    del builtins.CHECKS_IMPORTED  # type: ignore[attr-defined]


def test_app_config_needs_a_valid_label(make_app: MakeApp) -> None:
    name = make_app(
        apps="""
        from tempest.apps import AppConfig

        class Bad(AppConfig):
            label = "not-valid"
        """
    )
    with pytest.raises(ImproperlyConfigured, match="not a valid Python identifier"):
        Apps().populate([name])


def test_app_config_paths(make_app: MakeApp) -> None:
    name = make_app()
    registry = Apps()
    registry.populate([name])
    config: AppConfig = registry.get_app_config(name)
    assert config.migrations_path == config.path / "migrations"
    assert config.commands_path == config.path / "management" / "commands"


def test_import_app_modules_collects_one_module_of_every_app(make_app: MakeApp) -> None:
    with_tasks = make_app(tasks="NAME = 'first'\n")
    without = make_app()
    also = make_app(**{"tasks.__init__": "NAME = 'package'\n"})
    registry = Apps()
    registry.populate([with_tasks, without, also])
    found = registry.import_app_modules("tasks")
    assert [(config.name, module.NAME) for config, module in found] == [
        (with_tasks, "first"),
        (also, "package"),
    ]
