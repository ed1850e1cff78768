"""SSM Parameter Store values, cached in memory for a time-to-live.

Lambda keeps a function's execution environment, and with it this module's state, between
invocations. Caching a parameter here saves a GetParameter call on every warm invocation while
still picking up a changed value within the time-to-live::

    from ssm_cache import ParameterNotFound, get_parameter

    try:
        limit = int(get_parameter("/algorithms/dev/max-package-size-bytes"))
    except ParameterNotFound:
        limit = DEFAULT_LIMIT

The time-to-live is SSM_CACHE_TTL_SECONDS (300 when unset). A missing parameter is cached too,
so looking it up again within the time-to-live raises ParameterNotFound without a call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

__all__ = ["ParameterCache", "ParameterNotFound", "get_parameter"]


class ParameterNotFound(KeyError):
    """The parameter does not exist (SSM error code ParameterNotFound)."""


class ParameterCache:
    def __init__(
        self,
        *,
        ttl_seconds: float | None = None,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds is None:
            ttl_seconds = float(os.environ.get("SSM_CACHE_TTL_SECONDS", "300"))
        self._ttl_seconds = ttl_seconds
        self._client = client
        self._clock = clock
        # name -> (expiry on the clock, value or None when the parameter does not exist)
        self._entries: dict[str, tuple[float, str | None]] = {}

    def get(self, name: str) -> str:
        """The parameter's value, decrypted if it is a SecureString."""
        now = self._clock()
        entry = self._entries.get(name)
        if entry is None or entry[0] <= now:
            entry = (now + self._ttl_seconds, self._fetch(name))
            self._entries[name] = entry
        if entry[1] is None:
            raise ParameterNotFound(name)
        return entry[1]

    def invalidate(self, name: str | None = None) -> None:
        """Forget one parameter, or all of them, so the next get() reads SSM again."""
        if name is None:
            self._entries.clear()
        else:
            self._entries.pop(name, None)

    def _fetch(self, name: str) -> str | None:
        if self._client is None:
            self._client = boto3.client("ssm")
        try:
            response = self._client.get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise
        value: str = response["Parameter"]["Value"]
        return value


_default_cache = ParameterCache()


def get_parameter(name: str) -> str:
    """Read a parameter through the module's shared cache."""
    return _default_cache.get(name)
