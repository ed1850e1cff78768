"""``Notifications``: S3 event notifications and SNS deliveries, on the local cloud's clock.

moto decides what is delivered where — which of a bucket's notification configurations an
object change matches, which subscriptions of a topic a message passes the filter policy of —
and hands each delivery here through two patches: ``motoshim/s3_notifications.py`` and
``motoshim/sns_envelope.py``. This module writes what AWS writes and sends it as AWS sends it:

- **S3 → Lambda, SQS, SNS** (S3 user guide, "Event message structure"; Lambda developer guide,
  "Using AWS Lambda with Amazon S3"): one ``{"Records": [record]}`` per change and
  destination, ``eventVersion`` 2.1, the key URL-encoded as S3 encodes it (a space is ``+``),
  ``size`` and ``eTag`` for ObjectCreated only, ``versionId`` in a bucket that has versioning,
  a ``sequencer`` that grows with every change. A function is invoked asynchronously (an
  ``Event`` invocation, so asynchronous invocation's retries, dead-letter queue and
  destinations apply: :meth:`Notifications.invoke_function`); a queue gets the record as its
  message body; a topic gets it as its message, with the subject "Amazon S3 Notification".
- **s3:TestEvent** (S3 user guide, "Configuring event notifications"): when a bucket's
  notification configuration is put, each of its queues and topics is sent the test message.
- **SNS → Lambda**: the event of the Lambda developer guide ("Using Lambda with Amazon SNS"),
  invoked asynchronously as above. SNS → SQS envelopes are written in the patch, which
  needs only this module's clock.

Times are the virtual clock's (``cloud/clock.py``). Queue and topic deliveries happen inside
moto, in the request that caused them, so durable state's replay of that request delivers again
(with the time of the replay); function invocations are not repeated by a replay — the handler
ran the first time, and what it did was recorded as its own requests.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import secrets
import threading
from typing import Any
from urllib.parse import quote_plus

from basegear.cloud.events.context import EventContext
from basegear.cloud.motoshim import s3_notifications, sns_envelope
from basegear.cloud.motoshim.s3_notifications import Destination, ObjectChange
from basegear.cloud.motoshim.sns_envelope import iso_milliseconds

LOG = logging.getLogger(__name__)

S3_SUBJECT = "Amazon S3 Notification"
SOURCE_IP = "127.0.0.1"  # every request to the local cloud comes over loopback


class Notifications:
    """Attached to the moto patches between ``start()`` and ``close()``; both idempotent."""

    def __init__(self, context: EventContext) -> None:
        self.context = context
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        s3_notifications.attach(self)
        sns_envelope.attach(self)

    def close(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        s3_notifications.detach(self)
        sns_envelope.detach(self)

    # -- what the SNS patch needs (SnsDeliverySink) -------------------------------------------

    def now(self) -> float:
        return self.context.clock.now()

    def invoke_function(self, function_arn: str, payload: bytes) -> None:
        """Invoke asynchronously, as S3 and SNS do: an ``Event`` invocation through moto's
        Lambda backend, which BaseGear's runtime answers (``motoshim/awslambda.py``) by queueing
        the event for asynchronous invocation — the queue the Invoke API's ``Event``
        invocations go to, with its retries, dead-letter queue and destinations. The same path
        is what durable state's replay switches off (``state/moto_lambda.py``), so a replayed
        write runs no function again. A function that does not exist is logged: S3 and SNS do
        not fail the request that caused the delivery."""
        from moto.awslambda.utils import get_backend

        _, _, _, region, account, *_ = function_arn.split(":")
        try:
            get_backend(account, region).invoke(
                function_arn, None, payload, {"x-amz-invocation-type": "Event"}, {}
            )
        except Exception as exc:
            LOG.warning("could not invoke %s for a notification: %s", function_arn, exc)

    # -- what the S3 patch needs (S3EventSink) -------------------------------------------------

    def object_changed(self, change: ObjectChange) -> None:
        event_time = iso_milliseconds(self.now())
        sequencer = self._sequencer()
        request_id, host_id = _request_ids()
        for destination in change.destinations:
            record = s3_record(
                change,
                destination.configuration_id,
                event_time=event_time,
                sequencer=sequencer,
                request_id=request_id,
                host_id=host_id,
            )
            self._deliver(destination, {"Records": [record]})

    def test_event(
        self, account_id: str, bucket_name: str, destinations: tuple[Destination, ...]
    ) -> None:
        request_id, host_id = _request_ids()
        message = {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": iso_milliseconds(self.now()),
            "Bucket": bucket_name,
            "RequestId": request_id,
            "HostId": host_id,
        }
        for destination in destinations:
            self._deliver(destination, message)

    def _deliver(self, destination: Destination, document: dict[str, Any]) -> None:
        text = json.dumps(document, separators=(",", ":"))
        try:
            if destination.kind == "lambda":
                self.invoke_function(destination.arn, text.encode())
            elif destination.kind == "sqs":
                s3_notifications.send_to_queue(destination.arn, text)
            else:
                s3_notifications.publish_to_topic(destination.arn, text, S3_SUBJECT)
        except Exception as exc:
            LOG.warning("S3 notification to %s failed: %s", destination.arn, exc)

    def _sequencer(self) -> str:
        """Hexadecimal, and greater for every later change (S3 user guide: "the sequencer key
        provides a way to determine the sequence of events"): the clock's milliseconds, then a
        counter."""
        milliseconds = int(self.now() * 1000)
        return f"{milliseconds:012X}{next(self._sequence) % 0x1000000:06X}"


def s3_record(
    change: ObjectChange,
    configuration_id: str,
    *,
    event_time: str,
    sequencer: str,
    request_id: str,
    host_id: str,
) -> dict[str, Any]:
    """S3 user guide, "Event message structure" (eventVersion 2.1)."""
    obj: dict[str, Any] = {"key": quote_plus(change.key, safe="/")}
    if change.size is not None:
        obj["size"] = change.size
    if change.etag is not None:
        obj["eTag"] = change.etag
    if change.version_id is not None:
        obj["versionId"] = change.version_id
    obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": change.region,
        "eventTime": event_time,
        "eventName": change.event_name,
        "userIdentity": {"principalId": f"AWS:{change.account_id}"},
        "requestParameters": {"sourceIPAddress": SOURCE_IP},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": change.bucket_name,
                "ownerIdentity": {"principalId": owner_id(change.account_id)},
                "arn": change.bucket_arn,
            },
            "object": obj,
        },
    }


def owner_id(account_id: str) -> str:
    """The bucket owner as S3's records name it: a short upper-case id, the same for every
    bucket of an account."""
    digest = hashlib.sha256(account_id.encode()).hexdigest().upper()
    return f"A{digest[:13]}"


def _request_ids() -> tuple[str, str]:
    """``x-amz-request-id`` (16 hexadecimal digits) and ``x-amz-id-2`` as S3 makes them."""
    return secrets.token_hex(8).upper(), secrets.token_urlsafe(48)
