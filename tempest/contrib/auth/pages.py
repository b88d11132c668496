"""The small HTML pages the emailed links open when no ``AUTH_FRONTEND_URL`` is set.

Two pages, in en-US and pt-BR: the result of an activation link, and a form to choose a
new password that sends it to ``POST /password-reset/confirm``.
"""

from __future__ import annotations

from html import escape

from tempest.api.security_headers import page_security_headers
from tempest.utils.locale import normalize_locale

__all__ = ["PAGE_HEADERS", "activation_page", "email_change_page", "password_reset_page"]

_TEXTS: dict[str, dict[str, str]] = {
    "en-US": {
        "activated_title": "Account activated",
        "activated": "Your account is active. You can sign in now.",
        "activation_failed_title": "Activation failed",
        "activation_failed": (
            "This activation link is invalid, expired or was already used. Sign up again "
            "or ask for a new link."
        ),
        "reset_title": "Choose a new password",
        "new_password": "New password",
        "repeat_password": "Repeat the new password",
        "submit": "Change password",
        "mismatch": "The two passwords differ.",
        "reset_done": "Your password was changed. You can sign in now.",
        "reset_failed": (
            "The password was not changed: the link is invalid, expired or was already used."
        ),
        "reset_missing_title": "Invalid link",
        "reset_missing": "This password reset link has no token. Ask for a new link.",
        "email_changed_title": "Email changed",
        "email_changed": "Your account now uses this email. Sign in with it from now on.",
        "email_change_failed_title": "Email not changed",
        "email_change_failed": (
            "This link is invalid, expired or was already used, or another account uses "
            "this email now. Ask for the change again."
        ),
    },
    "pt-BR": {
        "activated_title": "Conta ativada",
        "activated": "Sua conta está ativa. Você já pode entrar.",
        "activation_failed_title": "Falha na ativação",
        "activation_failed": (
            "Este link de ativação é inválido, expirou ou já foi usado. Cadastre-se de novo "
            "ou peça um novo link."
        ),
        "reset_title": "Escolha uma nova senha",
        "new_password": "Nova senha",
        "repeat_password": "Repita a nova senha",
        "submit": "Trocar senha",
        "mismatch": "As duas senhas são diferentes.",
        "reset_done": "Sua senha foi trocada. Você já pode entrar.",
        "reset_failed": ("A senha não foi trocada: o link é inválido, expirou ou já foi usado."),
        "reset_missing_title": "Link inválido",
        "reset_missing": "Este link de redefinição de senha não tem token. Peça um novo link.",
        "email_changed_title": "E-mail alterado",
        "email_changed": "Sua conta agora usa este e-mail. Entre com ele daqui em diante.",
        "email_change_failed_title": "E-mail não alterado",
        "email_change_failed": (
            "Este link é inválido, expirou ou já foi usado, ou outra conta usa este e-mail "
            "agora. Peça a troca de novo."
        ),
    },
}

_SCRIPT = """
document.getElementById("reset").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const out = document.getElementById("message");
  if (form.password.value !== form.repeat.value) {
    out.textContent = form.dataset.mismatch;
    return;
  }
  const response = await fetch(form.dataset.action, {
    method: "POST",
    headers: {"Content-Type": "application/json", "Accept-Language": document.documentElement.lang},
    body: JSON.stringify({token: form.dataset.token, password: form.password.value}),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    form.remove();
    out.textContent = form.dataset.done;
  } else {
    out.textContent = response.status === 422 && body.detail ? body.detail : form.dataset.failed;
  }
});
"""


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;"
    "padding:0 1rem}label,input,button{display:block;width:100%;margin:.4rem 0}"
    "input,button{padding:.5rem;font-size:1rem}"
)

PAGE_HEADERS = page_security_headers(
    referrer_policy="no-referrer", inline_scripts=[_SCRIPT], inline_styles=[_STYLE]
)
"""Headers of these pages: the admin's (no framing, no sniffing, ``no-store``), a CSP
that runs only their own inline script and style, and no Referer (their URLs carry
tokens)."""


def _texts(locale: str) -> dict[str, str]:
    # Any spelling ("pt_br", "pt") picks its page; an unknown locale the English one.
    return _TEXTS[normalize_locale(locale, supported=tuple(_TEXTS))]


def _page(locale: str, title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{escape(locale)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def _message_page(locale: str, key: str) -> str:
    """A page that only says the text ``key`` (its title is the text ``{key}_title``)."""
    texts = _texts(locale)
    return _page(locale, texts[f"{key}_title"], f'<p id="message">{escape(texts[key])}</p>')


def activation_page(locale: str, *, activated: bool) -> str:
    """The page an activation link opens.

    Args:
        locale: ``"en-US"`` or ``"pt-BR"`` (others fall back to en-US).
        activated: Whether the account was activated.

    Returns:
        The HTML document.
    """
    return _message_page(locale, "activated" if activated else "activation_failed")


def email_change_page(locale: str, *, changed: bool) -> str:
    """The page an email-change confirmation link opens.

    Args:
        locale: ``"en-US"`` or ``"pt-BR"`` (others fall back to en-US).
        changed: Whether the email was changed.

    Returns:
        The HTML document.
    """
    return _message_page(locale, "email_changed" if changed else "email_change_failed")


def password_reset_page(locale: str, *, token: str | None, action: str) -> str:
    """The page a password-reset link opens: a form for the new password.

    Args:
        locale: ``"en-US"`` or ``"pt-BR"`` (others fall back to en-US).
        token: The token from the link; None shows an error instead of the form.
        action: The URL of ``POST /password-reset/confirm``.

    Returns:
        The HTML document.
    """
    if not token:
        return _message_page(locale, "reset_missing")
    texts = _texts(locale)
    form = (
        f'<form id="reset" method="post" action="{escape(action)}" data-action="{escape(action)}" '
        f'data-token="{escape(token)}" data-mismatch="{escape(texts["mismatch"])}" '
        f'data-done="{escape(texts["reset_done"])}" '
        f'data-failed="{escape(texts["reset_failed"])}">\n'
        f'<label for="password">{escape(texts["new_password"])}</label>\n'
        '<input id="password" name="password" type="password" autocomplete="new-password" '
        "required>\n"
        f'<label for="repeat">{escape(texts["repeat_password"])}</label>\n'
        '<input id="repeat" name="repeat" type="password" autocomplete="new-password" required>\n'
        f'<button type="submit">{escape(texts["submit"])}</button>\n</form>\n'
        f'<p id="message" role="status"></p>\n<script>{_SCRIPT}</script>'
    )
    return _page(locale, texts["reset_title"], form)
