"""The SQL of the auth flow: one repository per table, over the request's session.

The services (:mod:`tempest.contrib.auth.service` and the modules it assembles) hold the
rules and the transactions; the statements they run live here. Each repository is a
:class:`~tempest.db.BaseRepository` of the model it is given (the project's user model,
and the token tables made for it by ``make_user_*_model``), so the generic methods
(``get_by_id``, ``list``, ...) are there too.

The claims (:meth:`EmailTokenRepository.claim`, :meth:`RefreshTokenRepository.claim`,
:meth:`RecoveryCodeRepository.claim`, :meth:`UserRepository.claim_totp_step`) are
conditional UPDATEs: when the same token or code arrives twice at once, exactly one
request changes the row and wins, on every database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.auth.base import (
    BaseUserModel,
    BaseUserRecoveryCodeModel,
    BaseUserRefreshTokenModel,
    BaseUserTokenModel,
    UserTokenPurpose,
    normalize_email,
)
from tempest.db import BaseRepository
from tempest.utils import utcnow

__all__ = [
    "EmailTokenRepository",
    "RecoveryCodeRepository",
    "RefreshTokenRepository",
    "UserRepository",
]


def _changed_one(result: Any) -> bool:
    """Whether an UPDATE changed exactly one row (the caller won the claim)."""
    return getattr(result, "rowcount", 0) == 1


class UserRepository(BaseRepository[BaseUserModel]):
    """Users of the project's user model (``AUTH_USER_MODEL``)."""

    def __init__(self, session: AsyncSession, model: type[BaseUserModel]) -> None:
        """Bind to ``session`` and the user model.

        Args:
            session: The request's session.
            model: The user model, e.g. :func:`~tempest.contrib.auth.get_user_model`'s.
        """
        super().__init__(session, model=model)

    async def by_id(self, user_id: uuid.UUID) -> BaseUserModel | None:
        """The user with this id, or None (from the session's identity map when loaded)."""
        return await self.session.get(self.model, user_id)

    async def by_email(self, email: str) -> BaseUserModel | None:
        """The user with this email (compared normalized), or None."""
        model = self.model
        found: BaseUserModel | None = await self.session.scalar(
            select(model).where(model.email == normalize_email(email))
        )
        return found

    async def insert(self, user: BaseUserModel) -> BaseUserModel:
        """Add ``user`` and flush, so that a taken email raises ``IntegrityError`` now."""
        self.session.add(user)
        await self.session.flush()
        return user

    async def claim_totp_step(self, user: Any, step: int) -> bool:
        """Record ``step`` as the user's last used TOTP step if it is newer than the last.

        Args:
            user: A user with the :class:`~tempest.contrib.auth.base.MFAMixin` columns.
            step: The time step of the code accepted.

        Returns:
            Whether this call stored it (False: another request used the step first).
        """
        model = type(user)
        claimed = await self.session.execute(
            update(model)
            .where(
                model.id == user.id,
                model.mfa_last_used_step.is_(None) | (model.mfa_last_used_step < step),
            )
            .values(mfa_last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return _changed_one(claimed)


class EmailTokenRepository(BaseRepository[BaseUserTokenModel]):
    """The single-use tokens sent by email (activation, password reset, email change)."""

    def __init__(self, session: AsyncSession, model: type[BaseUserTokenModel]) -> None:
        """Bind to ``session`` and the user's token model."""
        super().__init__(session, model=model)

    async def issue(
        self, user_id: uuid.UUID, purpose: UserTokenPurpose, token_hash: str, expires_at: datetime
    ) -> None:
        """Store the digest of a new token."""
        self.session.add(
            self.model(
                user_id=user_id,
                purpose=purpose.value,
                token_hash=token_hash,
                expires_at=expires_at,
            )
        )
        await self.session.flush()

    async def find(self, token_hash: str, purpose: UserTokenPurpose) -> BaseUserTokenModel | None:
        """The token row with this digest and purpose, used or not, or None."""
        model = self.model
        found: BaseUserTokenModel | None = await self.session.scalar(
            select(model).where(model.token_hash == token_hash, model.purpose == purpose.value)
        )
        return found

    async def claim(self, token_id: uuid.UUID) -> bool:
        """Mark the token used if it is not yet; whether this call did."""
        model = self.model
        claimed = await self.session.execute(
            update(model)
            .where(model.id == token_id, model.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return _changed_one(claimed)

    async def use_up(self, user_id: uuid.UUID, purpose: UserTokenPurpose) -> None:
        """Mark every unused ``purpose`` token of the user used: links sent earlier die."""
        model = self.model
        await self.session.execute(
            update(model)
            .where(
                model.user_id == user_id,  # type: ignore[attr-defined]
                model.purpose == purpose.value,
                model.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )


class RefreshTokenRepository(BaseRepository[BaseUserRefreshTokenModel]):
    """Refresh tokens: one row per token, grouped in families (one per sign-in)."""

    def __init__(self, session: AsyncSession, model: type[BaseUserRefreshTokenModel]) -> None:
        """Bind to ``session`` and the user's refresh-token model."""
        super().__init__(session, model=model)

    async def issue(
        self,
        user_id: uuid.UUID,
        token_hash: str,
        family_id: uuid.UUID,
        expires_at: datetime,
        session_version: int,
    ) -> None:
        """Store the digest of a new refresh token of ``family_id``."""
        self.session.add(
            self.model(
                user_id=user_id,
                token_hash=token_hash,
                family_id=family_id,
                expires_at=expires_at,
                session_version=session_version,
            )
        )
        await self.session.flush()

    async def find(self, token_hash: str) -> BaseUserRefreshTokenModel | None:
        """The refresh token with this digest, whatever its state, or None."""
        model = self.model
        found: BaseUserRefreshTokenModel | None = await self.session.scalar(
            select(model).where(model.token_hash == token_hash)
        )
        return found

    async def claim(self, token_id: uuid.UUID) -> bool:
        """Mark the token used if it is neither used nor revoked; whether this call did."""
        model = self.model
        claimed = await self.session.execute(
            update(model)
            .where(model.id == token_id, model.used_at.is_(None), model.revoked_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return _changed_one(claimed)

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        """Revoke every token of a family (one sign-in and its rotations)."""
        model = self.model
        await self.session.execute(
            update(model)
            .where(model.family_id == family_id, model.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def revoke_all(self, user_id: uuid.UUID) -> None:
        """Revoke every token of the user."""
        model = self.model
        await self.session.execute(
            update(model)
            .where(model.user_id == user_id, model.revoked_at.is_(None))  # type: ignore[attr-defined]
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )


class RecoveryCodeRepository(BaseRepository[BaseUserRecoveryCodeModel]):
    """The digests of the MFA recovery codes, each usable once."""

    def __init__(self, session: AsyncSession, model: type[BaseUserRecoveryCodeModel]) -> None:
        """Bind to ``session`` and the user's recovery-code model."""
        super().__init__(session, model=model)

    async def replace(self, user_id: uuid.UUID, code_hashes: Iterable[str]) -> None:
        """Drop the user's codes and store these instead."""
        await self.delete_all(user_id)
        self.session.add_all(
            self.model(user_id=user_id, code_hash=code_hash) for code_hash in code_hashes
        )
        await self.session.flush()

    async def delete_all(self, user_id: uuid.UUID) -> None:
        """Drop every code of the user."""
        model = self.model
        await self.session.execute(delete(model).where(model.user_id == user_id))  # type: ignore[attr-defined]

    async def claim(self, user_id: uuid.UUID, code_hash: str) -> bool:
        """Use up the user's unused code with this digest; whether this call did."""
        model = self.model
        claimed = await self.session.execute(
            update(model)
            .where(
                model.user_id == user_id,  # type: ignore[attr-defined]
                model.code_hash == code_hash,
                model.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return _changed_one(claimed)
