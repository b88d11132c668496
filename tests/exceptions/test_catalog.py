"""The error-message catalog: Accept-Language parsing, negotiation, lookups and fallbacks."""

import json
from pathlib import Path

import pytest

from tempest import (
    DEFAULT_LOCALE,
    MessageCatalog,
    default_message_catalog,
    parse_accept_language,
)
from tempest.exceptions import (
    AppException,
    ConflictException,
    ImproperlyConfigured,
    MessageCatalog as ExceptionsMessageCatalog,
    NotFoundException,
    TooManyRequestsException,
)
from tempest.exceptions.catalog import canonical_locale, format_message
from tempest.mail import negotiate_locale as mail_negotiate_locale
from tempest.utils.locale import negotiate_locale

# -- parse_accept_language: bad input first (it never raises) ------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        ",,,;;;",
        "garbage!!",
        "\x00\xff\u2603",
        "en;q=abc",
        "en;q=2",
        "en;q=-1",
        "123-456",
        "a" * 10_000,
        ";q=0.5",
    ],
)
def test_garbage_gives_no_languages(header: str) -> None:
    assert parse_accept_language(header) == []


@pytest.mark.parametrize("header", [None, 42, b"pt-BR", ["pt-BR"]])
def test_a_value_that_is_not_a_string_gives_no_languages(header: object) -> None:
    assert parse_accept_language(header) == []  # type: ignore[arg-type]


def test_a_star_is_a_language_range() -> None:
    assert parse_accept_language("*") == ["*"]
    assert parse_accept_language("fr, *;q=0.1") == ["fr", "*"]


def test_q_values_order_the_ranges_and_q0_is_left_out() -> None:
    assert parse_accept_language("en;q=0.8, pt-BR, pt;q=0.9, fr;q=0") == ["pt-BR", "pt", "en"]


def test_equal_quality_keeps_the_client_order() -> None:
    assert parse_accept_language("de, fr, en") == ["de", "fr", "en"]


def test_the_browser_header_of_brazil() -> None:
    assert parse_accept_language("pt-BR,pt;q=0.9") == ["pt-BR", "pt"]


def test_fifty_entries_are_read_up_to_the_limit() -> None:
    header = ",".join(["xx"] * 49 + ["pt-BR"])
    assert parse_accept_language(header)[-1] == "pt-BR"
    assert len(parse_accept_language(header)) == 50
    # Past 64 ranges the rest of the header is ignored.
    assert parse_accept_language(",".join(["xx"] * 100 + ["pt-BR"])) == ["xx"] * 64


def test_malformed_ranges_are_dropped_and_the_rest_kept() -> None:
    assert parse_accept_language("!!, pt-BR;q=0.5, en;q=x, es") == ["es", "pt-BR"]


# -- one negotiation mechanism ---------------------------------------------------------


def test_mail_and_auth_share_the_negotiation_function() -> None:
    assert mail_negotiate_locale is negotiate_locale
    from tempest.contrib.auth import core

    assert vars(core)["negotiate_locale"] is negotiate_locale


def test_the_default_locale() -> None:
    assert DEFAULT_LOCALE == "en-US"
    assert ExceptionsMessageCatalog is MessageCatalog


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-BR,pt;q=0.9", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("fr-FR", "en-US"),
        ("*", "en-US"),
        ("pt;q=0, *", "en-US"),
        ("en;q=0, *", "pt-BR"),
        ("garbage!!", "en-US"),
        ("", "en-US"),
        (None, "en-US"),
        (",".join(["zz"] * 49 + ["pt-BR"]), "pt-BR"),
    ],
)
def test_the_catalog_negotiates_its_locales(header: str | None, expected: str) -> None:
    assert default_message_catalog.negotiate(header) == expected


def test_negotiation_with_another_default() -> None:
    assert default_message_catalog.negotiate("fr", default="pt-BR") == "pt-BR"
    # A default with no messages at all is still answered (then the messages fall back).
    assert default_message_catalog.negotiate("fr", default="de-DE") == "de-DE"


def test_negotiation_never_raises_on_a_non_string() -> None:
    assert default_message_catalog.negotiate(b"pt-BR") == "en-US"  # type: ignore[arg-type]


# -- lookups and fallbacks -------------------------------------------------------------


def catalog() -> MessageCatalog:
    return MessageCatalog(
        {
            "en-US": {"ORDER_NOT_FOUND": "Order {id} not found", "ONLY_EN": "Only English"},
            "pt-BR": {"ORDER_NOT_FOUND": "Pedido {id} não encontrado"},
        }
    )


def test_a_key_in_the_locale_is_translated_with_its_params() -> None:
    assert catalog().translate("ORDER_NOT_FOUND", "pt-BR", {"id": 7}) == "Pedido 7 não encontrado"


