"""moto's SNS deliveries to SQS queues and Lambda functions (``Subscription.publish`` in
``moto/sns/models.py``), made as SNS makes them.

What moto does, and what is kept:

- a subscription's ``FilterPolicy`` is checked with moto's ``FilterPolicyMatcher`` — kept, but
  with the subscription's current ``FilterPolicyScope``: moto fixes the scope when the policy is
  set, so a scope set after the policy (or in the same Subscribe call, after it) was ignored;
- ``MessageStructure=json`` picks the protocol's message or ``default`` — kept (moto's);
- raw message delivery to SQS (``RawMessageDelivery``) sends the bare message with the message
  attributes as SQS attributes — kept (moto's);
- to SQS otherwise, the JSON envelope — rebuilt: moto stamps the wall clock, names a made-up
  subscription in us-east-1 in the ``UnsubscribeURL``, and makes a new RSA certificate for every
  message. Here: the local cloud's clock, the subscription's own ARN, and one signing key per
  process (SNS developer guide, "Amazon SNS message and JSON formats", "Verifying the signatures
  of Amazon SNS messages": SignatureVersion 1 is SHA1withRSA over the documented fields);
- to Lambda, moto runs the function synchronously with a fixed example event (topic and
  subscription ARN ``arn:aws:sns:EXAMPLE``, timestamp 1970, made-up message attributes,
  subject ``TestInvoke``). Here the event is the one the Lambda developer guide shows ("Using
  Lambda with Amazon SNS"), with the real ARNs, time, message id, subject (null when none) and
  message attributes, and the attached :class:`SnsDeliverySink` invokes the function
  asynchronously, as SNS does.

Other protocols (HTTP/S, email, SMS, applications) stay moto's: its HTTP deliveries are limited
to loopback by ``sns.py``, and durable state's replay switches them off (``state/moto_sns.py``).
With no sink attached, every delivery is moto's own.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from basegear.cloud.motoshim.attached import Attached

LOG = logging.getLogger(__name__)

PATCHED = (("moto.sns.models.Subscription", "publish"),)
# moto internals read, not replaced (checked by check_moto too).
READ = (
    ("moto.sns.models.Subscription", "_filter_policy"),
    ("moto.sns.models.Subscription", "_parse_message_structure"),
    ("moto.sns.utils", "FilterPolicyMatcher"),
)

SIGNATURE_VERSION = "1"


class SnsDeliverySink(Protocol):
    """What deliveries need of the local cloud: its clock, and asynchronous invocation."""

    def now(self) -> float: ...

    def invoke_function(self, function_arn: str, payload: bytes) -> None: ...


_saved: dict[str, Any] = {}
_sinks: Attached[SnsDeliverySink] = Attached()
_lock = threading.Lock()


def check_moto() -> None:
    """Raise if moto no longer has what this module replaces or reads, or calls it
    differently."""
    import inspect

    from moto.sns import models, utils

    publish = _saved.get("publish") or getattr(models.Subscription, "publish", None)
    if not callable(publish):
        raise RuntimeError(f"moto moved Subscription.publish: update {__name__}")
    expected = ["self", "message", "message_id", "subject", "message_attributes", "group_id"]
    if list(inspect.signature(publish).parameters)[:6] != expected:
        raise RuntimeError(f"moto changed Subscription.publish's signature: update {__name__}")
    if not callable(getattr(models.Subscription, "_parse_message_structure", None)):
        raise RuntimeError(f"moto moved Subscription._parse_message_structure: update {__name__}")
    if not callable(getattr(utils, "FilterPolicyMatcher", None)):
        raise RuntimeError(f"moto moved FilterPolicyMatcher: update {__name__}")


def install() -> None:
    """Replace ``Subscription.publish`` (idempotent); it defers to moto's while no sink is
    attached."""
    from moto.sns import models

    with _lock:
        if _saved:
            return
        check_moto()
        original = models.Subscription.__dict__["publish"]
        _saved["publish"] = original
        # A wrapper of moto's method (``__wrapped__``): other protocols still go to it.
        setattr(models.Subscription, "publish", functools.wraps(original)(_publish))  # noqa: B010


def attach(sink: SnsDeliverySink) -> None:
    """Deliver through ``sink`` (the most recently attached one) from now on."""
    install()
    _sinks.attach(sink)


def detach(sink: SnsDeliverySink) -> None:
    _sinks.detach(sink)


def is_true(value: Any) -> bool:
    """A subscription attribute's truth: SetSubscriptionAttributes stores the text given."""
    return value is True or str(value).lower() == "true"


