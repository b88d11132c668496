"""Emails of the auth flow: the single-use tokens they carry, and sending after the answer.

:class:`EmailMethods` issues and checks the emailed tokens (activation, password reset,
email change; stored as peppered digests by
:class:`~tempest.contrib.auth.repositories.EmailTokenRepository`) and sends the emails,
usually after the response (``BackgroundTasks``), so that neither the answer nor its timing
tells whether an account exists. A failure to send is logged, never raised.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTasks

from tempest.contrib.auth.base import BaseUserModel, BaseUserTokenModel, UserTokenPurpose
from tempest.contrib.auth.core import AuthServiceCore, LinkBuilder
from tempest.db import atomic
from tempest.exceptions import (
    AppException,
    ExpiredTokenException,
    ImproperlyConfigured,
    InvalidTokenException,
)
from tempest.utils import utcnow
from tempest.utils.opaque_tokens import generate_opaque_token

__all__ = ["EmailMethods"]

# The name the documentation gives (docs/topics/email.md): where operators find the
# emails that were not sent. It predates the split of the service into modules.
logger = logging.getLogger("tempest.contrib.auth.service")

_EMAILS: dict[UserTokenPurpose, tuple[str, str]] = {
    UserTokenPurpose.ACTIVATION: ("activation", "/activate"),
    UserTokenPurpose.PASSWORD_RESET: ("password_reset", "/password-reset"),
}
"""The email template and the page path of each kind of emailed token."""


class _EmailJob(NamedTuple):
    """An email to send after the response, and the template's name for the log."""

    run: Callable[[], Awaitable[None]]
    template: str


async def _run_logged(job: _EmailJob) -> None:
    """Run an email job; log a failure instead of raising it (nobody waits for it)."""
    try:
        await job.run()
    except Exception as error:  # a background job has no caller to raise to
        cause = error.__cause__ if isinstance(error, AppException) and error.__cause__ else error
        logger.error("%s email not sent: %s", job.template, cause, exc_info=error)


class EmailMethods(AuthServiceCore):
    """Emailed tokens and sending emails: what signup, reset and email change share."""

    async def _later(self, background: BackgroundTasks | None, job: _EmailJob) -> None:
        """Run ``job`` after the response when ``background`` is given, else now.

        Either way a failure is logged (``tempest.contrib.auth.service``, level ERROR) and
        not raised: the answer must not depend on whether an email went out.
        """
        if background is None:
            await _run_logged(job)
        else:
            background.add_task(_run_logged, job)

    def _token_email_job(
        self,
        user_id: uuid.UUID,
        purpose: UserTokenPurpose,
        ttl: timedelta,
        link: LinkBuilder | None,
        locale: str | None,
    ) -> _EmailJob:
        """A job that issues an emailed token in its own session, then sends the email.

        The token is committed before the email leaves, so the link works when it arrives.
        """
        template, path = _EMAILS[purpose]

        async def job() -> None:
            # work_session: in a project's tests it is the test's db_session (which holds
            # the new user), so the email reaches `mailoutbox`.
            from tempest.db.session import work_session

            async with work_session() as session:
                user = await self.get_user(session, user_id)
                if user is None:
                    return
                async with atomic(session):
                    token = await self._issue_email_token(session, user, purpose, ttl)
                to = user.email
            await self._send(to, template, self._link(link, path, token), locale)

        return _EmailJob(job, template)

    def _email_job(
        self, to: str, template: str, link: str | None, locale: str | None, **context: Any
    ) -> _EmailJob:
        async def job() -> None:
            await self._send(to, template, link or "", locale, **context)

        return _EmailJob(job, template)

    async def _issue_email_token(
        self, session: AsyncSession, user: BaseUserModel, purpose: UserTokenPurpose, ttl: timedelta
    ) -> str:
        """A new emailed token of ``purpose``; its digest is stored, the token returned."""
        token = generate_opaque_token()
        await self._email_tokens(session).issue(
            user.id, purpose, self._digest(token), utcnow() + ttl
        )
        return token

    async def _use_email_token(
        self, session: AsyncSession, token: str, purpose: UserTokenPurpose
    ) -> BaseUserTokenModel:
        """Use up an emailed token of ``purpose``: once, even when sent twice at once.

        Raises:
            InvalidTokenException: Unknown or already used token (401).
            ExpiredTokenException: The token expired (401).
        """
        tokens = self._email_tokens(session)
        row = await self._find_digest(lambda digest: tokens.find(digest, purpose), token)
        if row is None or row.used_at is not None:
            raise InvalidTokenException()
        if row.is_expired:
            raise ExpiredTokenException()
        if not await tokens.claim(row.id):
            raise InvalidTokenException()
        return row

    async def _use_up_email_tokens(
        self, session: AsyncSession, user: BaseUserModel, purpose: UserTokenPurpose
    ) -> None:
        """Mark the user's unused ``purpose`` tokens used: links sent earlier die."""
        await self._email_tokens(session).use_up(user.id, purpose)

    def _link(self, builder: LinkBuilder | None, path: str, token: str) -> str:
        if builder is not None:
            return builder(token)
        link = self.frontend_link(path, token)
        if link is None:
            raise ImproperlyConfigured(
                f"No link for the {path.strip('/')} email: set AUTH_FRONTEND_URL, or pass a "
                "link builder (make_auth_router does, pointing at its own pages)."
            )
        return link

    async def _send(
        self, to: str, template: str, link: str, locale: str | None, **extra: Any
    ) -> None:
        from tempest.mail import EmailError

        context = {"link": link, "email": to, "app_name": self.totp.issuer, **extra}
        try:
            await self.mailer.send_template(to, template, context, locale=locale)
        except EmailError as error:
            raise AppException(
                "The email could not be sent; try again later",
                code="EMAIL_NOT_SENT",
                status_code=503,
            ) from error
