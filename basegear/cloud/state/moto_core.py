"""moto's core (``moto/core``, ``moto/moto_api``) as durable state uses it: its backends, and the
random source every moto service draws its ids from.

- **Backends.** moto keeps each service's state in a module-level ``BackendDict``
  (``account → region → backend``); ``BackendDict._instances`` lists those in use. A snapshot
  saves the backends of every dict in use, all in one pickle so that references between them
  survive; restoring puts them back in the same dicts (found again by module and name).
- **Random ids.** moto draws ids, receipt handles and version ids from one ``MotoRandom``
  (``moto.moto_api._internal.mock_random``). Its methods are redirected: while a recorded request
  is answered, :data:`ACTIVE` holds a generator seeded from the request's journal record, and
  every draw made for that request — in whichever thread answers it — comes from there. Replay
  seeds the same generator, so a replayed request draws the same ids (a queue URL, a message id,
  a receipt handle the client still holds). Outside a recorded request draws come from a plain
  generator, which moto's own ``seed`` still seeds.
- **The request's time.** DynamoDB names a table's stream after the time it was enabled
  (``LatestStreamLabel``), so the stream's ARN holds that time. While a recorded request is
  answered, :data:`REQUEST_TIME` holds the time its journal record carries, and moto's DynamoDB
  reads the time from there; replay sets the same time, so a replayed CreateTable gives the same
  stream ARN that mappings and clients already hold.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

PATCHED = (
    ("moto.moto_api._internal", "mock_random"),  # its methods, on the instance
    ("moto.dynamodb.models.table", "utcnow"),
)
READ = (("moto.core.base_backend", "BackendDict"),)  # ._instances, the dicts in use

ACTIVE: ContextVar[Any] = ContextVar("basegear_moto_random", default=None)
"""The ``MotoRandom`` the current request draws from; None outside recorded requests."""

REQUEST_TIME: ContextVar[float | None] = ContextVar("basegear_request_time", default=None)
"""The time of the recorded request being answered (epoch seconds); None outside them."""

_REDIRECTED = (
    "random",
    "getrandbits",
    "randbytes",
    "choice",
    "choices",
    "sample",
    "shuffle",
    "randint",
    "randrange",
    "uniform",
    "uuid1",
    "uuid4",
    "get_random_hex",
    "get_random_string",
    "token_urlsafe",
)
_SEEDING = ("seed", "getstate", "setstate")
_installed = False
_moto_random: Any = None

MotoState = list[tuple[str, str, dict[str, dict[str, Any]]]]
"""(module, attribute of the BackendDict, account → region → backend), per dict in use."""


def new_random(seed: int) -> Any:
    """A generator of moto's own class (with ``uuid4``, ``get_random_hex``, …) seeded so."""
    global _moto_random
    if _moto_random is None:
        from moto.moto_api._internal.moto_random import MotoRandom

        _moto_random = MotoRandom
    return _moto_random(seed)


def install_random() -> None:
    """Redirect moto's random source as described above; idempotent."""
    global _installed
    if _installed:
        return
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    base = MotoRandom()
    base.setstate(mock_random.getstate())
    for name in _REDIRECTED:
        setattr(mock_random, name, _redirect(name, base))
    for name in _SEEDING:
        setattr(mock_random, name, getattr(base, name))
    import moto.dynamodb.models.table as table

    moto_utcnow: Callable[[], datetime] = vars(table)["utcnow"]

    def utcnow() -> datetime:
        at = REQUEST_TIME.get()
        if at is None:
            return moto_utcnow()
        return datetime.fromtimestamp(at, UTC).replace(tzinfo=None)  # moto's are naive UTC

    setattr(table, "utcnow", utcnow)  # noqa: B010 (not exported by moto's module)
    _installed = True


def _redirect(name: str, base: Any) -> Callable[..., Any]:
    def draw(*args: Any, **kwargs: Any) -> Any:
        source = ACTIVE.get()
        return getattr(base if source is None else source, name)(*args, **kwargs)

    draw.__name__ = name
    return draw


def check_moto() -> None:
    """Raise if moto no longer has what this module relies on."""
    from moto.core.base_backend import BackendDict
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    if not isinstance(mock_random, MotoRandom):
        raise RuntimeError("moto's mock_random is no longer a MotoRandom: update moto_core")
    if not isinstance(getattr(BackendDict, "_instances", None), list):
        raise RuntimeError("moto's BackendDict._instances moved: update moto_core")


# -- backends -------------------------------------------------------------------------------

_locations: dict[int, tuple[str, str]] = {}


def _in_use() -> list[Any]:
    from moto.core.base_backend import BackendDict

    in_use: list[Any] = getattr(BackendDict, "_instances")  # noqa: B009 (private)
    return list(in_use)


def _locate(backends: Any) -> tuple[str, str]:
    """Where a BackendDict is a module global: its service's models module first."""
    found = _locations.get(id(backends))
    if found is not None:
        return found
    home = backends.backend.__module__
    names = [home, home.rpartition(".")[0]]
    names += sorted(name for name in list(sys.modules) if name.startswith("moto."))
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if value is backends:
                _locations[id(backends)] = (name, attribute)
                return name, attribute
    raise RuntimeError(f"cannot find moto's {backends.service_name} backends by name")


def capture() -> MotoState:
    """Every backend in use, by the dict that holds it (not copied: pickle it right away)."""
    state: MotoState = []
    for backends in _in_use():
        module, attribute = _locate(backends)
        accounts = {
            account: dict(dict.items(regional)) for account, regional in list(dict.items(backends))
        }
        state.append((module, attribute, accounts))
    return state


def restore(state: MotoState) -> None:
    """Put saved backends back in their dicts, replacing what those dicts hold."""
    for module, attribute, accounts in state:
        backends = getattr(importlib.import_module(module), attribute)
        dict.clear(backends)
        for account, regions in accounts.items():
            regional = backends[account]  # made anew and registered as in use
            dict.clear(regional)
            for region, backend in regions.items():
                dict.__setitem__(regional, region, backend)
