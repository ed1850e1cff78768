"""moto's Lambda (``moto/awslambda/models.py``) as durable state needs it.

- Saving: ``LambdaStorage._aliases`` is a ``defaultdict`` whose factory is a lambda local to
  ``LambdaStorage.__init__`` (an empty dict per function); pickle cannot name it, so it is saved
  with the equivalent :func:`_no_aliases`. Its weak ARN index is handled by pickling.py.
- Replaying: a replayed write must not run a function again — what the handler did was recorded
  as its own requests (it called the local cloud over HTTP). While replaying, the two methods every
  moto caller reaches a function through (SNS, S3 and EventBridge deliveries, moto's own
  mappings; see basegear/cloud/motoshim/awslambda.py) answer an empty result instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from basegear.cloud.state.pickling import FACTORIES

PATCHED = (
    ("moto.awslambda.models.LambdaBackend", "invoke"),  # while replaying only
    ("moto.awslambda.models.LambdaFunction", "invoke"),  # while replaying only
)
READ = (("moto.awslambda.models.LambdaStorage", "_aliases"),)  # its defaultdict factory

ALIASES_FACTORY = "LambdaStorage.__init__.<locals>.<lambda>"


def _no_aliases() -> dict[str, Any]:
    return {}


FACTORIES[ALIASES_FACTORY] = _no_aliases


def _not_run(*_: Any, **__: Any) -> bytes:
    return b""


@contextmanager
def invocations_skipped() -> Iterator[None]:
    from moto.awslambda import models

    owners = (models.LambdaBackend, models.LambdaFunction)
    saved = [(owner, owner.__dict__["invoke"]) for owner in owners]
    for owner in owners:
        owner.invoke = _not_run  # type: ignore[method-assign]
    try:
        yield
    finally:
        for owner, original in saved:
            owner.invoke = original  # type: ignore[method-assign]
