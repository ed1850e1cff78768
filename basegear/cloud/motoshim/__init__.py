"""BaseGear's patches of moto internals, one module per moto service (``core`` for moto's
request machinery). Each module names every private moto attribute it replaces in a ``PATCHED``
tuple of ``(module, attribute)`` pairs, which ``tests/cloud/test_motoshim.py`` checks against
the installed moto so that an upgrade that moves one fails loudly.

:func:`install` applies the gateway's patches once per process; it is idempotent.
"""

from __future__ import annotations

import threading

_installed = False
_lock = threading.Lock()


def install() -> None:
    """Apply the patches the gateway relies on (request-path speed, Step Functions execution,
    no outbound calls, bucket policy conditions, API Gateway authorizers)."""
    global _installed
    with _lock:
        if _installed:
            return
        from basegear.cloud.motoshim import apigateway, core, s3, sns, stepfunctions

        core.install()
        apigateway.install()
        stepfunctions.install()
        sns.install()
        s3.install()
        _installed = True