def _publish(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    sink = _sinks.current()
    protocol = subscription.protocol
    raw = protocol == "sqs" and is_true(subscription.attributes.get("RawMessageDelivery"))
    if sink is None or protocol not in ("sqs", "lambda") or raw:
        _saved["publish"](
            subscription,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    if not _passes_filter(subscription, message_attributes, message):
        return
    if message_structure == "json":
        message = subscription._parse_message_structure(message, protocol)
    notification = Notification(
        topic_arn=subscription.topic.arn,
        subscription_arn=subscription.arn,
        message_id=message_id,
        message=message,
        subject=subject,
        timestamp=iso_milliseconds(sink.now()),
        message_attributes=message_attributes or {},
    )
    if protocol == "sqs":
        _send_envelope(subscription.endpoint, notification, group_id, deduplication_id)
    else:
        sink.invoke_function(
            subscription.endpoint, json.dumps(notification.lambda_event()).encode()
        )


def _passes_filter(subscription: Any, attributes: dict[str, Any] | None, message: str) -> bool:
    """SNS developer guide, "Amazon SNS message filtering": a subscription with a filter policy
    gets the messages it matches, in its ``FilterPolicyScope`` (MessageAttributes by
    default)."""
    from moto.sns.utils import FilterPolicyMatcher

    policy = subscription._filter_policy
    if not policy:
        return True
    scope = subscription.attributes.get("FilterPolicyScope") or "MessageAttributes"
    matched: bool = FilterPolicyMatcher(policy, scope).matches(attributes, message)
    return matched


def _send_envelope(
    queue_arn: str, notification: Notification, group_id: str | None, deduplication_id: str | None
) -> None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)
    try:
        sqs_backends[account][region].send_message(
            name,
            notification.sqs_body(),
            deduplication_id=deduplication_id,
            group_id=group_id,
            validate_group_id=False,
        )
    except Exception as exc:  # SNS keeps the Publish; the delivery fails on its own
        LOG.warning("SNS delivery to %s failed: %s", queue_arn, exc)


class Notification:
    """One message as delivered to one subscription."""

    def __init__(
        self,
        *,
        topic_arn: str,
        subscription_arn: str,
        message_id: str,
        message: str,
        subject: str | None,
        timestamp: str,
        message_attributes: Mapping[str, Any],
    ) -> None:
        self.topic_arn = topic_arn
        self.subscription_arn = subscription_arn
        self.message_id = message_id
        self.message = message
        self.subject = subject
        self.timestamp = timestamp
        self.message_attributes = dict(message_attributes)
        self.region = topic_arn.split(":")[3]

    @property
    def unsubscribe_url(self) -> str:
        return (
            f"https://sns.{self.region}.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={self.subscription_arn}"
        )

    def envelope(self) -> dict[str, Any]:
        """The notification as SNS posts it, and puts it in an SQS message body."""
        signer = signing_key()
        document: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": self.message_id,
            "TopicArn": self.topic_arn,
        }
        if self.subject is not None:
            document["Subject"] = self.subject
        document.update(
            Message=self.message,
            Timestamp=self.timestamp,
            SignatureVersion=SIGNATURE_VERSION,
            Signature=signer.sign(self._string_to_sign()),
            SigningCertURL=signer.certificate_url(self.region),
            UnsubscribeURL=self.unsubscribe_url,
        )
        if self.message_attributes:
            document["MessageAttributes"] = self.message_attributes
        return document

    def sqs_body(self) -> str:
        """The envelope as SNS writes it into the message body: indented, ``"Key" : value``."""
        return json.dumps(self.envelope(), indent=2, separators=(",", " : "), ensure_ascii=False)

    def lambda_event(self) -> dict[str, Any]:
        """Lambda developer guide, "Using Lambda with Amazon SNS": the event a subscribed
        function receives."""
        envelope = self.envelope()
        return {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": self.subscription_arn,
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": self.message_id,
                        "TopicArn": self.topic_arn,
                        "Subject": self.subject,
                        "Message": self.message,
                        "Timestamp": self.timestamp,
                        "SignatureVersion": SIGNATURE_VERSION,
                        "Signature": envelope["Signature"],
                        "SigningCertUrl": envelope["SigningCertURL"],
                        "UnsubscribeUrl": self.unsubscribe_url,
                        "MessageAttributes": self.message_attributes,
                    },
                }
            ]
        }

    def _string_to_sign(self) -> str:
        """SNS developer guide, "Verifying the signatures of Amazon SNS messages": for a
        Notification, Message, MessageId, Subject (when there is one), Timestamp, TopicArn and
        Type, each as its name and its value on lines of their own."""
        pairs = [("Message", self.message), ("MessageId", self.message_id)]
        if self.subject is not None:
            pairs.append(("Subject", self.subject))
        pairs += [("Timestamp", self.timestamp), ("TopicArn", self.topic_arn)]
        pairs.append(("Type", "Notification"))
        return "".join(f"{name}\n{value}\n" for name, value in pairs)


class SigningKey:
    """The key notifications are signed with, made once per process (an RSA key takes tens of
    milliseconds to make), and the certificate that holds its public half."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.certificate_name = (
            f"SimpleNotificationService-{hashlib.md5(public, usedforsecurity=False).hexdigest()}"
        )

    def sign(self, text: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = self._key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA1())
        return base64.b64encode(signature).decode("ascii")

    def certificate_url(self, region: str) -> str:
        return f"https://sns.{region}.amazonaws.com/{self.certificate_name}.pem"


_signing_key: SigningKey | None = None
_signing_key_lock = threading.Lock()


def signing_key() -> SigningKey:
    global _signing_key
    with _signing_key_lock:
        if _signing_key is None:
            _signing_key = SigningKey()
        return _signing_key


def iso_milliseconds(epoch: float) -> str:
    """``2024-05-01T12:00:00.123Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
