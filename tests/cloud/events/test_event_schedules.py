"""Scheduled rules and EventBridge Scheduler schedules (basegear/cloud/events/schedules.py)
through boto3 against the local cloud, on the manual clock, with real handlers. Each test names
the AWS documentation section it follows.

A handler appends each event it gets, as a JSON line, to the file its ``RUNS`` variable names."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from event_helpers import create_function, unique
from hypothesis import given
from hypothesis import strategies as st

from basegear.cloud.clock import VirtualClock
from basegear.cloud.events.cron import iso_time
from basegear.cloud.events.schedules import Schedules, fill_template, json_path, target_input
from basegear.testing import CloudClients

HANDLER = """
import json
import os


def handler(event, context):
    with open(os.environ["RUNS"], "a") as runs:
        runs.write(json.dumps(event) + "\\n")
"""
ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def schedules(local_cloud: CloudClients, manual_clock: VirtualClock) -> Schedules:
    """The cloud's schedules, with the request watchers that date each rule registered."""
    services = local_cloud.services
    assert services is not None
    found: Schedules = services.schedules
    router = local_cloud.cloud.router
    for provider in found.providers:
        if provider not in router.providers_for(provider.service):
            local_cloud.cloud.add_provider(provider)
    return found


class Made:
    """The rules and schedules a test makes, deleted after it: the cloud is the session's,
    and a rule left behind would fire in every later test that moves the clock."""

    def __init__(self, cloud: CloudClients) -> None:
        self.cloud = cloud
        self.rules: list[tuple[str, list[str]]] = []
        self.schedules: list[str] = []

    def rule(self, expression: str, *targets: dict[str, Any]) -> str:
        events = self.cloud.client("events")
        name = unique("rule")
        arn: str = events.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"]
        ids = [str(i) for i in range(len(targets))]
        self.rules.append((name, ids))
        events.put_targets(
            Rule=name, Targets=[{"Id": i, **target} for i, target in zip(ids, targets, strict=True)]
        )
        return arn

    def schedule(self, expression: str, target: dict[str, Any], **extra: Any) -> str:
        name = unique("schedule")
        self.schedules.append(name)
        arn: str = self.cloud.client("scheduler").create_schedule(
            Name=name,
            ScheduleExpression=expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler", **target},
            **extra,
        )["ScheduleArn"]
        return arn

    def delete_all(self) -> None:
        events, scheduler = self.cloud.client("events"), self.cloud.client("scheduler")
        for name, ids in self.rules:
            events.remove_targets(Rule=name, Ids=ids)
            events.delete_rule(Name=name)
        for name in self.schedules:
            # One may have been deleted after it ran (ActionAfterCompletion DELETE).
            with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
                scheduler.delete_schedule(Name=name)


@pytest.fixture
def made(local_cloud: CloudClients, schedules: Schedules) -> Iterator[Made]:
    made = Made(local_cloud)
    try:
        yield made
    finally:
        made.delete_all()


def recorder(cloud: CloudClients, tmp_path: Path) -> tuple[str, Path]:
    runs = tmp_path / f"{unique('runs')}.jsonl"
    arn = create_function(
        cloud.client("lambda"), HANDLER, Environment={"Variables": {"RUNS": str(runs)}}
    )
    return arn, runs


