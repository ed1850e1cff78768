"""moto's SNS (``moto/sns/models.py``): HTTP(S) subscriptions deliver only on this machine.

AWS posts each notification to an ``http``/``https`` subscription's endpoint (SNS developer
guide, "Fanout to HTTP/S endpoints"); moto does the same with ``requests.post``. A local cloud
must never reach the network beyond loopback, so the module's ``requests`` global is replaced by
:class:`_LoopbackOnly`, which posts to loopback endpoints (an API on this machine, the local
cloud's own API Gateway) and drops any other delivery with a warning.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

LOG = logging.getLogger(__name__)

PATCHED = (("moto.sns.models", "requests"),)


def install() -> None:
    import moto.sns.models as models

    current = getattr(models, "requests")  # noqa: B009 (not re-exported)
    if not isinstance(current, _LoopbackOnly):
        setattr(models, "requests", _LoopbackOnly(current))  # noqa: B010


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine: ``localhost``, ``*.localhost``, 127.0.0.0/8 or ::1."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _LoopbackOnly:
    """The part of ``requests`` moto's SNS uses (``post``), limited to loopback URLs."""

    def __init__(self, requests: Any) -> None:
        self._requests = requests

    def post(self, url: str, **kwargs: Any) -> Any:
        if not is_loopback(url):
            LOG.warning("SNS delivery to %s dropped: the local cloud only reaches loopback", url)
            return None
        kwargs.setdefault("timeout", 10)
        with self._requests.Session() as session:
            session.trust_env = False  # no HTTP(S)_PROXY detour for a loopback address
            return session.post(url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)
