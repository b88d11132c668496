"""States and municipalities: the shipped IBGE list, lookups, field types, lazy loading."""

from __future__ import annotations

import subprocess
import threading
from typing import Self

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from tempest.utils import (
    UF,
    CityBR,
    CityNameField,
    Region,
    StateBR,
    UFField,
    cities_by_uf,
    find_city,
    get_city,
    get_state,
    is_valid_city,
    is_valid_uf,
    list_states,
    normalize_city,
    normalize_uf,
    states_by_region,
)
from tempest.utils.br import cities as cities_module
from tests.helpers import PYTHON, REPO, clean_env

# -- The data -------------------------------------------------------------------------------


def test_counts() -> None:
    states = list_states()
    assert len(states) == 27 == len(UF)
    assert sum(len(cities_by_uf(state.uf)) for state in states) == 5_570
    assert len(cities_by_uf("SP")) == 645
    assert len(cities_by_uf("MG")) == 853
    assert len(cities_by_uf("DF")) == 1
    per_region = {region: len(states_by_region(region)) for region in Region}
    assert per_region == {
        Region.NORTH: 7,
        Region.NORTHEAST: 9,
        Region.SOUTHEAST: 4,
        Region.SOUTH: 3,
        Region.CENTER_WEST: 4,
    }


@pytest.mark.parametrize(
    ("code", "name", "uf"),
    [
        (3550308, "São Paulo", UF.SP),
        (3304557, "Rio de Janeiro", UF.RJ),
        (5300108, "Brasília", UF.DF),
        (3106200, "Belo Horizonte", UF.MG),
        (2927408, "Salvador", UF.BA),
        (2304400, "Fortaleza", UF.CE),
        (4106902, "Curitiba", UF.PR),
        (1302603, "Manaus", UF.AM),
        (4314902, "Porto Alegre", UF.RS),
        (2611606, "Recife", UF.PE),
        (3509502, "Campinas", UF.SP),
    ],
)
def test_sample_of_ibge_codes_and_names(code: int, name: str, uf: UF) -> None:
    assert get_city(code) == CityBR(code, name, uf)
    assert get_city(str(code)) == CityBR(code, name, uf)
    assert find_city(name, uf) == CityBR(code, name, uf)


def test_codes_are_consistent_and_every_capital_is_listed() -> None:
    codes = set()
    for state in list_states():
        for city in cities_by_uf(state.uf):
            assert city.ibge_code // 100_000 == state.ibge_code, city
            assert city.state is state
            codes.add(city.ibge_code)
        capital = find_city(state.capital, state.uf)
        assert capital is not None, state
        assert capital.name == state.capital
    assert len(codes) == 5_570


def test_cities_are_ordered_by_name_ignoring_accents() -> None:
    names = [city.name for city in cities_by_uf("AC")]
    assert names[:3] == ["Acrelândia", "Assis Brasil", "Brasiléia"]
    assert names[-1] == "Xapuri"


# -- States ---------------------------------------------------------------------------------


def test_states() -> None:
    sp = get_state("SP")
    assert sp == StateBR(UF.SP, "São Paulo", 35, Region.SOUTHEAST, "São Paulo")
    assert get_state(" sp ") is sp
    assert get_state("sao paulo") is sp
    assert get_state("SÃO PAULO") is sp
    assert get_state(35) is sp
    assert get_state("35") is sp
    assert UF.SP.label == "São Paulo"
    assert UF.SP.state is sp
    assert Region.CENTER_WEST.label == "Centro-Oeste"
    assert [s.uf for s in states_by_region("centro oeste")] == ["DF", "GO", "MS", "MT"]
    assert list_states(Region.SOUTH) == states_by_region("Sul")
    for missing in ("XX", "", "São", 99, True, None):
        assert get_state(missing) is None  # type: ignore[arg-type]


def test_normalize_uf() -> None:
    assert normalize_uf("sp") == "SP"
    assert normalize_uf("sp") is UF.SP
    assert normalize_uf("Espírito Santo") is UF.ES
    assert normalize_uf("espirito santo") is UF.ES
    for bad in ("XX", "S", "SPP", "35", "", "Atlantis"):
        assert not is_valid_uf(bad), bad
        with pytest.raises(ValueError, match="not a Brazilian state"):
            normalize_uf(bad)
    assert not is_valid_uf(35)  # type: ignore[arg-type]


def test_unknown_region() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        states_by_region("Leste")


# -- Cities ---------------------------------------------------------------------------------


