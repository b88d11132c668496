"""Per-class upper bounds for integer query fields (``page_size``, ``limit``)."""

from __future__ import annotations

from copy import copy

from annotated_types import Le
from pydantic import BaseModel

from tempest.exceptions.framework import ImproperlyConfigured

__all__ = ["apply_upper_bound"]


def apply_upper_bound(model: type[BaseModel], field_name: str, setting: str) -> None:
    """Make the class variable ``setting`` the upper bound of ``model.<field_name>``.

    The bound becomes a real field constraint (not a validator), so it is enforced and
    documented alike by direct construction, by FastAPI's ``Depends()`` (which reads
    the model's signature) and by ``Annotated[Model, Query()]`` (which validates the
    model). The model is rebuilt only when the bound actually changes.

    Args:
        model: A freshly created subclass.
        field_name: The integer field to bound.
        setting: Name of the class variable holding the bound.

    Raises:
        ImproperlyConfigured: The bound is not a positive integer, or is below the
            field's default.
    """
    maximum = getattr(model, setting)
    if not isinstance(maximum, int) or isinstance(maximum, bool) or maximum < 1:
        raise ImproperlyConfigured(
            f"{model.__name__}.{setting} must be a positive integer, got {maximum!r}."
        )
    field = model.model_fields[field_name]
    if isinstance(field.default, int) and field.default > maximum:
        raise ImproperlyConfigured(
            f"{model.__name__}.{field_name} defaults to {field.default}, above "
            f"{setting}={maximum}; lower the default or raise {setting}."
        )
    metadata = [*(item for item in field.metadata if not isinstance(item, Le)), Le(maximum)]
    if metadata == field.metadata:
        return
    bounded = copy(field)
    bounded.metadata = metadata
    # A forced rebuild reuses the stored FieldInfo objects, so replacing this one
    # regenerates the validator, the JSON schema and the signature from it.
    model.__pydantic_fields__[field_name] = bounded
    model.model_rebuild(force=True)
