import pytest

from tempest.mail import SUPPORTED_LOCALES, negotiate_locale, normalize_locale

# Bad input first: programmer mistakes fail loudly, user input never does.


def test_normalize_rejects_a_non_string() -> None:
    with pytest.raises(TypeError, match="locale must be a string or None, not int"):
        normalize_locale(42)  # type: ignore[arg-type]


def test_a_default_outside_the_supported_locales_is_refused() -> None:
    with pytest.raises(ValueError, match=r"default 'fr-FR' is not one of the supported locales"):
        normalize_locale("pt", default="fr-FR")
    with pytest.raises(ValueError, match=r"default 'fr-FR' is not one of the supported locales"):
        negotiate_locale("pt-BR", default="fr-FR")


def test_an_empty_supported_list_is_refused() -> None:
    with pytest.raises(ValueError, match="supported must name at least one locale"):
        negotiate_locale("en", supported=())


def test_negotiate_rejects_a_non_string_header() -> None:
    with pytest.raises(TypeError, match="accept_language must be a string or None, not bytes"):
        negotiate_locale(b"pt-BR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pt_br", "pt-BR"),
        ("PT-br", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("pt_BR.UTF-8", "pt-BR"),
        ("en", "en-US"),
        ("en_us", "en-US"),
        ("EN-GB", "en-US"),
        ("  pt-BR  ", "pt-BR"),
    ],
)
def test_normalize_maps_spellings_to_a_supported_locale(value: str, expected: str) -> None:
    assert normalize_locale(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "fr", "de-DE", "!!", "12-34", "-"])
def test_normalize_falls_back_to_the_default(value: str | None) -> None:
    assert normalize_locale(value) == "en-US"
    assert normalize_locale(value, default="pt-BR") == "pt-BR"


def test_normalize_spells_the_default_the_supported_way() -> None:
    assert normalize_locale("fr", default="pt_br") == "pt-BR"


def test_normalize_with_other_supported_locales() -> None:
    supported = ("en-US", "es-ES", "es-MX")
    assert normalize_locale("es_mx", supported=supported) == "es-MX"
    assert normalize_locale("es", supported=supported) == "es-ES"
    assert normalize_locale("pt-BR", supported=supported) == "en-US"


def test_the_default_supported_locales() -> None:
    assert SUPPORTED_LOCALES == ("en-US", "pt-BR")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.8", "pt-BR"),
        ("fr-CA, en;q=0.5", "en-US"),
        ("en;q=0.4, pt;q=0.6", "pt-BR"),
        ("pt;q=0.6, en;q=0.4", "pt-BR"),
        ("fr, pt-PT;q=0.7, en;q=0.3", "pt-BR"),
        ("de, *;q=0.1", "en-US"),
        ("pt-br", "pt-BR"),
        ("en-GB,en;q=0.9", "en-US"),
        # Equal quality: the first listed wins.
        ("en, pt-BR", "en-US"),
        ("pt-BR, en", "pt-BR"),
        # q=0 means "not acceptable".
        ("pt;q=0, en;q=0.5", "en-US"),
        ("en;q=0, *", "pt-BR"),
    ],
)
def test_negotiate_follows_quality_values(header: str, expected: str) -> None:
    assert negotiate_locale(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage;;;",
        "pt;q=high",
        "pt;q=2",
        "pt;q=-1",
        "en_US-12345678901234567890",
        ";q=0.5",
        "fr, de;q=0.9",
        ",,,",
        "pt;q=0",
    ],
)
def test_negotiate_falls_back_to_the_default(header: str | None) -> None:
    assert negotiate_locale(header) == "en-US"
    assert negotiate_locale(header, default="pt-BR") == "pt-BR"


def test_a_malformed_range_does_not_hide_the_valid_ones() -> None:
    assert negotiate_locale("pt;q=high, ???, pt-BR;q=0.2") == "pt-BR"


def test_negotiate_with_other_supported_locales() -> None:
    supported = ("en-US", "es-ES")
    assert negotiate_locale("es-AR, en;q=0.5", supported=supported) == "es-ES"
    assert negotiate_locale("pt-BR", supported=supported, default="es-ES") == "es-ES"
