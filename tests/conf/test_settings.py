"""Settings: the base class, mixins, .env and environment precedence, the lazy proxy."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tempest.conf import (
    DEFAULT_MIDDLEWARE,
    ImproperlyConfigured,
    LazySettings,
    RedisSettings,
    Settings,
    load_settings_module,
    override_settings,
    settings,
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ["SERVER_PORT", "DEBUG", "TITLE", "INSTALLED_APPS", "DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def configured() -> Iterator[LazySettings]:
    proxy = LazySettings()
    proxy.configure(Settings())
    yield proxy


def test_defaults_cover_the_common_groups(workdir: Path) -> None:
    value = Settings()
    assert value.SERVER_HOST == "127.0.0.1"
    assert value.SERVER_PORT == 8000
    assert value.LOG_LEVEL == "INFO"
    assert value.DATABASE_URL.startswith("sqlite+aiosqlite://")
    assert value.CORS_ORIGINS == []
    assert value.DEBUG is False
    assert list(DEFAULT_MIDDLEWARE) == value.MIDDLEWARE
    assert value.INSTALLED_APPS == []


def test_dotenv_is_read_and_the_environment_wins(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env").write_text("SERVER_PORT=9001\nTITLE=From dotenv\n")
    assert Settings().SERVER_PORT == 9001
    monkeypatch.setenv("SERVER_PORT", "9002")
    value = Settings()
    assert value.SERVER_PORT == 9002
    assert value.TITLE == "From dotenv"


def test_lists_come_from_json_in_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSTALLED_APPS", '["orders", "billing"]')
    assert Settings().INSTALLED_APPS == ["orders", "billing"]


def test_settings_are_frozen(workdir: Path) -> None:
    value = Settings()
    with pytest.raises(ValueError, match="frozen"):
        value.DEBUG = True  # type: ignore[misc]


def test_mixins_keep_the_spec_env_var_names(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Composed(RedisSettings, Settings):
        pass

    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/3")
    assert Composed().REDIS_URL == "redis://cache:6379/3"


def _write_module(workdir: Path, name: str, body: str) -> str:
    (workdir / f"{name}.py").write_text(textwrap.dedent(body))
    sys.modules.pop(name, None)
    return name


def test_load_settings_module(workdir: Path) -> None:
    name = _write_module(
        workdir,
        "good_settings",
        """
        from tempest.conf import Settings

        class ProjectSettings(Settings):
            TITLE: str = "Project"

        settings = ProjectSettings()
        """,
    )
    assert load_settings_module(name).TITLE == "Project"


def test_a_wrong_type_names_the_field_and_the_value(workdir: Path) -> None:
    (workdir / ".env").write_text("SERVER_PORT=eighty\n")
    name = _write_module(
        workdir,
        "typed_settings",
        """
        from tempest.conf import Settings

        settings = Settings()
        """,
    )
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings_module(name)
    message = str(error.value)
    assert "SERVER_PORT='eighty'" in message
    assert "\n" not in message


def test_a_module_without_settings(workdir: Path) -> None:
    name = _write_module(workdir, "empty_settings", "VALUE = 1\n")
    with pytest.raises(ImproperlyConfigured, match="must define `settings = <YourSettings>\\(\\)`"):
        load_settings_module(name)


def test_a_module_that_does_not_exist(workdir: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="no such module"):
        load_settings_module("nowhere.settings")


def test_an_import_error_inside_the_module_is_not_hidden(workdir: Path) -> None:
    name = _write_module(workdir, "broken_settings", "import not_installed_package\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_package"):
        load_settings_module(name)


def test_lazy_settings_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEMPEST_SETTINGS_MODULE", raising=False)
    proxy = LazySettings()
    with pytest.raises(ImproperlyConfigured, match="TEMPEST_SETTINGS_MODULE"):
        _ = proxy.DEBUG
    assert not proxy.configured


def test_lazy_settings_load_on_first_access(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _write_module(
        workdir,
        "lazy_settings",
        """
        from tempest.conf import Settings

        settings = Settings(TITLE="Lazy")
        """,
    )
    monkeypatch.setenv("TEMPEST_SETTINGS_MODULE", name)
    proxy = LazySettings()
    assert not proxy.configured
    assert proxy.TITLE == "Lazy"
    assert proxy.configured
    with pytest.raises(AttributeError, match="read-only"):
        proxy.TITLE = "Changed"


def test_override_settings_as_context_manager(workdir: Path) -> None:
    proxy = settings  # the real proxy, configured for the duration of the test
    original = Settings()
    proxy.configure(original)  # type: ignore[attr-defined]
    try:
        with override_settings(DEBUG=True, TITLE="Overridden"):
            assert settings.DEBUG is True
            assert settings.TITLE == "Overridden"
        assert settings.DEBUG is False
        assert settings.TITLE == original.TITLE
    finally:
        proxy.reset()  # type: ignore[attr-defined]


def test_override_settings_as_decorator_sync_and_async(workdir: Path) -> None:
    import asyncio

    settings.configure(Settings())  # type: ignore[attr-defined]
    try:

        @override_settings(TITLE="Sync")
        def read_sync() -> str:
            return settings.TITLE

        @override_settings(TITLE="Async")
        async def read_async() -> str:
            await asyncio.sleep(0)
            return settings.TITLE

        assert read_sync() == "Sync"
        assert asyncio.run(read_async()) == "Async"
        assert settings.TITLE == "tempest"
    finally:
        settings.reset()  # type: ignore[attr-defined]


def test_override_settings_validates(workdir: Path) -> None:
    settings.configure(Settings())  # type: ignore[attr-defined]
    try:
        with (
            pytest.raises(ImproperlyConfigured, match="SERVER_PORT"),
            override_settings(SERVER_PORT="not a port"),
        ):
            pass
        with (
            pytest.raises(ImproperlyConfigured, match="unknown setting"),
            override_settings(NOT_A_SETTING=1),
        ):
            pass
        assert settings.SERVER_PORT == 8000
    finally:
        settings.reset()  # type: ignore[attr-defined]


def test_mixins_compose_in_any_order(workdir: Path) -> None:
    (workdir / ".env").write_text(
        "SERVER_PORT=9005\nREDIS_URL=redis://cache:6379/2\nSOMETHING_ELSE=ignored\n"
    )

    class MixinsLast(Settings, RedisSettings):
        pass

    class MixinsFirst(RedisSettings, Settings):
        pass

    for cls in (MixinsLast, MixinsFirst):
        value = cls()
        assert value.SERVER_PORT == 9005
        assert value.REDIS_URL == "redis://cache:6379/2"
        assert value.REDIS_DECODE_RESPONSES is True


def test_redis_url_is_unset_by_default_so_shared_state_stays_in_memory(workdir: Path) -> None:
    from tempest.conf import shared_state_url

    assert Settings().REDIS_URL is None
    assert shared_state_url(Settings()) == "memory://"
    with_redis = Settings(REDIS_URL="redis://cache:6379/0")
    assert shared_state_url(with_redis) == "redis://cache:6379/0"
    assert shared_state_url(with_redis, "redis://other:6379/1") == "redis://other:6379/1"


def test_log_level_is_validated_and_normalized(workdir: Path) -> None:
    assert Settings(LOG_LEVEL="debug").LOG_LEVEL == "DEBUG"
    with pytest.raises(ValueError, match="must be one of DEBUG, INFO"):
        Settings(LOG_LEVEL="LOUD")


def test_a_list_that_is_not_json_says_so(workdir: Path) -> None:
    (workdir / ".env").write_text("CORS_ORIGINS=https://shop.example\n")
    name = _write_module(
        workdir, "list_settings", "from tempest.conf import Settings\nsettings = Settings()\n"
    )
    with pytest.raises(ImproperlyConfigured, match=r"CORS_ORIGINS.*are JSON"):
        load_settings_module(name)


def test_override_settings_error_points_at_the_call(workdir: Path) -> None:
    settings.configure(Settings())  # type: ignore[attr-defined]
    try:
        with (
            pytest.raises(ImproperlyConfigured, match="values passed to override_settings"),
            override_settings(DEBUG="maybe"),
        ):
            pass
    finally:
        settings.reset()  # type: ignore[attr-defined]
