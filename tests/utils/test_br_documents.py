"""CPF, CNPJ (numeric and alphanumeric), phone and CEP: validators, normalizers, field types.

The check-digit acceptance compares ``is_valid_cpf`` / ``is_valid_cnpj`` with a textbook
implementation written here (explicit weight tables, no shared code) on 100,000 generated
numbers of each kind, masked and unmasked, half of them with random check digits.
"""

from __future__ import annotations

import random
import string

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings, strategies as st
from pydantic import BaseModel, ValidationError

from tempest import BaseSchema
from tempest.api import register_exception_handlers
from tempest.utils import (
    CEP,
    CEP_PATTERN,
    CNPJ,
    CNPJ_PATTERN,
    CPF,
    CPF_CNPJ_PATTERN,
    CPF_PATTERN,
    PHONE_BR_PATTERN,
    CPFOrCNPJ,
    PhoneBR,
    is_valid_cep,
    is_valid_cnpj,
    is_valid_cpf,
    is_valid_cpf_cnpj,
    is_valid_phone_br,
    normalize_cep,
    normalize_cnpj,
    normalize_cpf,
    normalize_cpf_cnpj,
    normalize_phone_br,
    only_digits,
)

# -- The independent oracle ---------------------------------------------------------------

CPF_WEIGHTS_1 = [10, 9, 8, 7, 6, 5, 4, 3, 2]
CPF_WEIGHTS_2 = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]
CNPJ_WEIGHTS_1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
CNPJ_WEIGHTS_2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]


def dv(values: list[int], weights: list[int]) -> int:
    rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def oracle_cpf(digits: str) -> bool:
    """``digits``: exactly 11 ASCII digits."""
    values = [int(d) for d in digits]
    if len(set(values)) == 1:
        return False
    first = dv(values[:9], CPF_WEIGHTS_1)
    second = dv([*values[:9], first], CPF_WEIGHTS_2)
    return values[9:] == [first, second]


def oracle_cnpj(chars: str) -> bool:
    """``chars``: 12 of [0-9A-Z] then 2 digits (value of a character: its code minus 48)."""
    values = [ord(c) - 48 for c in chars]
    if len(set(chars)) == 1:
        return False
    first = dv(values[:12], CNPJ_WEIGHTS_1)
    second = dv([*values[:12], first], CNPJ_WEIGHTS_2)
    return values[12:] == [first, second]


def mask_cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def mask_cnpj(c: str) -> str:
    return f"{c[:2]}.{c[2:5]}.{c[5:8]}/{c[8:12]}-{c[12:]}"


def with_dvs_cpf(base: str) -> str:
    values = [int(d) for d in base]
    first = dv(values, CPF_WEIGHTS_1)
    return f"{base}{first}{dv([*values, first], CPF_WEIGHTS_2)}"


def with_dvs_cnpj(base: str) -> str:
    values = [ord(c) - 48 for c in base]
    first = dv(values, CNPJ_WEIGHTS_1)
    return f"{base}{first}{dv([*values, first], CNPJ_WEIGHTS_2)}"


ALNUM = string.digits + string.ascii_uppercase


# -- Acceptance: 100,000 generated numbers of each kind -------------------------------------


def test_is_valid_cpf_agrees_with_the_algorithm_on_100_000_numbers() -> None:
    rng = random.Random(20)
    valid = 0
    for index in range(100_000):
        base = "".join(rng.choices(string.digits, k=9))
        if index % 1000 == 0:
            base = str(index % 10) * 9  # the repeated-digit sequences come up too
        number = with_dvs_cpf(base) if index % 2 else base + "".join(rng.choices("0123456789", k=2))
        expected = oracle_cpf(number)
        valid += expected
        assert is_valid_cpf(number) is expected, number
        assert is_valid_cpf(mask_cpf(number)) is expected, number
        assert is_valid_cpf_cnpj(number) is expected, number
    assert 45_000 < valid < 60_000  # both outcomes were exercised


def test_is_valid_cnpj_agrees_with_the_algorithm_on_100_000_numbers() -> None:
    rng = random.Random(2026)
    valid = 0
    for index in range(100_000):
        alphabet = ALNUM if index % 3 == 0 else string.digits  # a third alphanumeric
        base = "".join(rng.choices(alphabet, k=12))
        number = (
            with_dvs_cnpj(base) if index % 2 else base + "".join(rng.choices("0123456789", k=2))
        )
        expected = oracle_cnpj(number)
        valid += expected
        assert is_valid_cnpj(number) is expected, number
        assert is_valid_cnpj(mask_cnpj(number)) is expected, number
        assert is_valid_cnpj(mask_cnpj(number).lower()) is expected, number
    assert 45_000 < valid < 60_000