def test_city_matching_ignores_case_accents_apostrophes_and_hyphens() -> None:
    for spelling in ("São Paulo", "sao paulo", "SAO PAULO", "  São   Paulo ", "SÃO PAULO"):
        assert normalize_city(spelling, "SP") == "São Paulo", spelling
    assert normalize_city("pingo d\u2019agua", "MG") == "Pingo-d'Água"
    assert normalize_city("PINGO-D'AGUA") == "Pingo-d'Água"
    assert normalize_city("santa barbara d'oeste", "SP") == "Santa Bárbara d'Oeste"
    assert normalize_city("Mogi-Guaçu") == normalize_city("mogi guacu")


def test_city_of_another_state() -> None:
    assert is_valid_city("Campinas")
    assert is_valid_city("Campinas", "SP")
    assert not is_valid_city("Campinas", "RJ")
    with pytest.raises(ValueError, match="not a municipality of the state RJ"):
        normalize_city("Campinas", "RJ")
    assert find_city("Campinas", "RJ") is None


def test_a_name_several_states_share() -> None:
    shared = [city for city in cities_module._places().by_key["bom jesus"]]
    assert len({city.uf for city in shared}) >= 4
    assert find_city("Bom Jesus") == min(shared, key=lambda city: city.ibge_code)
    pi = find_city("bom jesus", "PI")
    assert pi is not None and pi.uf is UF.PI


def test_unknown_cities_and_states() -> None:
    for bad in ("Gotham", "", "São Paulo do Norte", "SP"):
        assert not is_valid_city(bad), bad
    assert not is_valid_city("São Paulo", "XX")  # unknown state: not valid, no error
    with pytest.raises(ValueError, match="not a Brazilian state"):
        normalize_city("São Paulo", "XX")
    assert get_city(1) is None
    assert get_city("3550308x") is None
    assert get_city(True) is None
    assert not is_valid_city(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a Brazilian state"):
        cities_by_uf("XX")


# -- Field types ----------------------------------------------------------------------------


class Address(BaseModel):
    uf: UFField
    city: CityNameField

    @model_validator(mode="after")
    def city_in_state(self) -> Self:
        if not is_valid_city(self.city, self.uf):
            raise ValueError(f"{self.city} is not a municipality of {self.uf}")
        return self


def test_fields_normalize() -> None:
    address = Address(uf="são paulo", city="SAO PAULO")
    assert address.uf is UF.SP
    assert address.city == "São Paulo"
    assert address.model_dump(mode="json") == {"uf": "SP", "city": "São Paulo"}
    assert Address(uf=UF.RJ, city="rio de janeiro").city == "Rio de Janeiro"
    schema = Address.model_json_schema()
    assert len(schema["$defs"]["UF"]["enum"]) == 27


def test_fields_refuse_bad_input_cleanly() -> None:
    with pytest.raises(ValidationError) as caught:
        Address(uf="XX", city="Gotham")
    assert {(e["loc"][0], e["type"]) for e in caught.value.errors()} == {
        ("uf", "br_uf"),
        ("city", "br_city"),
    }
    with pytest.raises(ValidationError) as caught:
        Address(uf=35, city="Campinas")
    assert caught.value.errors()[0]["loc"] == ("uf",)


def test_the_model_refuses_a_city_of_another_state() -> None:
    with pytest.raises(ValidationError, match="Campinas is not a municipality of RJ"):
        Address(uf="RJ", city="campinas")


# -- Loading --------------------------------------------------------------------------------


def test_importing_loads_nothing() -> None:
    code = (
        "import sys\n"
        "import tempest, tempest.utils\n"
        "assert not [m for m in sys.modules if m.startswith('tempest.utils.br')], 'imported'\n"
        "from tempest.utils import CityNameField, get_state, UF\n"
        "import tempest.utils.br.cities as cities\n"
        "assert cities._cache is None, 'loaded on import'\n"
        "assert get_state('SP').capital == 'São Paulo'\n"
        "assert cities._cache is None, 'loaded for a state'\n"
        "assert len(tempest.utils.cities_by_uf(UF.SP)) == 645\n"
        "assert cities._cache is not None\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", code], cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_threads_load_the_list_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []
    real_load = cities_module._load

    def counting_load() -> cities_module._Places:
        loads.append(1)
        return real_load()

    monkeypatch.setattr(cities_module, "_cache", None)
    monkeypatch.setattr(cities_module, "_load", counting_load)
    barrier = threading.Barrier(8)
    results: list[list[CityBR]] = []

    def lookup() -> None:
        barrier.wait()
        results.append(cities_by_uf("SP"))

    threads = [threading.Thread(target=lookup) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(loads) == 1
    assert len(results) == 8
    assert all(len(found) == 645 for found in results)
