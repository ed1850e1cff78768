"""Request IDs, drawn from one generator seeded from ``os.urandom``: every request to an API
and every invocation gets one, and ``uuid.uuid4()`` costs a system call each time.

They identify requests in logs and responses; nothing secret depends on them.
"""

from __future__ import annotations

import base64
import os
import random

_RANDOM = random.Random(os.urandom(32))
_VERSION_4 = 0x4000 << 64  # the version nibble, bits 76-79
_VARIANT = 0x8000 << 48  # the RFC 4122 variant, bits 62-63
_CLEARED = ~((0xF000 << 64) | (0xC000 << 48))


def request_id() -> str:
    """A random (version 4) UUID, ``6f1c…-…``, as Lambda and API Gateway print request IDs."""
    number = (_RANDOM.getrandbits(128) & _CLEARED) | _VERSION_4 | _VARIANT
    digits = number.to_bytes(16, "big").hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def extended_request_id() -> str:
    """API Gateway's ``x-amz-apigw-id``: ten random bytes, base64."""
    return base64.b64encode(_RANDOM.randbytes(10)).decode("ascii")