def test_a_key_missing_in_the_locale_falls_back_to_the_default_locale() -> None:
    assert catalog().translate("ONLY_EN", "pt-BR") == "Only English"


def test_a_key_missing_everywhere_falls_back_to_the_message() -> None:
    assert catalog().translate("NOPE", "pt-BR", default="The message") == "The message"
    assert catalog().translate("NOPE", "pt-BR") is None
    assert catalog().translate(None, "pt-BR", default="The message") == "The message"


def test_an_unknown_locale_falls_back_to_the_default_locale() -> None:
    assert catalog().translate("ORDER_NOT_FOUND", "de-DE", {"id": 1}) == "Order 1 not found"


def test_the_source_locale_prefers_the_message_to_another_default() -> None:
    source = MessageCatalog({"pt-BR": {"HELLO": "Olá"}}, default_locale="pt-BR")
    assert source.translate("HELLO", "en-US", default="Hello") == "Hello"
    assert source.translate("HELLO", "de-DE", default="Hello") == "Olá"


def test_a_param_missing_from_the_params_stays_as_written() -> None:
    assert catalog().translate("ORDER_NOT_FOUND", "pt-BR") == "Pedido {id} não encontrado"
    assert catalog().translate("ORDER_NOT_FOUND", "pt-BR", {"other": 1}) == (
        "Pedido {id} não encontrado"
    )


def test_a_format_spec_that_does_not_fit_its_value_does_not_raise() -> None:
    assert format_message("{n:d} items", {"n": "many"}) == "{n:d} items"
    assert format_message("{n:d} items", {"n": 3}) == "3 items"


def test_a_malformed_template_is_refused_when_added() -> None:
    with pytest.raises(ValueError, match=r"catalog pt-BR: the message of 'BAD'"):
        MessageCatalog({"pt-BR": {"BAD": "unclosed {brace"}})
    with pytest.raises(ValueError, match=r"placeholders are names"):
        MessageCatalog({"pt-BR": {"BAD": "positional {}"}})
    with pytest.raises(ValueError, match=r"placeholders are names"):
        MessageCatalog({"pt-BR": {"BAD": "attribute {user.name}"}})


def test_a_message_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match=r"the message of 'N' must be a string, not int"):
        MessageCatalog({"pt-BR": {"N": 3}})  # type: ignore[dict-item]


def test_a_locale_that_is_not_a_tag_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'\.\./etc' is not a locale tag"):
        MessageCatalog({"../etc": {"A": "b"}})


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("pt_br", "pt-BR"), ("PT-br", "pt-BR"), ("en", "en"), ("zh-hant-tw", "zh-Hant-TW")],
)
def test_locale_tags_are_spelled_one_way(tag: str, expected: str) -> None:
    assert canonical_locale(tag) == expected


# -- exceptions ------------------------------------------------------------------------


def test_an_exception_keeping_its_class_message_is_translated_by_its_code() -> None:
    assert default_message_catalog.translate_exception(NotFoundException(), "pt-BR") == (
        "Recurso não encontrado"
    )
    assert default_message_catalog.translate_exception(NotFoundException(), "en-US") == (
        "Resource not found"
    )


def test_an_exception_with_its_own_message_keeps_it() -> None:
    exc = NotFoundException("User 5 not found")
    assert default_message_catalog.translate_exception(exc, "pt-BR") == "User 5 not found"


def test_a_message_the_catalog_knows_under_its_code_is_translated() -> None:
    exc = ConflictException("An account with this email already exists", code="EMAIL_TAKEN")
    assert default_message_catalog.translate_exception(exc, "pt-BR") == (
        "Já existe uma conta com este e-mail"
    )


def test_a_message_with_values_is_matched_by_the_template_of_its_code() -> None:
    source = MessageCatalog(
        {
            "en-US": {"OUT_OF_STOCK": "{product} is out of stock ({product}, {count} left)"},
            "pt-BR": {"OUT_OF_STOCK": "{product} esgotado (restam {count})"},
        }
    )
    exc = ConflictException("Coffee is out of stock (Coffee, 0 left)", code="OUT_OF_STOCK")
    assert source.translate_exception(exc, "pt-BR") == "Coffee esgotado (restam 0)"
    # The same placeholder twice must read the same both times.
    other = ConflictException("Coffee is out of stock (Tea, 0 left)", code="OUT_OF_STOCK")
    assert source.translate_exception(other, "pt-BR") == other.message
    assert source.exception_key(other) is None


def test_message_key_and_params() -> None:
    exc = NotFoundException(
        "Order {id} not found", message_key="ORDER_NOT_FOUND", message_params={"id": 9}
    )
    assert exc.message == "Order 9 not found"
    assert catalog().translate_exception(exc, "pt-BR") == "Pedido 9 não encontrado"
    assert exc.to_dict()["detail"] == "Order 9 not found"


