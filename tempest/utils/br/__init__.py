"""Brazilian helpers: CPF, CNPJ, phone and CEP validation, states and municipalities.

Every name is also importable from ``tempest.utils`` and ``tempest``. Importing this
package loads nothing (PEP 562): the documents' modules on first use, the municipality
list on the first city lookup. See docs/topics/brazil.md.
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "CNPJ": "tempest.utils.br.documents",
    "CNPJ_PATTERN": "tempest.utils.br.documents",
    "CPF": "tempest.utils.br.documents",
    "CPFOrCNPJ": "tempest.utils.br.documents",
    "CPF_CNPJ_PATTERN": "tempest.utils.br.documents",
    "CPF_PATTERN": "tempest.utils.br.documents",
    "is_valid_cnpj": "tempest.utils.br.documents",
    "is_valid_cpf": "tempest.utils.br.documents",
    "is_valid_cpf_cnpj": "tempest.utils.br.documents",
    "normalize_cnpj": "tempest.utils.br.documents",
    "normalize_cpf": "tempest.utils.br.documents",
    "normalize_cpf_cnpj": "tempest.utils.br.documents",
    "only_digits": "tempest.utils.br.documents",
    "PHONE_BR_PATTERN": "tempest.utils.br.phone",
    "PhoneBR": "tempest.utils.br.phone",
    "is_valid_phone_br": "tempest.utils.br.phone",
    "normalize_phone_br": "tempest.utils.br.phone",
    "CEP": "tempest.utils.br.cep",
    "CEP_PATTERN": "tempest.utils.br.cep",
    "is_valid_cep": "tempest.utils.br.cep",
    "normalize_cep": "tempest.utils.br.cep",
    "UF": "tempest.utils.br.states",
    "Region": "tempest.utils.br.states",
    "StateBR": "tempest.utils.br.states",
    "UFField": "tempest.utils.br.states",
    "get_state": "tempest.utils.br.states",
    "is_valid_uf": "tempest.utils.br.states",
    "list_states": "tempest.utils.br.states",
    "normalize_uf": "tempest.utils.br.states",
    "states_by_region": "tempest.utils.br.states",
    "CityBR": "tempest.utils.br.cities",
    "CityNameField": "tempest.utils.br.cities",
    "cities_by_uf": "tempest.utils.br.cities",
    "find_city": "tempest.utils.br.cities",
    "get_city": "tempest.utils.br.cities",
    "is_valid_city": "tempest.utils.br.cities",
    "normalize_city": "tempest.utils.br.cities",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.utils.br.cep import (
        CEP as CEP,
        CEP_PATTERN as CEP_PATTERN,
        is_valid_cep as is_valid_cep,
        normalize_cep as normalize_cep,
    )
    from tempest.utils.br.cities import (
        CityBR as CityBR,
        CityNameField as CityNameField,
        cities_by_uf as cities_by_uf,
        find_city as find_city,
        get_city as get_city,
        is_valid_city as is_valid_city,
        normalize_city as normalize_city,
    )
    from tempest.utils.br.documents import (
        CNPJ as CNPJ,
        CNPJ_PATTERN as CNPJ_PATTERN,
        CPF as CPF,
        CPF_CNPJ_PATTERN as CPF_CNPJ_PATTERN,
        CPF_PATTERN as CPF_PATTERN,
        CPFOrCNPJ as CPFOrCNPJ,
        is_valid_cnpj as is_valid_cnpj,
        is_valid_cpf as is_valid_cpf,
        is_valid_cpf_cnpj as is_valid_cpf_cnpj,
        normalize_cnpj as normalize_cnpj,
        normalize_cpf as normalize_cpf,
        normalize_cpf_cnpj as normalize_cpf_cnpj,
        only_digits as only_digits,
    )
    from tempest.utils.br.phone import (
        PHONE_BR_PATTERN as PHONE_BR_PATTERN,
        PhoneBR as PhoneBR,
        is_valid_phone_br as is_valid_phone_br,
        normalize_phone_br as normalize_phone_br,
    )
    from tempest.utils.br.states import (
        UF as UF,
        Region as Region,
        StateBR as StateBR,
        UFField as UFField,
        get_state as get_state,
        is_valid_uf as is_valid_uf,
        list_states as list_states,
        normalize_uf as normalize_uf,
        states_by_region as states_by_region,
    )
