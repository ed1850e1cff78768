"""moto's request core (``moto/core/responses.py``): two per-request costs taken out.

- ``method_names_from_class`` lists a response class's methods with ``inspect.getmembers`` on
  every request (~60 µs for DynamoDB); the methods of a class do not change, so each class is
  listed once.
- ``gen_amzn_requestid_long`` draws the 52-character request id with 52 ``random.choice``
  calls; one ``choices`` call draws the same alphabet from the same seeded generator.
- moto lists each service's regions through one boto3 session of its own
  (``AccountSpecificBackend.get_session``, ``moto/core/base_backend.py``), which parses
  ``endpoints.json`` and the service's whole ``service-2.json`` when the service is first used;
  that session is given the process's shared botocore loader (:mod:`basegear.awsdata`), so the
  files the deploy's and the CloudFormation provider's clients parse are parsed once.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable
from typing import Any

PATCHED = (
    ("moto.core.responses", "method_names_from_class"),
    ("moto.core.responses", "gen_amzn_requestid_long"),
    ("moto.core.base_backend", "AccountSpecificBackend"),  # its get_session's data loader
)

_REQUEST_ID_ALPHABET = string.ascii_uppercase + string.digits


def install() -> None:
    import moto.core.responses as responses
    from moto.core.base_backend import AccountSpecificBackend

    from basegear.awsdata import share_loader

    share_loader(AccountSpecificBackend.get_session()._session)  # a boto3 Session's botocore one
    original = getattr(responses, "method_names_from_class")  # noqa: B009 (not re-exported)
    if getattr(original, "basegear_patch", False):
        return
    setattr(responses, "method_names_from_class", _cached_method_names(original))  # noqa: B010
    setattr(responses, "gen_amzn_requestid_long", _request_id)  # noqa: B010


def _cached_method_names(original: Callable[[object], list[str]]) -> Callable[[object], Any]:
    cache: dict[object, frozenset[str]] = {}
    lock = threading.Lock()

    def method_names_from_class(clazz: object) -> frozenset[str]:
        names = cache.get(clazz)
        if names is None:
            with lock:
                names = cache[clazz] = frozenset(original(clazz))
        return names  # moto only tests membership: ``action in method_names``

    method_names_from_class.basegear_patch = True  # type: ignore[attr-defined]
    return method_names_from_class


def _request_id(headerdict: dict[str, Any] | None = None) -> str:
    """The ``x-amzn-RequestId`` moto gives JSON responses: 52 upper-case letters and digits,
    as DynamoDB's request ids look."""
    from moto.moto_api._internal import mock_random

    request_id = "".join(mock_random.choices(_REQUEST_ID_ALPHABET, k=52))
    if isinstance(headerdict, dict):
        headerdict["x-amzn-requestid"] = request_id
    return request_id
