"""The 27 federative units of Brazil (26 states and the Federal District) and its 5 regions.

The table is small and lives here, with each state's IBGE code (the first two digits of
its municipalities' codes), its region and its capital. The municipalities are in
:mod:`tempest.utils.br.cities`, loaded on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator

from tempest.utils.br._fields import field_check
from tempest.utils.br._text import fold
from tempest.utils.enums import BaseStrEnum

__all__ = [
    "UF",
    "Region",
    "StateBR",
    "UFField",
    "get_state",
    "is_valid_uf",
    "list_states",
    "normalize_uf",
    "states_by_region",
]


class Region(BaseStrEnum):
    """The five IBGE regions; the value is the region's Portuguese name."""

    NORTH = "Norte"
    NORTHEAST = "Nordeste"
    SOUTHEAST = "Sudeste"
    SOUTH = "Sul"
    CENTER_WEST = "Centro-Oeste"

    @property
    def label(self) -> str:
        """The region's name (``"Centro-Oeste"``)."""
        return self.value


class UF(BaseStrEnum):
    """A federative unit's two-letter code (``UF.SP == "SP"``); ``label`` is its name."""

    AC = "AC"
    AL = "AL"
    AM = "AM"
    AP = "AP"
    BA = "BA"
    CE = "CE"
    DF = "DF"
    ES = "ES"
    GO = "GO"
    MA = "MA"
    MG = "MG"
    MS = "MS"
    MT = "MT"
    PA = "PA"
    PB = "PB"
    PE = "PE"
    PI = "PI"
    PR = "PR"
    RJ = "RJ"
    RN = "RN"
    RO = "RO"
    RR = "RR"
    RS = "RS"
    SC = "SC"
    SE = "SE"
    SP = "SP"
    TO = "TO"

    @property
    def label(self) -> str:
        """The state's name (``"São Paulo"``)."""
        return _BY_UF[self].name

    @property
    def state(self) -> StateBR:
        """The :class:`StateBR` of this code."""
        return _BY_UF[self]


@dataclass(frozen=True, slots=True)
class StateBR:
    """A federative unit.

    Attributes:
        uf: The two-letter code.
        name: The official name, with accents.
        ibge_code: The IBGE code (``35`` for São Paulo).
        region: The IBGE region.
        capital: The capital's name, as in the municipality list.
    """

    uf: UF
    name: str
    ibge_code: int
    region: Region
    capital: str


# The IBGE code's first digit is the region's code.
_REGIONS = {
    1: Region.NORTH,
    2: Region.NORTHEAST,
    3: Region.SOUTHEAST,
    4: Region.SOUTH,
    5: Region.CENTER_WEST,
}

_TABLE: tuple[tuple[UF, int, str, str], ...] = (
    (UF.AC, 12, "Acre", "Rio Branco"),
    (UF.AL, 27, "Alagoas", "Maceió"),
    (UF.AM, 13, "Amazonas", "Manaus"),
    (UF.AP, 16, "Amapá", "Macapá"),
    (UF.BA, 29, "Bahia", "Salvador"),
    (UF.CE, 23, "Ceará", "Fortaleza"),
    (UF.DF, 53, "Distrito Federal", "Brasília"),
    (UF.ES, 32, "Espírito Santo", "Vitória"),
    (UF.GO, 52, "Goiás", "Goiânia"),
    (UF.MA, 21, "Maranhão", "São Luís"),
    (UF.MG, 31, "Minas Gerais", "Belo Horizonte"),
    (UF.MS, 50, "Mato Grosso do Sul", "Campo Grande"),
    (UF.MT, 51, "Mato Grosso", "Cuiabá"),
    (UF.PA, 15, "Pará", "Belém"),
    (UF.PB, 25, "Paraíba", "João Pessoa"),
    (UF.PE, 26, "Pernambuco", "Recife"),
    (UF.PI, 22, "Piauí", "Teresina"),
    (UF.PR, 41, "Paraná", "Curitiba"),
    (UF.RJ, 33, "Rio de Janeiro", "Rio de Janeiro"),
    (UF.RN, 24, "Rio Grande do Norte", "Natal"),
    (UF.RO, 11, "Rondônia", "Porto Velho"),
    (UF.RR, 14, "Roraima", "Boa Vista"),
    (UF.RS, 43, "Rio Grande do Sul", "Porto Alegre"),
    (UF.SC, 42, "Santa Catarina", "Florianópolis"),
    (UF.SE, 28, "Sergipe", "Aracaju"),
    (UF.SP, 35, "São Paulo", "São Paulo"),
    (UF.TO, 17, "Tocantins", "Palmas"),
)

_BY_UF: dict[UF, StateBR] = {
    uf: StateBR(uf, name, code, _REGIONS[code // 10], capital) for uf, code, name, capital in _TABLE
}
_BY_CODE: dict[int, StateBR] = {state.ibge_code: state for state in _BY_UF.values()}
_BY_KEY: dict[str, StateBR] = {
    **{fold(state.name): state for state in _BY_UF.values()},
    **{fold(state.uf): state for state in _BY_UF.values()},
}
_REGION_BY_KEY: dict[str, Region] = {fold(region.value): region for region in Region}


def get_state(value: str | int) -> StateBR | None:
    """Find a state by its code, its name or its IBGE code.

    Args:
        value: ``"SP"``, ``" sp "``, ``"São Paulo"``, ``"sao paulo"``, ``35`` or ``"35"``.

    Returns:
        The state, or None when nothing matches.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _BY_CODE.get(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _BY_CODE.get(int(text))
    return _BY_KEY.get(fold(text))


def list_states(region: Region | str | None = None) -> list[StateBR]:
    """The 27 federative units, by code, or those of one region.

    Args:
        region: A :class:`Region` or its name (``"Sudeste"``, ``"centro oeste"``).

    Returns:
        The states, ordered by their two-letter code.

    Raises:
        ValueError: ``region`` names no region.
    """
    if region is None:
        return list(_BY_UF.values())
    return states_by_region(region)


def states_by_region(region: Region | str) -> list[StateBR]:
    """The states of one IBGE region, ordered by their two-letter code.

    Args:
        region: A :class:`Region` or its name, case and accents ignored.

    Raises:
        ValueError: ``region`` names no region.
    """
    found = _REGION_BY_KEY.get(fold(region)) if isinstance(region, str) else None
    if found is None:
        raise ValueError(f"unknown region {region!r}; one of {', '.join(Region.values())}")
    return [state for state in _BY_UF.values() if state.region is found]


def normalize_uf(value: str) -> UF:
    """The two-letter code of a state given by its code or its name.

    Args:
        value: ``"sp"``, ``"SP"``, ``"São Paulo"``, ``"sao paulo"``.

    Returns:
        The :class:`UF` member (a ``str``: ``"SP"``).

    Raises:
        ValueError: ``value`` names no state.
    """
    state = get_state(value) if isinstance(value, str) else None
    if state is None or value.strip().isdigit():
        raise ValueError("not a Brazilian state (UF)")
    return state.uf


def is_valid_uf(value: str) -> bool:
    """Whether ``value`` names a state, by its two-letter code or its name."""
    try:
        normalize_uf(value)
    except ValueError:
        return False
    return True


def _uf_before(value: object) -> object:
    """Codes and names become the code; anything else is left to the enum's validation."""
    if isinstance(value, str):
        return _check_uf(value)
    return value


_check_uf = field_check(normalize_uf, "br_uf", "Not a Brazilian state (UF)")

UFField = Annotated[UF, BeforeValidator(_uf_before)]
"""A pydantic field type: a state's code or name, stored as its :class:`UF` code."""
