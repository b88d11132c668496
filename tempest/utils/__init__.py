"""Small helpers shared across tempest.

This package stays light: importing it never imports pydantic, SQLAlchemy or FastAPI.
"""

from tempest.utils.dicts import modify_dict
from tempest.utils.timezone import to_utc, utcnow

__all__ = ["modify_dict", "to_utc", "utcnow"]
