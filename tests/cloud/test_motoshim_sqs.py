"""moto's SQS on the virtual clock (basegear/cloud/motoshim/sqs.py), through boto3 against the
local cloud: visibility timeouts, delays, retention and timestamps follow the manual clock, long
polls still end, durable state's replay clock still applies, and the patched moto internals
are where the shim expects them."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import uuid
from typing import Any

import pytest

from basegear.cloud.clock import VirtualClock
from basegear.cloud.motoshim import sqs
from basegear.cloud.state.moto_sqs import frozen_clock
from basegear.testing import CloudClients, manual_clock

__all__ = ["manual_clock"]  # the fixture, registered for this module


def _owner(path: str) -> Any:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return importlib.import_module(path)


@pytest.mark.parametrize(("owner", "attribute"), sqs.PATCHED)
def test_every_patched_moto_internal_still_exists(owner: str, attribute: str) -> None:
    assert hasattr(_owner(owner), attribute), f"moto moved {owner}.{attribute}"
    sqs.check_moto()


@pytest.mark.parametrize(("owner", "attribute"), [r for r in sqs.READ if r[0].endswith("models")])
def test_what_the_shim_reads_of_moto_still_exists(owner: str, attribute: str) -> None:
    assert hasattr(_owner(owner), attribute)


def test_what_the_shim_reads_of_a_queue_and_a_message_still_exists(
    local_cloud: CloudClients,
) -> None:
    from moto.sqs.models import Message, Queue

    queue = Queue("shim-check", "us-east-1", "123456789012")
    message = Message("id", "body")
    for owner, attribute in sqs.READ:
        if owner.endswith(".Queue"):
            assert hasattr(queue, attribute), attribute
        elif owner.endswith(".Message"):
            assert hasattr(message, attribute), attribute


def _queue(cloud: CloudClients, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    client = cloud.client("sqs")
    name = f"shim-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _receive(cloud: CloudClients, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    answer = cloud.client("sqs").receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["All"], MaxNumberOfMessages=10, **kwargs
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    return messages


def test_visibility_timeouts_and_timestamps_follow_the_manual_clock(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS developer guide, "Amazon SQS visibility timeout": a received message is hidden for
    # the visibility timeout, then shows again with its receive count up.
    url, _ = _queue(local_cloud, VisibilityTimeout="30")
    local_cloud.client("sqs").send_message(QueueUrl=url, MessageBody="m")
    sent_at = int(manual_clock.now() * 1000)
    [first] = _receive(local_cloud, url)
    assert first["Attributes"]["SentTimestamp"] == str(sent_at)
    assert first["Attributes"]["ApproximateFirstReceiveTimestamp"] == str(sent_at)
    manual_clock.advance(29.9)
    assert _receive(local_cloud, url) == []
    manual_clock.advance(0.1)  # exactly 30 s: visible again
    [again] = _receive(local_cloud, url)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["Attributes"]["ApproximateFirstReceiveTimestamp"] == str(sent_at)


def test_a_message_made_visible_again_shows_at_once(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS API reference, ChangeMessageVisibility: a timeout of 0 makes the message visible now.
    client = local_cloud.client("sqs")
    url, _ = _queue(local_cloud, VisibilityTimeout="30")
    client.send_message(QueueUrl=url, MessageBody="m")
    [message] = _receive(local_cloud, url)
    client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert len(_receive(local_cloud, url)) == 1


def test_delays_follow_the_manual_clock(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS developer guide, "Amazon SQS delay queues" and message timers (DelaySeconds).
    client = local_cloud.client("sqs")
    url, arn = _queue(local_cloud, DelaySeconds="60")
    client.send_message(QueueUrl=url, MessageBody="queue delay")
    client.send_message(QueueUrl=url, MessageBody="timer", DelaySeconds=10)
    assert _receive(local_cloud, url) == []
    assert sqs.next_visible_at(arn) == pytest.approx(manual_clock.now() + 10)
    manual_clock.advance(10)
    [timer] = _receive(local_cloud, url)
    assert timer["Body"] == "timer"
    client.delete_message(QueueUrl=url, ReceiptHandle=timer["ReceiptHandle"])
    manual_clock.advance(50)
    assert [m["Body"] for m in _receive(local_cloud, url)] == ["queue delay"]


def test_expired_messages_are_deleted_and_do_not_block_the_queue(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS developer guide, "Amazon SQS message lifecycle": messages kept longer than the
    # retention period are deleted automatically.
    client = local_cloud.client("sqs")
    url, _ = _queue(local_cloud, MessageRetentionPeriod="60")
    client.send_message(QueueUrl=url, MessageBody="old")
    manual_clock.advance(61)
    client.send_message(QueueUrl=url, MessageBody="new")
    assert [m["Body"] for m in _receive(local_cloud, url)] == ["new"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_a_long_poll_on_the_manual_clock_ends_in_real_time(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS developer guide, "Amazon SQS short and long polling": a long poll answers when a
    # message arrives or when WaitTimeSeconds have passed (real seconds: the clock stands still).
    client = local_cloud.client("sqs")
    url, _ = _queue(local_cloud)
    started = time.monotonic()
    assert _receive(local_cloud, url, WaitTimeSeconds=1) == []
    assert 0.9 < time.monotonic() - started < 1.6

    sender = threading.Timer(0.2, lambda: client.send_message(QueueUrl=url, MessageBody="late"))
    sender.start()
    started = time.monotonic()
    [message] = _receive(local_cloud, url, WaitTimeSeconds=5)
    sender.join()
    assert message["Body"] == "late" and time.monotonic() - started < 1.0


def test_a_long_poll_sees_a_delay_end_when_the_clock_is_advanced(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # Same section: the long poll returns the message once its delay is over.
    client = local_cloud.client("sqs")
    url, _ = _queue(local_cloud)
    client.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=30)
    threading.Timer(0.1, manual_clock.advance, args=(30,)).start()
    started = time.monotonic()
    [message] = _receive(local_cloud, url, WaitTimeSeconds=5)
    assert message["Body"] == "delayed" and time.monotonic() - started < 1.0


def test_redrive_after_max_receive_count_on_the_manual_clock(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS developer guide, "Amazon SQS dead-letter queues": when the ReceiveCount exceeds
    # maxReceiveCount the message moves to the dead-letter queue (moto does so on receive).
    dlq_url, dlq_arn = _queue(local_cloud)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, _ = _queue(local_cloud, VisibilityTimeout="10", RedrivePolicy=policy)
    local_cloud.client("sqs").send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert len(_receive(local_cloud, url)) == 1
        manual_clock.advance(10)
    assert _receive(local_cloud, url) == []
    [dead] = _receive(local_cloud, dlq_url)
    assert dead["Body"] == "poison"


def test_fifo_messages_get_increasing_sequence_numbers(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS API reference, SendMessage: SequenceNumber is "the large, non-consecutive number that
    # Amazon SQS assigns to each message" of a FIFO queue.
    client = local_cloud.client("sqs")
    url, _ = _queue(local_cloud, fifo=True, ContentBasedDeduplication="true")
    sent = [
        client.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")["SequenceNumber"]
        for i in range(3)
    ]
    assert all(len(number) == 20 for number in sent)
    assert sent == sorted(sent, key=int) and len(set(sent)) == 3
    received = [m["Attributes"]["SequenceNumber"] for m in _receive(local_cloud, url)]
    assert received == sent


def test_watchers_hear_of_each_message_added(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    client = local_cloud.client("sqs")
    url, arn = _queue(local_cloud)
    heard: list[int] = []
    stop = sqs.watch(arn, lambda: heard.append(1))
    client.send_message(QueueUrl=url, MessageBody="a")
    client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "b"}, {"Id": "2", "MessageBody": "c"}]
    )
    stop()
    client.send_message(QueueUrl=url, MessageBody="d")
    assert len(heard) == 3
    assert sqs.next_visible_at(arn) is None
    assert sqs.next_visible_at("arn:aws:sqs:us-east-1:123456789012:no-such-queue") is None


def test_replay_clock_applies_inside_and_the_virtual_clock_after(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # Durable state's replay (state/moto_sqs.py) swaps the same module attributes and restores
    # them: SQS reads the record's time while replaying, the virtual clock again afterwards.
    import moto.sqs.models as models

    ours = models.unix_time  # type: ignore[attr-defined]
    with frozen_clock() as replay:
        replay.now = 1_000.0
        assert models.unix_time() == 1_000.0  # type: ignore[attr-defined]
        message = models.Message("id", "body")
        message.visible_at = 1_000_000.0
        assert message.visible  # visible from visible_at on, at the replay clock's time
    assert models.unix_time is ours  # type: ignore[attr-defined]
    assert models.unix_time() == manual_clock.now()  # type: ignore[attr-defined]


def test_install_switches_clocks_and_uninstall_restores_moto(local_cloud: CloudClients) -> None:
    import moto.sqs.models as models

    assert local_cloud.services is not None
    cloud_clock = local_cloud.services.clock
    assert sqs.installed_clock() is cloud_clock
    other = VirtualClock("manual", start=1_234.5)
    sqs.install(other)  # a second cloud in the process
    assert models.unix_time() == 1_234.5  # type: ignore[attr-defined]
    sqs.uninstall(other)
    assert sqs.installed_clock() is cloud_clock
    try:
        sqs.uninstall(cloud_clock)  # the last one: moto's own again
        assert models.unix_time() == pytest.approx(time.time(), abs=5)  # type: ignore[attr-defined]
        assert sqs.installed_clock() is None
        assert "basegear" not in models.SQSBackend.receive_message.__module__
    finally:
        sqs.install(cloud_clock)
    assert sqs.installed_clock() is cloud_clock


def test_concurrent_deletes_and_sends_lose_and_resurrect_nothing(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SQS API reference, DeleteMessageBatch/SendMessage: each acknowledged delete and send holds,
    # whatever else runs at the same time (the local cloud answers requests on many threads).
    client = local_cloud.client("sqs")
    url, _ = _queue(local_cloud, VisibilityTimeout="300")
    for start in range(0, 200, 10):
        entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
        client.send_message_batch(QueueUrl=url, Entries=entries)
    handles = [m["ReceiptHandle"] for _ in range(20) for m in _receive(local_cloud, url)]
    assert len(handles) == 200

    def delete(part: list[str]) -> None:
        for start in range(0, len(part), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(part[start : start + 10])
            ]
            assert not client.delete_message_batch(QueueUrl=url, Entries=entries).get("Failed")

    def send() -> None:
        for i in range(50):
            client.send_message(QueueUrl=url, MessageBody=f"new{i}")

    workers = [threading.Thread(target=delete, args=(handles[i::4],)) for i in range(4)]
    workers.append(threading.Thread(target=send))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave at every few bytecodes, as under load
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "50"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
