"""moto's S3 (``moto/s3/models.py``): the one id it does not draw from moto's random source.

A multipart upload's id comes from ``os.urandom`` (``FakeMultipart.__init__``), so a replayed
CreateMultipartUpload would get another id and the UploadPart/CompleteMultipartUpload records
after it would name an upload that does not exist. The module's ``os`` is replaced by a view of
``os`` whose ``urandom`` draws from moto's random source (moto_core.py), which replay seeds."""

from __future__ import annotations

import os
from typing import Any

PATCHED = (("moto.s3.models", "os"),)


class _SeededOs:
    """``os``, except that ``urandom`` draws from moto's (seeded) random source."""

    def urandom(self, size: int) -> bytes:
        from moto.moto_api._internal import mock_random

        data: bytes = mock_random.randbytes(size)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def install() -> None:
    import moto.s3.models as models

    if not isinstance(getattr(models, "os"), _SeededOs):  # noqa: B009 (not re-exported)
        setattr(models, "os", _SeededOs())  # noqa: B010
