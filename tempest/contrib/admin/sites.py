"""AdminSite: the registry of the models the admin manages, and the project's ``site``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any, TypeVar

from tempest.contrib.admin.options import AdminModel
from tempest.contrib.admin.theme import AdminTheme

__all__ = ["AdminSite", "register", "site"]

_Decorated = TypeVar("_Decorated", bound=type)
_OPTION_NAMES = frozenset(item.name for item in fields(AdminModel) if item.init) - {"model"}


class AdminSite:
    """The models an admin shows, with the site's title and theme.

    Attributes:
        title: Shown in the header and the page titles.
        index_subtitle: Shown above the dashboard.
        site_url: Where the header's "View site" link goes; no link when None.
        theme: Colour and font overrides.
    """

    def __init__(
        self,
        title: str = "Administration",
        index_subtitle: str = "Site administration",
        site_url: str | None = None,
        theme: AdminTheme | None = None,
    ) -> None:
        """Make an empty site; :meth:`register` adds models."""
        self.title = title
        self.index_subtitle = index_subtitle
        self.site_url = site_url
        self.theme = theme or AdminTheme()
        self._models: dict[str, AdminModel] = {}

    def register(self, admin_model: AdminModel | type[Any]) -> AdminModel:
        """Add a model to the site.

        Args:
            admin_model: An :class:`AdminModel`, or a model class for the defaults.

        Returns:
            The registered :class:`AdminModel`.

        Raises:
            ValueError: Another model is registered under the same slug.
        """
        if not isinstance(admin_model, AdminModel):
            admin_model = AdminModel(model=admin_model)
        existing = self._models.get(admin_model.slug)
        if existing is not None and _qualified(existing.model) != _qualified(admin_model.model):
            raise ValueError(
                f"Admin slug {admin_model.slug!r} is already used by "
                f"{_qualified(existing.model)}; pass slug=... to register "
                f"{_qualified(admin_model.model)}."
            )
        # The same class again (its module was imported anew) replaces the old entry.
        self._models[admin_model.slug] = admin_model
        return admin_model

    def unregister(self, model: type[Any]) -> None:
        """Remove a model from the site.

        Raises:
            KeyError: The model is not registered.
        """
        for slug, admin_model in list(self._models.items()):
            if admin_model.model is model:
                del self._models[slug]
                return
        raise KeyError(f"{model.__name__} is not registered on this admin site")

    def get(self, slug: str) -> AdminModel | None:
        """The registration under ``slug``, if any."""
        return self._models.get(slug)

    def for_model(self, model: type[Any]) -> AdminModel | None:
        """The registration of ``model``, if any."""
        return next((item for item in self._models.values() if item.model is model), None)

    def copy(self, keep: Callable[[AdminModel], bool] = lambda _: True) -> AdminSite:
        """A site with the same title and theme and the registrations ``keep`` accepts."""
        other = AdminSite(self.title, self.index_subtitle, self.site_url, self.theme)
        other._models = {slug: item for slug, item in self._models.items() if keep(item)}
        return other

    def __iter__(self) -> Iterator[AdminModel]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)


site = AdminSite()
"""The project's admin site: each app's ``admin.py`` registers its models here."""


def register(model: type[Any], *, site: AdminSite = site) -> Callable[[_Decorated], _Decorated]:
    """Register ``model`` with the options written as class attributes, Django style.

    ::

        @register(OrderModel)
        class OrderAdmin:
            list_display = ["name", "total", "created_at"]
            search_fields = ["name"]

    Args:
        model: The model to register.
        site: The site to register on; the project's :data:`site` by default.

    Returns:
        A class decorator that registers and returns the class unchanged.

    Raises:
        TypeError: The class has an attribute that is not an :class:`AdminModel` option.
    """

    def decorate(options: _Decorated) -> _Decorated:
        given = {name: value for name, value in vars(options).items() if not name.startswith("_")}
        unknown = sorted(set(given) - _OPTION_NAMES)
        if unknown:
            raise TypeError(
                f"{options.__name__}: {', '.join(unknown)} not AdminModel options; options: "
                f"{', '.join(sorted(_OPTION_NAMES))}."
            )
        site.register(AdminModel(model=model, **given))
        return options

    return decorate


def _qualified(model: type[Any]) -> str:
    return f"{model.__module__}.{model.__qualname__}"
