"""Structured logging for the algorithms handlers.

Each log record is written to stdout as one JSON object, which Lambda forwards to the
function's CloudWatch Logs log group. Fields passed as keyword arguments become keys of that
object, so they can be queried with CloudWatch Logs Insights::

    LOG = get_logger(__name__)

    @inject_lambda_context
    def handler(event, context):
        LOG.info("Recorded upload", algorithmId="a1", uploadVersion="3")

The level comes from the LOG_LEVEL environment variable (INFO when unset).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = ["JsonFormatter", "StructuredLogger", "get_logger", "inject_lambda_context"]

EventT = TypeVar("EventT")
ResultT = TypeVar("ResultT")

# Fields describing the current invocation, added to every record it logs.
_invocation: ContextVar[Mapping[str, Any]] = ContextVar(
    "custom_logging_invocation", default=MappingProxyType({})
)

# Module state lives as long as the execution environment, so only its first invocation is cold.
_cold_start = True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_invocation.get())
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            entry["errorType"] = record.exc_info[0].__name__
            entry["stackTrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class StructuredLogger:
    """A logger whose keyword arguments are written as fields of the JSON record."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def debug(self, message: str, **fields: Any) -> None:
        self._log(logging.DEBUG, message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log(logging.WARNING, message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log(logging.ERROR, message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        """Log at ERROR level with the exception being handled."""
        self._log(logging.ERROR, message, fields, exc_info=True)

    def _log(
        self, level: int, message: str, fields: dict[str, Any], *, exc_info: bool = False
    ) -> None:
        if self._logger.isEnabledFor(level):
            # stacklevel 3 reports the caller of debug()/info()/... as the record's origin.
            self._logger.log(
                level, message, exc_info=exc_info, extra={"fields": fields}, stacklevel=3
            )


def get_logger(name: str) -> StructuredLogger:
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        # The Lambda runtime puts its own handler on the root logger; not propagating keeps
        # each record from being written twice.
        logger.propagate = False
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    return StructuredLogger(logger)


def inject_lambda_context(
    handler: Callable[[EventT, Any], ResultT],
) -> Callable[[EventT, Any], ResultT]:
    """Add the request ID, function name and version, and cold start to each record."""

    @functools.wraps(handler)
    def wrapper(event: EventT, context: Any) -> ResultT:
        global _cold_start
        token = _invocation.set(
            {
                "requestId": context.aws_request_id,
                "functionName": context.function_name,
                "functionVersion": context.function_version,
                "coldStart": _cold_start,
            }
        )
        _cold_start = False
        try:
            return handler(event, context)
        finally:
            _invocation.reset(token)

    return wrapper
