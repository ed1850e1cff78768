"""The boto3 clients the provider creates resources with: one per service and region, made
once and shared (boto3 clients are thread-safe).

- ``against(url)`` points them at the local cloud's gateway, with dummy credentials, so that
  every resource goes through the path a user's code takes;
- ``following_requests()`` learns the gateway's address from the first request the provider
  answers (its Host header), for a provider registered before the gateway picked its port;
- ``in_process()`` leaves the endpoint alone, for moto's ``mock_aws``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from basegear.awsdata import boto3_session

ClientFactory = Callable[[str, str], Any]

# A custom resource's function may run as long as Lambda allows (900 s); the provider retries
# nothing itself: a failed call fails the resource, as a handler error does on AWS.
CONFIG = Config(
    read_timeout=910,
    connect_timeout=5,
    retries={"total_max_attempts": 1},
    account_id_endpoint_mode="disabled",
)


class Clients:
    def __init__(
        self,
        endpoint_url: str | None,
        session: boto3.Session | None = None,
        *,
        follow_requests: bool = False,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.follow_requests = follow_requests
        self.session = session or boto3_session(
            aws_access_key_id="test", aws_secret_access_key="test"
        )
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def seen(self, host: str | None) -> None:
        """A request came in through ``host``: use it as the endpoint if none is set yet."""
        if self.follow_requests and self.endpoint_url is None and host:
            with self._lock:
                self.endpoint_url = f"http://{host}"

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                extra = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
                self._clients[key] = self.session.client(
                    service, region_name=region, config=CONFIG, **extra
                )
            return self._clients[key]


def against(endpoint_url: str) -> Clients:
    """Clients for the local cloud at ``endpoint_url`` (e.g. ``http://127.0.0.1:4566``)."""
    return Clients(endpoint_url)


def in_process() -> Clients:
    """Clients without an endpoint: inside ``moto.mock_aws()`` they reach moto directly."""
    return Clients(None)


def following_requests() -> Clients:
    """Clients for the gateway that the provider's requests come through."""
    return Clients(None, follow_requests=True)
