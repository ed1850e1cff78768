"""moto's S3 event notifications (``moto/s3/notifications.py``) handed to BaseGear.

moto decides which of a bucket's ``NotificationConfiguration`` entries an object change matches
(the event type, with ``ObjectCreated:*`` style wildcards, and the key's prefix and suffix
filters) — that part is kept. What it then sends is not what S3 sends (S3 user guide, "Event
message structure"): the record lacks ``userIdentity``, ``requestParameters``,
``responseElements``, the bucket's ``ownerIdentity``, the object's ``versionId`` and
``sequencer``; its time is the wall clock; and a function is run synchronously inside the
PutObject request, where S3 invokes it asynchronously (Lambda developer guide, "Using AWS Lambda
with Amazon S3"). Deleting from a versioned bucket sends nothing for a delete marker and reports
a deleted version only once no version is left.

The replacements turn each change into an :class:`ObjectChange` — the matched destinations and
the object's facts — and hand it to the attached :class:`S3EventSink`
(``basegear/cloud/events/notifications.py``), which writes the record and delivers it:

- ``send_event`` → ``sink.object_changed``;
- ``send_test_event`` (PutBucketNotificationConfiguration) → ``sink.test_event`` with the
  configuration's queues and topics, which S3 sends an ``s3:TestEvent`` to;
- ``S3Backend.delete_object`` on a versioned bucket reports ``ObjectRemoved:DeleteMarkerCreated``
  (no version id given: S3 adds a delete marker) or ``ObjectRemoved:Delete`` (a version deleted
  for good), in place of moto's own report.

With no sink attached, moto's functions run as before. Amazon EventBridge delivery
(``EventBridgeConfiguration``) stays moto's. :func:`send_to_queue` and :func:`publish_to_topic`
deliver inside moto, in the request that made the change, so that durable state's replay of
that request delivers again exactly as the first time (``basegear/cloud/state/replay.py``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from basegear.cloud.motoshim.attached import Attached

LOG = logging.getLogger(__name__)

PATCHED = (
    ("moto.s3.notifications", "send_event"),
    ("moto.s3.notifications", "send_test_event"),
    ("moto.s3.models.S3Backend", "delete_object"),
)
# moto internals read, not replaced (checked by check_moto too).
READ = (
    ("moto.s3.notifications", "_send_event_bridge_message"),
    ("moto.s3.models.Notification", "matches"),
)

DELETE_MARKER_CREATED = "s3:ObjectRemoved:DeleteMarkerCreated"
DELETED = "s3:ObjectRemoved:Delete"


@dataclass(frozen=True)
class Destination:
    """One entry of a bucket's notification configuration: ``kind`` is ``lambda``, ``sqs`` or
    ``sns``; ``configuration_id`` its ``Id`` (moto draws one when none was given)."""

    kind: str
    arn: str
    configuration_id: str


@dataclass(frozen=True)
class ObjectChange:
    """An object event and the destinations whose configuration matched it."""

    account_id: str
    region: str
    event_name: str  # without the "s3:" prefix, e.g. "ObjectCreated:Put"
    bucket_name: str
    bucket_arn: str
    key: str
    size: int | None  # None for ObjectRemoved events, which carry no size or eTag
    etag: str | None
    version_id: str | None  # None in a bucket that never had versioning enabled
    destinations: tuple[Destination, ...]


class S3EventSink(Protocol):
    def object_changed(self, change: ObjectChange) -> None: ...

    def test_event(
        self, account_id: str, bucket_name: str, destinations: tuple[Destination, ...]
    ) -> None: ...


_saved: dict[str, Any] = {}
_sinks: Attached[S3EventSink] = Attached()
_lock = threading.Lock()
_inside_delete = threading.local()


def check_moto() -> None:
    """Raise if moto no longer has what this module replaces or reads."""
    import inspect

    from moto.s3 import models, notifications

    for name in ("send_event", "send_test_event", "_send_event_bridge_message"):
        if name not in _saved and not callable(getattr(notifications, name, None)):
            raise RuntimeError(f"moto moved moto.s3.notifications.{name}: update {__name__}")
    for owner, name in ((models.S3Backend, "delete_object"), (models.Notification, "matches")):
        if not callable(getattr(owner, name, None)):
            raise RuntimeError(f"moto moved {owner.__name__}.{name}: update {__name__}")
    delete = _saved.get("delete_object") or models.S3Backend.delete_object
    if list(inspect.signature(delete).parameters)[:4] != [
        "self",
        "bucket_name",
        "key_name",
        "version_id",
    ]:
        raise RuntimeError(f"moto changed S3Backend.delete_object's signature: update {__name__}")


def install() -> None:
    """Replace moto's functions (idempotent); they defer to moto's while no sink is
    attached."""
    from moto.s3 import models, notifications

    with _lock:
        if _saved:
            return
        check_moto()
        _saved["send_event"] = notifications.send_event
        _saved["send_test_event"] = notifications.send_test_event
        _saved["delete_object"] = models.S3Backend.__dict__["delete_object"]
        setattr(notifications, "send_event", _send_event)  # noqa: B010
        setattr(notifications, "send_test_event", _send_test_event)  # noqa: B010
        setattr(models.S3Backend, "delete_object", _delete_object)  # noqa: B010


def attach(sink: S3EventSink) -> None:
    """Send every notification to ``sink`` (the most recently attached one) from now on."""
    install()
    _sinks.attach(sink)


def detach(sink: S3EventSink) -> None:
    _sinks.detach(sink)


# -- the replacements -----------------------------------------------------------------------


def _send_event(account_id: str, event_name: str, bucket: Any, key: Any) -> None:
    if getattr(_inside_delete, "active", False):
        return  # the delete_object wrapper reports it
    sink = _sinks.current()
    if sink is None:
        _saved["send_event"](account_id, event_name, bucket, key)
        return
    configuration = bucket.notification_configuration
    if configuration is None or key is None:
        return
    name = str(event_name.value if hasattr(event_name, "value") else event_name)
    matched = tuple(
        Destination(kind, notification.arn, notification.id)
        for kind, entries in (
            ("lambda", configuration.cloud_function),
            ("sqs", configuration.queue),
            ("sns", configuration.topic),
        )
        for notification in entries
        if notification.matches(name, key.name)
    )
    if matched:
        try:
            sink.object_changed(_change(account_id, name, bucket, key, matched))
        except Exception:  # S3 answers the request whatever becomes of its notifications
            LOG.exception("S3 notification %s for s3://%s/%s failed", name, bucket.name, key.name)
    if configuration.event_bridge is not None:
        from moto.s3 import notifications

        notifications._send_event_bridge_message(account_id, bucket, name, key)


def _change(
    account_id: str, event_name: str, bucket: Any, key: Any, destinations: tuple[Destination, ...]
) -> ObjectChange:
    removed = event_name.startswith("s3:ObjectRemoved")
    version = str(key.version_id) if getattr(key, "version_id", None) is not None else "null"
    return ObjectChange(
        account_id=account_id,
        region=bucket.region_name,
        event_name=event_name.removeprefix("s3:"),
        bucket_name=bucket.name,
        bucket_arn=bucket.arn,
        key=key.name,
        size=None if removed else int(key.size),
        etag=None if removed else str(key.etag).strip('"'),
        version_id=None if version == "null" and not bucket.is_versioned else version,
        destinations=destinations,
    )


def _send_test_event(account_id: str, bucket: Any) -> None:
    sink = _sinks.current()
    if sink is None:
        _saved["send_test_event"](account_id, bucket)
        return
    configuration = bucket.notification_configuration
    seen: set[str] = set()
    destinations: list[Destination] = []
    for kind, entries in (("sqs", configuration.queue), ("sns", configuration.topic)):
        for notification in entries:
            if notification.arn not in seen:
                seen.add(notification.arn)
                destinations.append(Destination(kind, notification.arn, notification.id))
    if destinations:
        try:
            sink.test_event(account_id, bucket.name, tuple(destinations))
        except Exception:
            LOG.exception("the s3:TestEvent of bucket %s failed", bucket.name)


def _delete_object(
    backend: Any,
    bucket_name: str,
    key_name: str,
    version_id: str | None = None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    original = _saved["delete_object"]
    sink = _sinks.current()
    bucket = backend.buckets.get(bucket_name) if sink is not None else None
    if bucket is None or not bucket.is_versioned:
        return original(backend, bucket_name, key_name, version_id, *args, **kwargs)
    before = list(bucket.keys.getlist(key_name, []))
    _inside_delete.active = True
    try:
        result = original(backend, bucket_name, key_name, version_id, *args, **kwargs)
    finally:
        _inside_delete.active = False
    if not result[0]:
        return result
    if version_id is None:
        after = bucket.keys.getlist(key_name, [])
        if after:
            _send_event(backend.account_id, DELETE_MARKER_CREATED, bucket, after[-1])
    else:
        for version in before:
            if str(version.version_id) == str(version_id):
                _send_event(backend.account_id, DELETED, bucket, version)
                break
    return result


# -- delivering inside moto -----------------------------------------------------------------


def send_to_queue(arn: str, body: str) -> None:
    """SendMessage to the queue ``arn`` in moto (raises if it does not exist)."""
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    sqs_backends[account][region].send_message(queue_name=name, message_body=body)


def publish_to_topic(arn: str, message: str, subject: str) -> None:
    """Publish to the topic ``arn`` in moto (raises if it does not exist); its subscriptions
    are delivered to as any Publish's."""
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = arn.split(":", 5)
    sns_backends[account][region].publish(message=message, arn=arn, subject=subject)
