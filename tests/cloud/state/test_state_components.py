"""BaseGear's own stores as durable state saves them whole (the ``Persistent`` protocol): the
CloudFormation provider's stacks, event source mappings and provisioned concurrency survive a
pickle round trip, and what was in progress comes back finished as failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from basegear.cloud.cloudformation import CloudFormationProvider, EventSourceMappingStore
from basegear.cloud.cloudformation.stacks import INTERRUPTED, Stack, interrupted_status
from basegear.cloud.cloudformation.template import parse
from basegear.cloud.protocol import AwsRequest
from basegear.cloud.state import Persistent, pickling

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def stack(name: str, status: str) -> Stack:
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    made = Stack(
        stack_id=f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{name}/1",
        name=name,
        region="eu-west-1",
        account="123456789012",
        created=NOW,
        status=status,
        template=parse(body),
        template_body=body,
    )
    made.done.clear()
    return made


def mapping(mapping_id: str) -> dict[str, Any]:
    return {"UUID": mapping_id, "EventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:q"}


def request(service: str) -> AwsRequest:
    return AwsRequest("POST", "/", {}, {}, b"", service, "eu-west-1", "123456789012", "X")


@pytest.mark.parametrize(
    ("status", "after"),
    [
        ("CREATE_IN_PROGRESS", "CREATE_FAILED"),
        ("UPDATE_IN_PROGRESS", "UPDATE_FAILED"),
        ("DELETE_IN_PROGRESS", "DELETE_FAILED"),
        ("ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"),
    ],
)
def test_an_interrupted_operation_ends_in_its_failed_status(status: str, after: str) -> None:
    assert interrupted_status(status) == after


def test_the_cloudformation_provider_is_saved_and_loaded_whole() -> None:
    saved = CloudFormationProvider(mappings=EventSourceMappingStore())
    assert isinstance(saved, Persistent)
    assert saved.owns_write(request("cloudformation"))
    assert not saved.owns_write(request("lambda"))
    saved.store.add(stack("done", "CREATE_COMPLETE"))
    saved.store.add(stack("busy", "UPDATE_IN_PROGRESS"))
    saved.mappings.put(mapping("m-1"))
    saved.provisioned[("fn", "live")] = 5
    state = pickling.loads(pickling.dumps(saved.save_state()))

    heard: list[tuple[str, bool]] = []
    loaded = CloudFormationProvider(mappings=EventSourceMappingStore())
    loaded.mappings.put(mapping("stale"))
    loaded.mappings.subscribe(lambda mapping_id, config: heard.append((mapping_id, bool(config))))
    loaded.load_state(state)

    done = loaded.store.get("done", "eu-west-1", "123456789012")
    busy = loaded.store.get("busy", "eu-west-1", "123456789012")
    assert done.status == "CREATE_COMPLETE"
    assert (busy.status, busy.reason) == ("UPDATE_FAILED", INTERRUPTED)
    assert busy.events[-1].status == "UPDATE_FAILED"
    assert done.done.is_set() and busy.done.is_set()  # nothing waits for a dead operation
    assert [config["UUID"] for config in loaded.mappings.list()] == ["m-1"]
    assert heard == [("stale", False), ("m-1", True)]  # pollers stop and start with them
    assert loaded.provisioned == {("fn", "live"): 5}
