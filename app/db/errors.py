"""What counts as a storage failure: a statement or the connection failed.

Hot-path statements go to asyncpg directly, so their errors arrive unwrapped (asyncpg's own), or
as SQLAlchemy's adapter raised them when BEGIN failed (EmulatedDBAPIException, which is not a
DBAPIError)."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, EmulatedDBAPIException, SQLAlchemyError

STORAGE_ERRORS = (
    DBAPIError,
    SQLAlchemyError,
    EmulatedDBAPIException,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