def test_a_message_key_missing_everywhere_gives_the_message() -> None:
    exc = AppException("Kaputt", message_key="NOWHERE")
    assert default_message_catalog.translate_exception(exc, "pt-BR") == "Kaputt"


def test_a_param_missing_from_message_params_does_not_crash() -> None:
    exc = NotFoundException("Order {id} of {owner}", message_params={"id": 1})
    assert exc.message == "Order 1 of {owner}"
    exc = NotFoundException(message_key="ORDER_NOT_FOUND")
    assert catalog().translate_exception(exc, "pt-BR") == "Pedido {id} não encontrado"


def test_subclasses_with_their_own_constructor_take_message_key() -> None:
    exc = TooManyRequestsException(retry_after=3, message_key="SLOW_DOWN")
    assert exc.message_key == "SLOW_DOWN"


# -- files -----------------------------------------------------------------------------


def test_a_locale_folder_is_loaded_by_file_name(tmp_path: Path) -> None:
    (tmp_path / "pt_br.json").write_text(json.dumps({"HI": "Oi"}), encoding="utf-8")
    (tmp_path / "es.json").write_text(json.dumps({"HI": "Hola"}), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    loaded = MessageCatalog()
    loaded.load_directory(tmp_path)
    assert loaded.locales == ("en-US", "es", "pt-BR")
    assert loaded.translate("HI", "pt-BR") == "Oi"
    assert loaded.negotiate("es-AR, en;q=0.5") == "es"


def test_a_lazy_folder_is_read_on_first_use(tmp_path: Path) -> None:
    loaded = MessageCatalog()
    loaded.load_directory(tmp_path, lazy=True)
    (tmp_path / "pt-BR.json").write_text(json.dumps({"HI": "Oi"}), encoding="utf-8")
    assert loaded.get("HI", "pt-BR") == "Oi"


def test_a_missing_folder_adds_nothing(tmp_path: Path) -> None:
    loaded = MessageCatalog()
    loaded.load_directory(tmp_path / "nope")
    assert loaded.locales == ("en-US",)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "Expecting property name"),
        ('["a list"]', "messages must be a mapping"),
        ('{"A": 1}', "must be a string, not int"),
        ('{"A": "{"}', "not a valid template"),
    ],
)
def test_a_broken_catalog_file_is_an_improperly_configured(
    tmp_path: Path, content: str, reason: str
) -> None:
    (tmp_path / "pt-BR.json").write_text(content, encoding="utf-8")
    with pytest.raises(
        ImproperlyConfigured, match=r"Cannot load the message catalog .*pt-BR\.json"
    ):
        MessageCatalog().load_directory(tmp_path)
    with pytest.raises(ImproperlyConfigured, match=reason):
        MessageCatalog().load_file(tmp_path / "pt-BR.json")


def test_a_file_named_like_no_locale_is_refused(tmp_path: Path) -> None:
    (tmp_path / "messages.v2.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match="is not a locale tag"):
        MessageCatalog().load_directory(tmp_path)


# -- what tempest raises with words of its own -------------------------------------------


def test_a_variant_of_a_code_is_matched_by_its_english() -> None:
    from tempest.db.repository.pagination import check_bounds
    from tempest.exceptions import ValidationException

    with pytest.raises(ValidationException) as raised:
        check_bounds("page_size", 0, 100)
    assert default_message_catalog.exception_key(raised.value) == "VALIDATION_ERROR:out_of_range"
    assert default_message_catalog.translate_exception(raised.value, "pt-BR") == (
        "page_size deve ser um número inteiro de 1 a 100; recebido: 0."
    )
    assert default_message_catalog.translate_exception(raised.value, "en-US") == (
        raised.value.message
    )


def test_every_csrf_refusal_reason_is_translated() -> None:
    from tempest.api.middleware.csrf import _REASONS, CSRFError, _reason_message

    for reason in _REASONS:
        exc = CSRFError(_reason_message(reason, "X-CSRF-Token"))
        portuguese = default_message_catalog.translate_exception(exc, "pt-BR")
        assert portuguese.startswith("Falha na verificação CSRF. "), reason
        assert "{" not in portuguese, reason


def test_the_database_outage_message_is_translated() -> None:
    from tempest.db.outage import UNAVAILABLE_MESSAGE
    from tempest.exceptions import ServiceUnavailableException

    exc = ServiceUnavailableException(UNAVAILABLE_MESSAGE, service="database")
    assert default_message_catalog.translate_exception(exc, "pt-BR") == (
        "O banco de dados está indisponível no momento; tente novamente em instantes"
    )


def test_a_stock_code_with_unknown_words_keeps_them() -> None:
    from tempest.exceptions import ValidationException

    exc = ValidationException("Pick a colour")
    assert default_message_catalog.exception_key(exc) is None
    assert default_message_catalog.translate_exception(exc, "pt-BR") == "Pick a colour"
