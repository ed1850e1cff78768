"""moto's SQS (``moto/sqs/models.py``) while replaying.

SQS's meaning depends on the clock: a received message is invisible until ``visible_at``, a
delayed one until ``delayed_until``, and old ones expire. moto reads the time through the module's
``unix_time``/``unix_time_millis``; while a record is replayed they return the time the record was
answered at, so a message received 10 s before the crash is still in flight for the rest of its
visibility timeout afterwards, with the receipt handle the client holds.

A replayed ReceiveMessage never waits: its ``WaitTimeSeconds`` becomes 0 (with the clock frozen,
a long poll would never end, and what it found is already in the journal before it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from basegear.cloud.protocol import AwsRequest

PATCHED = (
    ("moto.sqs.models", "unix_time"),  # while replaying only
    ("moto.sqs.models", "unix_time_millis"),  # while replaying only
)


class ReplayClock:
    def __init__(self) -> None:
        self.now = 0.0

    def unix_time(self, *_: object) -> float:
        return self.now

    def unix_time_millis(self, *_: object) -> float:
        return self.now * 1000.0


@contextmanager
def frozen_clock() -> Iterator[ReplayClock]:
    import moto.sqs.models as models

    clock = ReplayClock()
    saved = {name: getattr(models, name) for _, name in PATCHED}
    for name in saved:
        setattr(models, name, getattr(clock, name))
    try:
        yield clock
    finally:
        for name, original in saved.items():
            setattr(models, name, original)


def for_replay(request: AwsRequest) -> AwsRequest:
    """``request`` as it is replayed: a ReceiveMessage with ``WaitTimeSeconds`` 0."""
    if request.service != "sqs" or request.action != "ReceiveMessage":
        return request
    if "WaitTimeSeconds" in request.query:
        request = replace(request, query={**request.query, "WaitTimeSeconds": ["0"]})
    body = request.body
    if request.headers.get("x-amz-target"):  # the JSON protocol
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return request
        if isinstance(params, dict):
            params["WaitTimeSeconds"] = 0
            body = json.dumps(params).encode()
    elif body:  # the query protocol, form-encoded
        pairs = [
            (k, v) for k, v in parse_qsl(body.decode("utf-8", "replace")) if k != "WaitTimeSeconds"
        ]
        body = urlencode([*pairs, ("WaitTimeSeconds", "0")]).encode()
    return replace(request, body=body)
