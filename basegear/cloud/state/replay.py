"""Replaying the journal on start: each recorded write is answered again, in order, as it was.

A request record goes through the router (``Router.dispatch``: BaseGear's providers first, then
moto), exactly as it did the first time, with:

- moto's random source seeded from the record (moto_core.py), so it draws the same ids, and
  the record's time as moto DynamoDB's clock (moto_core.py), so streams keep their ARNs;
- SQS's clock set to the time the record was answered (moto_sqs.py);
- nothing run that ran outside the local cloud's state the first time, and whose own effects are
  recorded separately: no Lambda function is invoked (moto_lambda.py), no SNS HTTP delivery is
  posted (moto_sns.py), no Step Functions execution is started (moto_stepfunctions.py).

An image record puts a component's state back whole (recorder.py's ``Persistent``). A replayed
request that is not answered 2xx again is logged and skipped: the others still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from basegear.cloud.gateway import Router
from basegear.cloud.protocol import AwsRequest
from basegear.cloud.state import (
    moto_core,
    moto_lambda,
    moto_sns,
    moto_sqs,
    moto_stepfunctions,
    pickling,
)
from basegear.cloud.state.codec import ImageRecord, Record, RequestRecord
from basegear.cloud.state.moto_sqs import ReplayClock
from basegear.cloud.state.recorder import Persistent

LOG = logging.getLogger(__name__)


@dataclass
class Replayed:
    """What a replay did: records applied, and those that did not apply again."""

    applied: int = 0
    failed: list[str] = field(default_factory=list)
    orphans: dict[str, bytes] = field(default_factory=dict)  # images of absent components
    last_seq: int = 0


def as_request(record: RequestRecord) -> AwsRequest:
    query: dict[str, list[str]] = {}
    for name, value in record.query:
        query.setdefault(name, []).append(value)
    return AwsRequest(
        method=record.method,
        path=record.path,
        query=query,
        headers=dict(record.headers),
        body=record.body,
        service=record.service,
        region=record.region,
        account=record.account,
        action=record.action,
    )


@contextmanager
def replaying(records: Iterable[tuple[int, Record]] = ()) -> Iterator[ReplayClock]:
    """The conditions ``records`` are replayed under (see the module docstring)."""
    with ExitStack() as stack:
        stack.enter_context(moto_lambda.invocations_skipped())
        stack.enter_context(moto_sns.deliveries_skipped())
        step_functions = moto_stepfunctions.SERVICE
        if moto_stepfunctions.in_use() or any(
            isinstance(record, RequestRecord) and record.service == step_functions
            for _, record in records
        ):
            stack.enter_context(moto_stepfunctions.executions_not_started())
        yield stack.enter_context(moto_sqs.frozen_clock())


def replay(
    router: Router,
    records: Iterable[tuple[int, Record]],
    components: Mapping[str, Persistent],
    into: Replayed,
    clock: ReplayClock,
) -> None:
    """Apply ``records`` in order (inside :func:`replaying`)."""
    for seq, record in records:
        into.last_seq = max(into.last_seq, seq)
        if isinstance(record, ImageRecord):
            _load_image(record, components, into)
            continue
        clock.now = record.time
        request = moto_sqs.for_replay(as_request(record))
        token = moto_core.ACTIVE.set(moto_core.new_random(record.seed))
        time_token = moto_core.REQUEST_TIME.set(record.time)
        try:
            response = router.dispatch(request)
        finally:
            moto_core.REQUEST_TIME.reset(time_token)
            moto_core.ACTIVE.reset(token)
        if 200 <= response.status < 300:
            into.applied += 1
        else:
            what = f"#{seq} {record.service}.{record.action or record.method + ' ' + record.path}"
            LOG.warning(
                "replaying %s answered %s: %s",
                what,
                response.status,
                response.body[:300].decode("utf-8", "replace"),
            )
            into.failed.append(what)


def _load_image(record: ImageRecord, components: Mapping[str, Persistent], into: Replayed) -> None:
    component = components.get(record.key)
    if component is None:
        # Kept as saved, so a later start with the component registered still finds it.
        into.orphans[record.key] = record.data
        into.applied += 1
        return
    try:
        component.load_state(pickling.loads(record.data))
    except Exception as error:
        LOG.warning("the saved state of %s could not be loaded: %r", record.key, error)
        into.failed.append(f"image of {record.key}")
        return
    into.orphans.pop(record.key, None)
    into.applied += 1