def events_of(runs: Path, count: int, *, timeout: float = 20.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs.exists():
            lines = runs.read_text().splitlines()
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
        time.sleep(0.02)
    found = runs.read_text().splitlines() if runs.exists() else []
    raise AssertionError(f"expected {count} events, got {len(found)}: {found}")


def settled(runs: Path, count: int) -> list[Any]:
    """Exactly ``count`` events, and no more a moment later; in the order of their ``time``
    where they have one (asynchronous invocations may finish in any order)."""
    found = events_of(runs, count)
    time.sleep(0.3)
    again = runs.read_text().splitlines()
    assert len(again) == count, f"expected {count} events, got {len(again)}"
    return sorted(
        found, key=lambda event: str(event.get("time", "") if isinstance(event, dict) else "")
    )


def test_a_rate_rule_fires_once_a_period_with_the_scheduled_event(
    local_cloud: CloudClients, made: Made, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # EventBridge user guide, "Creating a rule that runs on a schedule" and "Rate expressions
    # reference" (a rate starts when the rule is created); Lambda developer guide, "Using AWS
    # Lambda with Amazon EventBridge (CloudWatch Events)" (the scheduled event).
    function, runs = recorder(local_cloud, tmp_path)
    created_at = manual_clock.now()
    arn = made.rule("rate(5 minutes)", {"Arn": function})
    manual_clock.advance(600)

    events = settled(runs, 2)
    assert [e["time"] for e in events] == [
        iso_time(created_at + 300),
        iso_time(created_at + 600),
    ]
    event = events[0]
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)
    assert event["resources"] == [arn]
    assert event["detail"] == {}
    assert len(event["id"]) == 36 and event["id"] != events[1]["id"]

    manual_clock.advance(299)
    time.sleep(0.3)
    assert len(runs.read_text().splitlines()) == 2
    manual_clock.advance(1)
    assert len(events_of(runs, 3)) == 3


def test_a_cron_rule_fires_at_the_minutes_it_names(
    local_cloud: CloudClients, made: Made, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # EventBridge user guide, "Cron expressions reference": cron(0/15 * * * ? *) runs every
    # 15 minutes, on the quarter hours, in UTC.
    function, runs = recorder(local_cloud, tmp_path)
    start = manual_clock.now()
    made.rule("cron(0/15 * * * ? *)", {"Arn": function})
    manual_clock.advance(3600)

    first = math.floor(start / 900) * 900 + 900
    expected = [iso_time(first + 900 * n) for n in range(4)]
    assert [e["time"] for e in settled(runs, 4)] == expected


def test_targets_get_their_input_input_path_or_transformed_input(
    local_cloud: CloudClients, made: Made, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # EventBridge user guide, "Transforming target input" and the PutTargets API reference
    # (Input, InputPath, InputTransformer with InputPathsMap and InputTemplate).
    function, runs = recorder(local_cloud, tmp_path)
    created_at = manual_clock.now()
    arn = made.rule(
        "rate(1 minute)",
        {"Arn": function, "Input": '{"fixed": true}'},
        {"Arn": function, "InputPath": "$.resources"},
        {
            "Arn": function,
            "InputTransformer": {
                "InputPathsMap": {"when": "$.time", "rule": "$.resources[0]"},
                "InputTemplate": '{"at": <when>, "text": "rule <rule> at <when>", '
                '"name": "<aws.events.rule-name>"}',
            },
        },
    )
    manual_clock.advance(60)

    events = settled(runs, 3)
    when = iso_time(created_at + 60)
    name = arn.rsplit("/", 1)[1]
    assert {"fixed": True} in events
    assert [arn] in events
    assert {"at": when, "text": f"rule {arn} at {when}", "name": name} in events


def test_rules_changed_while_running_are_picked_up(
    local_cloud: CloudClients, made: Made, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # EventBridge API reference, PutRule ("If you are updating an existing rule, the rule is
    # replaced"), DisableRule and EnableRule: a disabled rule does not run.
    function, runs = recorder(local_cloud, tmp_path)
    events = local_cloud.client("events")
    arn = made.rule("rate(10 minutes)", {"Arn": function})
    name = arn.rsplit("/", 1)[1]
    changed_at = manual_clock.now()
    events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")
    manual_clock.advance(60)
    assert [e["time"] for e in events_of(runs, 1)] == [iso_time(changed_at + 60)]

    events.disable_rule(Name=name)
    manual_clock.advance(300)
    time.sleep(0.3)
    assert len(runs.read_text().splitlines()) == 1

    enabled_at = manual_clock.now()
    events.enable_rule(Name=name)
    manual_clock.advance(60)
    assert max(e["time"] for e in events_of(runs, 2)) == iso_time(enabled_at + 60)


def test_missed_firings_are_capped(
    local_cloud: CloudClients, made: Made, schedules: Schedules, manual_clock: VirtualClock
) -> None:
    # The local cloud's own rule (schedules.py, MAX_CATCH_UP): a jump of the clock delivers at
    # most that many missed firings of one schedule, then goes on from the current time.
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    made.rule("rate(1 minute)", {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[1]}"})
    manual_clock.advance(60 * (schedules.max_catch_up + 50))

    def waiting() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    deadline = time.monotonic() + 10
    while waiting() < schedules.max_catch_up and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert waiting() == schedules.max_catch_up
    manual_clock.advance(60)
    deadline = time.monotonic() + 10
    while waiting() == schedules.max_catch_up and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waiting() == schedules.max_catch_up + 1  # and on from there, once a minute


def test_a_rule_sends_to_queues_topics_and_state_machines(
    local_cloud: CloudClients, made: Made, manual_clock: VirtualClock
) -> None:
    # EventBridge user guide, "Event bus targets": an SQS queue and an SNS topic get the event
    # as their message, a Step Functions state machine as its execution's input.
    sqs, sns = local_cloud.client("sqs"), local_cloud.client("sns")
    stepfunctions = local_cloud.client("stepfunctions")
    direct = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    fanned = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    machine = stepfunctions.create_state_machine(
        name=unique("machine"),
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/states",
    )["stateMachineArn"]

    def arn_of(url: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[1]}"

    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn_of(fanned),
        Attributes={"RawMessageDelivery": "true"},
    )
    arn = made.rule("rate(2 minutes)", {"Arn": arn_of(direct)}, {"Arn": topic}, {"Arn": machine})
    manual_clock.advance(120)
    for url in (direct, fanned):
        deadline, found = time.monotonic() + 10, []
        while not found and time.monotonic() < deadline:
            found = sqs.receive_message(QueueUrl=url).get("Messages", [])
        assert json.loads(found[0]["Body"])["resources"] == [arn]
    deadline, executions = time.monotonic() + 10, []
    while not executions and time.monotonic() < deadline:
        executions = stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    (execution,) = executions
    started = stepfunctions.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"])["resources"] == [arn]


# -- EventBridge Scheduler --------------------------------------------------------------------


def test_scheduler_schedules_rate_at_and_cron(
    local_cloud: CloudClients, made: Made, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # EventBridge Scheduler user guide, "Schedule types on EventBridge Scheduler": a rate
    # schedule without StartDate "starts invoking the target immediately"; at() runs once;
    # cron() in ScheduleExpressionTimezone; the Input with its context attributes ("Adding
    # context attributes").
    function, runs = recorder(local_cloud, tmp_path)
    now = manual_clock.now()
    rate_arn = made.schedule(
        "rate(10 minutes)",
        {"Arn": function, "Input": '{"kind": "rate", "at": "<aws.scheduler.scheduled-time>"}'},
    )
    at_moment = datetime.fromtimestamp(math.floor(now / 60) * 60 + 300, UTC)
    made.schedule(
        f"at({at_moment.strftime('%Y-%m-%dT%H:%M:%S')})",
        {"Arn": function, "Input": '{"kind": "at", "arn": "<aws.scheduler.schedule-arn>"}'},
        ActionAfterCompletion="DELETE",
    )
    hour_in_tokyo = (datetime.fromtimestamp(now, UTC).hour + 9 + 1) % 24
    made.schedule(
        f"cron(0 {hour_in_tokyo} * * ? *)",
        {"Arn": function, "Input": '{"kind": "cron"}'},
        ScheduleExpressionTimezone="Asia/Tokyo",
    )
    manual_clock.advance(3600)

    events = settled(runs, 9)  # rate: 7 (at 0, 10, … 60 minutes); at: 1; cron: 1
    kinds = [e["kind"] for e in events]
    assert kinds.count("rate") == 7 and kinds.count("at") == 1 and kinds.count("cron") == 1
    rate_times = sorted(e["at"] for e in events if e["kind"] == "rate")
    assert rate_times == [iso_time(now + 600 * n) for n in range(7)]
    assert rate_arn.startswith(f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/")
    (at_event,) = (e for e in events if e["kind"] == "at")
    names = [
        s["Name"]
        for s in local_cloud.client("scheduler").list_schedules()["Schedules"]
        if s["Arn"] == at_event["arn"]
    ]
    assert names == []  # ActionAfterCompletion DELETE


# -- input transformation, without a cloud ----------------------------------------------------

EVENT = {
    "time": "2024-05-01T10:00:00Z",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"],
    "detail": {"state": "running", "count": 3, "tags": {"a": "b"}},
}


def test_json_paths_select_what_they_name() -> None:
    # EventBridge user guide, "Transforming target input": InputPathsMap values are JSON paths.
    assert json_path(EVENT, "$.detail.state") == "running"
    assert json_path(EVENT, "$.resources[0]") == EVENT["resources"][0]  # type: ignore[index]
    assert json_path(EVENT, "$") == EVENT
    assert json_path(EVENT, "$.detail.missing") is None
    assert json_path(EVENT, "$.resources[3]") is None


def test_a_template_places_strings_as_text_in_quotes_and_as_json_outside() -> None:
    # EventBridge user guide, "Transforming target input": examples with <state> inside and
    # outside quotes, and a template that is a plain string.
    values = {"state": "running", "count": 3, "tags": {"a": "b"}, "none": None}
    assert json.loads(fill_template('{"s": <state>, "n": <count>, "t": <tags>}', values)) == {
        "s": "running",
        "n": 3,
        "t": {"a": "b"},
    }
    assert json.loads(fill_template('"state is <state>, <count> of them"', values)) == (
        "state is running, 3 of them"
    )
    assert json.loads(fill_template('{"x": "<none>", "y": <none>}', values)) == {
        "x": "",
        "y": None,
    }
    assert fill_template("<unknown> stays", values) == "<unknown> stays"


@given(st.text(), st.text().filter(lambda text: "<" not in text))
def test_any_string_placed_in_quotes_keeps_the_template_json(value: str, prefix: str) -> None:
    # Same section: a value is escaped for the JSON string it is placed in.
    template = '{"message": "' + json.dumps(prefix)[1:-1] + '<v>"}'
    assert json.loads(fill_template(template, {"v": value})) == {"message": prefix + value}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(json_values)
def test_any_value_placed_outside_quotes_is_its_json(value: Any) -> None:
    assert json.loads(fill_template('{"v": <v>}', {"v": value})) == {"v": value}


def test_a_target_without_input_gets_the_event() -> None:
    assert json.loads(target_input({"Arn": "x"}, EVENT, rule_arn="a", rule_name="r")) == EVENT