@settings(max_examples=2_000, deadline=None)
@given(st.text(alphabet=string.digits, min_size=11, max_size=11), st.booleans())
def test_hypothesis_cpf(digits: str, masked: bool) -> None:
    value = mask_cpf(digits) if masked else digits
    assert is_valid_cpf(value) is oracle_cpf(digits)


@settings(max_examples=2_000, deadline=None)
@given(
    st.text(alphabet=ALNUM, min_size=12, max_size=12),
    st.integers(0, 99),
    st.booleans(),
    st.booleans(),
)
def test_hypothesis_cnpj(base: str, tail: int, fix_dvs: bool, masked: bool) -> None:
    chars = with_dvs_cnpj(base) if fix_dvs else f"{base}{tail:02d}"
    assert is_valid_cnpj(mask_cnpj(chars) if masked else chars) is oracle_cnpj(chars)


# -- CPF ------------------------------------------------------------------------------------


def test_cpf_masked_and_unmasked() -> None:
    assert normalize_cpf("529.982.247-25") == "52998224725"
    assert normalize_cpf("52998224725") == "52998224725"
    assert normalize_cpf("529982247-25") == "52998224725"  # each separator is optional
    assert CPF_PATTERN.match("529.982.247-25")
    assert CPF_CNPJ_PATTERN.match("52998224725")


def test_cpf_with_spaces() -> None:
    assert normalize_cpf("  529.982.247-25\n") == "52998224725"  # around: ignored
    assert not is_valid_cpf("529 982 247 25")  # inside: not a CPF mask
    assert not is_valid_cpf("529.982. 247-25")


def test_cpf_wrong_check_digits() -> None:
    assert not is_valid_cpf("529.982.247-24")
    assert not is_valid_cpf("529.982.247-15")
    with pytest.raises(ValueError, match="not a valid CPF"):
        normalize_cpf("52998224724")


def test_cpf_wrong_length() -> None:
    for value in ("", "5299822472", "529982247250", "529.982.247-2", "1234"):
        assert not is_valid_cpf(value), value


def test_cpf_letters_and_foreign_digits() -> None:
    for value in ("529.982.247-2A", "52998224A25", "ABC.DEF.GHI-JK", "٥٢٩٩٨٢٢٤٧٢٥"):
        assert not is_valid_cpf(value), value


def test_cpf_all_same_digits() -> None:
    for digit in string.digits:
        assert oracle_cpf(digit * 11) is False
        assert not is_valid_cpf(digit * 11)
        assert not is_valid_cpf(mask_cpf(digit * 11))


def test_not_strings_are_invalid_not_errors() -> None:
    for value in (None, 52998224725, b"52998224725", ["52998224725"]):
        assert not is_valid_cpf(value)  # type: ignore[arg-type]
        assert not is_valid_cnpj(value)  # type: ignore[arg-type]
        assert not is_valid_phone_br(value)  # type: ignore[arg-type]
        assert not is_valid_cep(value)  # type: ignore[arg-type]


# -- CNPJ -----------------------------------------------------------------------------------


def test_cnpj_numeric_masked_and_unmasked() -> None:
    assert normalize_cnpj("11.222.333/0001-81") == "11222333000181"
    assert normalize_cnpj("11222333000181") == "11222333000181"
    assert CNPJ_PATTERN.match("11.222.333/0001-81")


def test_cnpj_alphanumeric() -> None:
    # The Receita Federal's example of the format in force from July 2026.
    assert normalize_cnpj("12.ABC.345/01DE-35") == "12ABC34501DE35"
    assert normalize_cnpj("12abc34501de35") == "12ABC34501DE35"  # letters upper-cased
    assert not is_valid_cnpj("12.ABC.345/01DE-36")


def test_cnpj_letters_where_not_allowed() -> None:
    assert not is_valid_cnpj("12.ABC.345/01DE-3A")  # check digits are numeric
    assert not is_valid_cnpj("12.ÁBC.345/01DE-35")  # A-Z only
    assert not is_valid_cnpj("12.AB-.345/01DE-35")


def test_cnpj_wrong_check_digits_length_spaces_and_repeats() -> None:
    assert not is_valid_cnpj("11.222.333/0001-82")
    assert not is_valid_cnpj("1122233300018")
    assert not is_valid_cnpj("112223330001811")
    assert not is_valid_cnpj("11 222 333 0001 81")
    assert normalize_cnpj(" 11.222.333/0001-81 ") == "11222333000181"
    for digit in string.digits:
        assert not is_valid_cnpj(digit * 14)
        assert not is_valid_cnpj(mask_cnpj(digit * 14))


