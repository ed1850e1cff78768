"""Pickling the local cloud's state: the standard pickler, taught a few types it refuses.

moto's backends pickle except for a handful of objects (shared/reference/moto-and-peers.md,
"Persistence"); these are saved as what they stand for, never as their live innards:

- locks (``threading.Lock``/``RLock``) come back new and unlocked: no thread holds anything in
  a new process;
- a ``threading.Condition`` comes back new, with no waiters (an SQS queue's, a Step Functions
  environment's): the threads that waited on it are gone;
- a ``weakref.WeakValueDictionary`` comes back with the same entries; its values are saved
  strongly, so they are restored as long as the rest of the state refers to them (moto keeps
  each function in both a dict and a weak ARN index);
- a ``defaultdict`` whose factory is a function local to a moto ``__init__`` (which pickle
  cannot name) gets the equivalent named factory registered for it in :data:`FACTORIES` by the
  service's shim module; an unknown one still fails, loudly;
- a ``threading.Thread`` comes back as None: a worker thread does not survive a restart;
- an RSA private key (SNS's message-signing key) is saved as its PEM bytes and loaded back;
- a dict subclass whose ``__init__`` takes other arguments than a plain dict's (SSM's
  ``ParameterDict``), registered by name in :data:`BY_NAME`, comes back made with ``__new__``
  and its attributes and items set (:func:`reduce_dict_subclass`).

Only this process's own files are ever unpickled (the state directory's snapshots and
journal), never data from elsewhere.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any

FACTORIES: dict[str, Callable[[], Any]] = {}
"""``__qualname__`` of a moto-local defaultdict factory → an equivalent module-level one."""

BY_NAME: dict[tuple[str, str], Callable[[Any], Any]] = {}
"""(module, class name) → reducer, for classes of modules that may not be imported yet."""

_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())


def _nothing() -> None:
    return None


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _reduce_lock(_: object) -> tuple[Any, tuple[()]]:
    return threading.Lock, ()


def _reduce_rlock(_: object) -> tuple[Any, tuple[()]]:
    return threading.RLock, ()


def _reduce_condition(_: object) -> tuple[Any, tuple[()]]:
    return threading.Condition, ()


def _reduce_thread(_: object) -> tuple[Any, tuple[()]]:
    return _nothing, ()


def _reduce_weak_values(obj: weakref.WeakValueDictionary[Any, Any]) -> tuple[Any, ...]:
    return _weak_values, (dict(obj.items()),)


def _reduce_defaultdict(obj: defaultdict[Any, Any]) -> tuple[Any, ...]:
    factory = obj.default_factory
    if factory is not None and "<locals>" in getattr(factory, "__qualname__", ""):
        replacement = FACTORIES.get(factory.__qualname__)
        if replacement is None:
            raise pickle.PicklingError(
                f"a defaultdict's factory {factory.__qualname__} cannot be saved: register an "
                "equivalent in basegear.cloud.state.pickling.FACTORIES"
            )
        factory = replacement
    return defaultdict, (factory,), None, None, iter(obj.items())


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _reduce_private_key(key: Any) -> tuple[Any, ...]:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _load_private_key, (pem,)


def _private_key_types() -> dict[type, Callable[[Any], Any]]:
    """The concrete key classes of the cryptography package (its ABCs are not pickle types)."""
    from cryptography.hazmat.bindings._rust import openssl

    return {
        openssl.rsa.RSAPrivateKey: _reduce_private_key,
        openssl.ec.ECPrivateKey: _reduce_private_key,
    }


_DISPATCH: dict[type, Callable[[Any], Any]] = {
    **copyreg.dispatch_table,
    _LOCK: _reduce_lock,
    _RLOCK: _reduce_rlock,
    threading.Condition: _reduce_condition,
    threading.Thread: _reduce_thread,
    weakref.WeakValueDictionary: _reduce_weak_values,
    defaultdict: _reduce_defaultdict,
}


def _rebuild_dict(cls: type[dict[Any, Any]], factory: Callable[[], Any] | None) -> Any:
    made = cls.__new__(cls)
    if factory is not None:
        made.default_factory = factory  # type: ignore[attr-defined]
    return made


def reduce_dict_subclass(obj: dict[Any, Any]) -> tuple[Any, ...]:
    """A dict (or defaultdict) subclass saved without calling its ``__init__``."""
    factory = getattr(obj, "default_factory", None)
    return _rebuild_dict, (type(obj), factory), dict(vars(obj)), None, iter(dict.items(obj))


def _dispatch_table() -> dict[type, Callable[[Any], Any]]:
    table = dict(_DISPATCH)
    table.update(_private_key_types())
    for (module_name, class_name), reducer in BY_NAME.items():
        module = sys.modules.get(module_name)
        if module is not None:
            table[getattr(module, class_name)] = reducer
    return table


def dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump(value)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)
