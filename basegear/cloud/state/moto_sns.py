"""moto's SNS (``moto/sns/models.py``) while replaying: an HTTP(S) subscription is delivered to
with the module's ``requests`` (basegear/cloud/motoshim/sns.py limits it to loopback). A replayed
Publish must not post again — the endpoint got it the first time, and the local cloud is not
serving yet — so while replaying ``requests`` is one whose ``post`` sends nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PATCHED = (("moto.sns.models", "requests"),)  # while replaying only


class _NoDelivery:
    def post(self, *_: Any, **__: Any) -> None:
        return None


@contextmanager
def deliveries_skipped() -> Iterator[None]:
    import moto.sns.models as models

    saved = getattr(models, "requests")  # noqa: B009 (not re-exported)
    setattr(models, "requests", _NoDelivery())  # noqa: B010
    try:
        yield
    finally:
        setattr(models, "requests", saved)  # noqa: B010
