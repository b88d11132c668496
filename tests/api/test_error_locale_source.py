"""Every message tempest raises, read from its source, has en-US and pt-BR words."""

from __future__ import annotations

import ast
import re

import pytest

from tempest.exceptions import (
    AppException,
    ConflictException,
    FileTooLargeException,
    ForbiddenException,
    InvalidFileTypeException,
    NotFoundException,
    ServiceUnavailableException,
    ValidationException,
    default_message_catalog,
)
from tests.helpers import REPO

# -- messages with values, as tempest writes them ------------------------------------------


MESSAGES: list[tuple[AppException, str]] = [
    (
        AppException(
            "Sign-in with Google was refused: the ID token has expired",
            code="OAUTH_SIGN_IN_REFUSED",
        ),
        "O login com Google foi recusado: the ID token has expired",
    ),
    (
        AppException("The sign-in was cancelled at the provider", code="OAUTH_DENIED"),
        "O login foi cancelado no provedor",
    ),
    (
        AppException("The provider refused the sign-in (server_error)", code="OAUTH_DENIED"),
        "O provedor recusou o login (server_error)",
    ),
    (
        ForbiddenException(
            "github did not confirm that this email belongs to you; verify it there, or "
            "sign in with your password",
            code="OAUTH_EMAIL_UNVERIFIED",
        ),
        "github não confirmou que este e-mail é seu; verifique-o lá ou entre com sua senha",
    ),
    (
        ConflictException("A folder with this name exists already", code="FILE_EXISTS"),
        "Já existe uma pasta com este nome",
    ),
    (NotFoundException("File not found", code="FILE_NOT_FOUND"), "Arquivo não encontrado"),
    (
        ServiceUnavailableException(
            "File storage is unavailable right now; try again shortly",
            code="STORAGE_UNAVAILABLE",
        ),
        "O armazenamento de arquivos está indisponível no momento; tente novamente em instantes",
    ),
    (
        FileTooLargeException("The file is larger than 1024 bytes"),
        "O arquivo tem mais de 1024 bytes",
    ),
    (
        InvalidFileTypeException("Unsupported file type: extension '.exe' is not accepted"),
        "Tipo de arquivo não suportado: a extensão '.exe' não é aceita",
    ),
    (
        InvalidFileTypeException("Unsupported file type: the content is not a recognized type"),
        "Tipo de arquivo não suportado: o conteúdo não é de um tipo reconhecido",
    ),
    (
        InvalidFileTypeException("Unsupported file type: the content is image/png"),
        "Tipo de arquivo não suportado: o conteúdo é image/png",
    ),
    (
        InvalidFileTypeException("Unsupported file type: text/html content is not accepted"),
        "Tipo de arquivo não suportado: conteúdo text/html não é aceito",
    ),
    (
        ValidationException(
            "'ana@' is not a valid email address: There must be something after the @-sign.",
            code="INVALID_EMAIL",
        ),
        "'ana@' não é um endereço de e-mail válido: There must be something after the @-sign.",
    ),
]


@pytest.mark.parametrize(("error", "portuguese"), MESSAGES)
def test_a_message_with_values_in_portuguese(error: AppException, portuguese: str) -> None:
    assert default_message_catalog.translate_exception(error, "pt-BR") == portuguese
    assert default_message_catalog.translate_exception(error, "en-US") == error.message