def test_cpf_or_cnpj() -> None:
    assert normalize_cpf_cnpj("529.982.247-25") == "52998224725"
    assert normalize_cpf_cnpj("11.222.333/0001-81") == "11222333000181"
    assert not is_valid_cpf_cnpj("529.982.247-24")
    with pytest.raises(ValueError, match="CPF or CNPJ"):
        normalize_cpf_cnpj("123")


# -- Phone and CEP --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+55 (11) 98888-7777", "5511988887777"),
        ("+5511988887777", "5511988887777"),
        ("55 11 98888 7777", "5511988887777"),
        ("(11) 98888-7777", "11988887777"),
        ("11988887777", "11988887777"),
        ("(21) 3333-4444", "2133334444"),
        ("98888-7777", "988887777"),
        ("3333-4444", "33334444"),
        ("(55) 99999-0000", "55999990000"),  # DDD 55 (Santa Maria, RS), no country code
    ],
)
def test_phone_valid(raw: str, digits: str) -> None:
    assert PHONE_BR_PATTERN.match(raw)
    assert normalize_phone_br(raw) == digits


@pytest.mark.parametrize(
    "raw",
    [
        "(20) 98888-7777",  # DDD not in use
        "(11) 88888-7777",  # 9 digits must start with 9
        "(11) 0888-7777",  # a subscriber number does not start with 0
        "+55 98888-7777",  # country code without DDD
        "+1 (11) 98888-7777",  # another country
        "(11) 9888A-7777",  # letters
        "888-7777",  # too short
        "+55 (11) 98888-77770",  # too long
        "",
    ],
)
def test_phone_invalid(raw: str) -> None:
    assert not is_valid_phone_br(raw)
    with pytest.raises(ValueError, match="phone"):
        normalize_phone_br(raw)


def test_cep() -> None:
    assert normalize_cep("01310-100") == "01310100"
    assert normalize_cep("01310100") == "01310100"
    assert normalize_cep("01.310-100") == "01310100"
    assert CEP_PATTERN.match("01310-100")
    for bad in ("1310-100", "01310-1000", "01310 100", "0131O-100", "", "01310_100"):
        assert not is_valid_cep(bad), bad
    assert only_digits("+55 (11) 98888-7777") == "5511988887777"


# -- Field types and the HTTP answer ----------------------------------------------------------


class Customer(BaseModel):
    cpf: CPF
    cnpj: CNPJ | None = None
    document: CPFOrCNPJ
    phone: PhoneBR
    cep: CEP


def test_field_types_validate_and_normalize() -> None:
    customer = Customer(
        cpf="529.982.247-25",
        cnpj="12.ABC.345/01DE-35",
        document="11.222.333/0001-81",
        phone="+55 (11) 98888-7777",
        cep="01310-100",
    )
    assert customer.model_dump() == {
        "cpf": "52998224725",
        "cnpj": "12ABC34501DE35",
        "document": "11222333000181",
        "phone": "5511988887777",
        "cep": "01310100",
    }


def test_field_types_give_clean_validation_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        Customer(cpf="529.982.247-24", cnpj="x", document="1", phone="2", cep="3")
    kinds = {error["loc"][0]: error["type"] for error in caught.value.errors()}
    assert kinds == {
        "cpf": "br_cpf",
        "cnpj": "br_cnpj",
        "document": "br_cpf_cnpj",
        "phone": "br_phone",
        "cep": "br_cep",
    }
    with pytest.raises(ValidationError) as caught:
        Customer(cpf=52998224725, document="52998224725", phone="11988887777", cep="01310100")
    assert caught.value.errors()[0]["type"] == "string_type"


class CustomerIn(BaseSchema):
    name: str
    cpf: CPF


@pytest.mark.anyio
async def test_a_route_answers_422_for_a_bad_cpf() -> None:
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/customers")
    async def create(body: CustomerIn) -> dict[str, str]:
        return {"cpf": body.cpf}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        good = await client.post("/customers", json={"name": "Ana", "cpf": "529.982.247-25"})
        bad = await client.post("/customers", json={"name": "Ana", "cpf": "529.982.247-24"})
        letters = await client.post("/customers", json={"name": "Ana", "cpf": "529.982.247-2X"})
    assert good.status_code == 200
    assert good.json() == {"cpf": "52998224725"}
    for answer in (bad, letters):
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert "Not a valid CPF" in str(body["details"])
