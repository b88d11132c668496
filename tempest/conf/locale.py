"""The language settings: :class:`LocaleSettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings

__all__ = ["LocaleSettings"]


class LocaleSettings(BaseAppSettings):
    """The language of error messages for clients whose languages are all unknown."""

    LANGUAGE_CODE: str = Field(
        default="en-US",
        description="The locale of error messages (the envelope's detail) when the "
        "request's Accept-Language names no language of the message catalog, e.g. 'pt-BR'.",
    )

    @field_validator("LANGUAGE_CODE")
    @classmethod
    def _locale_tag(cls, value: str) -> str:
        from tempest.exceptions.catalog import canonical_locale

        try:
            return canonical_locale(value)
        except ValueError:
            raise ValueError(
                f"LANGUAGE_CODE must be a locale tag such as 'en-US' or 'pt-BR', not {value!r}"
            ) from None