def _sample(node: ast.expr) -> str | None:
    """The text a message expression reads, each ``{value}`` of an f-string as ``V1``, ``V2``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for number, part in enumerate(node.values):
            literal = isinstance(part, ast.Constant) and isinstance(part.value, str)
            parts.append(str(getattr(part, "value", "")) if literal else f"V{number}")
        return "".join(parts)
    return None


def _webhook_messages() -> list[str]:
    """Every message the webhook verifiers refuse a delivery with, read from their source."""
    found: list[str] = []
    for path in sorted((REPO / "tempest" / "api" / "webhooks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "WebhookSignatureError" and len(node.args) == 2:
                text = _sample(node.args[1])
            elif name == "_malformed" and node.args:  # the Stripe verifier's helper
                what = _sample(node.args[0])
                text = None if what is None else f"The Stripe-Signature header {what}."
            else:
                continue
            if text is not None and "{" not in text and not text.startswith("The V1 header V"):
                found.append(text)
    return found


def test_every_webhook_signature_message_in_portuguese() -> None:
    from tempest.api.webhooks.errors import WebhookSignatureError

    seen: dict[str, str] = {}
    messages = _webhook_messages()
    assert len(messages) >= 20
    for message in messages:
        error = WebhookSignatureError("mismatch", message)
        key = default_message_catalog.exception_key(error)
        assert key is not None and key.startswith("INVALID_WEBHOOK_SIGNATURE:"), message
        assert seen.setdefault(key, message) == message, f"{message!r} took {key}"
        portuguese = default_message_catalog.translate_exception(error, "pt-BR")
        assert portuguese != message and "{" not in portuguese, message
        assert default_message_catalog.translate_exception(error, "en-US") == message
    stale = WebhookSignatureError(
        "stale_timestamp", "The timestamp in X-Signature is more than 300 seconds old."
    )
    assert default_message_catalog.translate_exception(stale, "pt-BR") == (
        "O timestamp em X-Signature tem mais de 300 segundos."
    )


# -- what tempest's source raises --------------------------------------------------------

# Codes whose detail is not a catalog message of its own: PASSWORD_INVALID is made of its
# problems' messages (each problem's code is in the catalog).
NOT_A_MESSAGE = {"PASSWORD_INVALID"}


def test_every_error_code_tempest_writes_has_both_languages() -> None:
    written = re.compile(r'\bcode="([A-Z][A-Z0-9_]+)"|^_CODE = "([A-Z][A-Z0-9_]+)"', re.MULTILINE)
    codes: set[str] = set()
    for path in (REPO / "tempest").rglob("*.py"):
        if "static" in path.parts:
            continue
        for match in written.finditer(path.read_text(encoding="utf-8")):
            codes.add(match.group(1) or match.group(2))
    codes -= NOT_A_MESSAGE
    assert len(codes) > 30
    for locale in ("en-US", "pt-BR"):
        assert default_message_catalog.missing(sorted(codes), locale) == [], locale


# Helpers that build a message around the words they are given: (module, function) -> the
# message, ``{}`` standing for the words.
MESSAGE_HELPERS = {
    ("tempest/api/webhooks/stripe_verifier.py", "_malformed"): "The Stripe-Signature header {}.",
    ("tempest/utils/uploads.py", "_refuse"): "Unsupported file type: {}",
}
# The argument holding the message, when it is not the first.
MESSAGE_ARGUMENT = {"WebhookSignatureError": 1}
# Errors that tell a programmer to fix the code: English only (see the docs page).
ENGLISH_ONLY = ("tempest/db/repository/",)


def _raised_messages() -> list[tuple[str, str, str]]:
    """``(where, code, message)`` of every error tempest builds with words of its own."""
    from tests.api.test_error_locale import _import_exception_modules, _subclasses

    _import_exception_modules()
    classes = {cls.__name__: cls for cls in _subclasses(AppException)}
    found: list[tuple[str, str, str]] = []
    for path in sorted((REPO / "tempest").rglob("*.py")):
        module = path.relative_to(REPO).as_posix()
        if "static" in path.parts or module.startswith(ENGLISH_ONLY):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside_helpers = {
            id(node)
            for helper in ast.walk(tree)
            if isinstance(helper, ast.FunctionDef) and (module, helper.name) in MESSAGE_HELPERS
            for node in ast.walk(helper)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in inside_helpers:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            template = MESSAGE_HELPERS.get((module, name))
            if template is not None and node.args:
                words = _sample(node.args[0])
                text = None if words is None else template.format(words)
                code = "INVALID_WEBHOOK_SIGNATURE" if "webhooks" in module else "INVALID_FILE_TYPE"
            elif name in classes:
                position = MESSAGE_ARGUMENT.get(name, 0)
                argument = (
                    node.args[position] if len(node.args) > position else keywords.get("message")
                )
                text = None if argument is None else _sample(argument)
                given = keywords.get("code")
                if given is not None and not isinstance(given, ast.Constant):
                    continue  # a code chosen at run time, with its message
                code = classes[name].code if given is None else str(given.value)
            else:
                continue
            if text is not None:
                found.append((f"{module}:{node.lineno}", code, text))
    return found


def test_every_message_tempest_raises_is_translated() -> None:
    found = _raised_messages()
    assert len(found) > 80
    untranslated = []
    for where, code, text in found:
        error = AppException(text, code=code)
        portuguese = default_message_catalog.translate_exception(error, "pt-BR")
        if portuguese == text or "{" in portuguese:
            untranslated.append(f"{where} {code}: {text!r}")
        assert default_message_catalog.translate_exception(error, "en-US") == text, where
    assert untranslated == [], "\n".join(untranslated)
