"""structlog configured once; stdlib loggers (uvicorn, SQLAlchemy, Alembic) go through it too.

No log line may carry what a user sent. Exception messages are where it slips in: PostgreSQL
quotes the offending value ("invalid input syntax for type integer: ..."), SQLAlchemy appends the
statement's parameters, a ValueError repeats its input. So tracebacks are rendered with their
frames and exception types (and SQLSTATE for database errors) but without any message, and a
metric name outside the catalog (which the user chose) is logged as a digest.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

import structlog

from app.ingest.catalog import KNOWN

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def configure(*, json: bool, level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            without_payload,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def without_payload(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: the exception as a message-free traceback; user-chosen metric names
    as digests."""
    exc_info = _exc_info(event_dict.pop("exc_info", None))
    if exc_info is not None:
        event_dict["exception"] = message_free_traceback(exc_info[1])
    metric = event_dict.get("metric")
    if isinstance(metric, str) and metric not in KNOWN:
        event_dict["metric"] = "unknown-" + hashlib.sha256(metric.encode()).hexdigest()[:12]
    return event_dict


def _exc_info(value: object) -> ExcInfo | None:
    if value is True:
        current = sys.exc_info()
        return None if current[1] is None else current
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value
    return None


def message_free_traceback(exc: BaseException) -> str:
    """Each exception of the chain as frames plus type (and SQLSTATE), oldest first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    parts = []
    for item in reversed(chain):
        frames = traceback.format_list(traceback.extract_tb(item.__traceback__))
        parts.append("Traceback (most recent call last):\n" + "".join(frames) + _label(item))
    return "\n\nDuring handling of the above exception, another was raised:\n\n".join(parts)


def _label(exc: BaseException) -> str:
    kind = type(exc)
    name = f"{kind.__module__}.{kind.__qualname__}"
    sqlstate = getattr(exc, "sqlstate", None) or getattr(
        getattr(exc, "orig", None), "sqlstate", None
    )
    return f"{name} (SQLSTATE {sqlstate})" if sqlstate else name
