"""``Schedules``: EventBridge scheduled rules and EventBridge Scheduler schedules fired on the
local cloud's clock (``cloud/clock.py``).

One thread watches moto's events and scheduler backends (every account and region present) and
fires, at its scheduled times:

- every ENABLED rule with a ``ScheduleExpression`` (EventBridge user guide, "Creating a rule
  that runs on a schedule", "Schedule expressions for rules"): ``rate(…)`` from when the rule
  was created — the first firing one period later — and ``cron(…)`` in UTC; each target gets
  the scheduled event (``detail-type`` "Scheduled Event", ``source`` aws.events, ``time`` the
  scheduled time, ``resources`` the rule's ARN, ``detail`` {}), or the target's ``Input``,
  ``InputPath`` or ``InputTransformer`` applied to it (EventBridge user guide, "Transforming
  target input");
- every ENABLED EventBridge Scheduler schedule (Scheduler user guide, "Schedule types on
  EventBridge Scheduler"): ``rate(…)`` from its ``StartDate`` or at once, ``cron(…)`` in its
  ``ScheduleExpressionTimezone``, ``at(…)`` once (then deleted if ``ActionAfterCompletion`` is
  DELETE), within ``StartDate``/``EndDate``; the target gets its ``Input`` (``{}`` without one)
  with the context attributes ``<aws.scheduler.…>`` filled in. ``FlexibleTimeWindow`` is
  ignored: every schedule fires at the start of its window.

Targets: a Lambda function (invoked asynchronously through the Lambda API, so asynchronous
invocation's retries and destinations apply), an SQS queue, an SNS topic, a Step Functions state
machine (StartExecution) and an event bus (PutEvents); others are logged and skipped, as are the
targets' own retry policies and dead-letter queues.

A rule or schedule created or changed while the cloud runs is picked up at the latest a second
(real time) later, or at once when the clock is advanced; its start is the virtual time of the
request that created it (``Schedules.providers`` see PutRule, EnableRule, CreateSchedule and
UpdateSchedule go by). On the manual clock an advance fires every firing it passes, each with
its own scheduled time — at most ``MAX_CATCH_UP`` per schedule and advance: later missed
firings are skipped (and logged), and the schedule goes on from the current time. After a
restart a rate schedule counts from the restart.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from basegear.cloud.events.context import EventContext
from basegear.cloud.events.cron import (
    At,
    Cron,
    Expression,
    Rate,
    ScheduleExpressionError,
    at_time,
    iso_time,
    next_cron_time,
    parse_expression,
    time_zone,
)
from basegear.cloud.protocol import AwsRequest, AwsResponse

LOG = logging.getLogger(__name__)

MAX_CATCH_UP = 100
"""Firings of one schedule delivered for one advance of the clock; later missed ones are
skipped."""

ScheduleId = tuple[str, str, str, str]  # service ("events" or "scheduler"), account, region, name


@dataclass
class Scheduled:
    """One rule or schedule as last seen in moto, and when it fires next."""

    key: tuple[Any, ...]  # what a change of restarts the schedule
    ident: ScheduleId
    arn: str
    expression: Expression
    zone: Any  # tzinfo
    start: float
    end: float | None
    next_time: float | None
    source: Any  # moto's Rule or Schedule
    fired: int = 0
    last_fired: float | None = None

    def after(self, moment: float) -> float | None:
        """The first firing later than ``moment`` (None: no more)."""
        expression = self.expression
        if isinstance(expression, Rate):
            found: float | None = expression.next_after(self.start, moment)
        elif isinstance(expression, Cron):
            found = next_cron_time(expression, max(moment, self.start - 1e-6), self.zone)
        else:
            return None  # at(): once
        if found is not None and self.end is not None and found > self.end:
            return None
        return found


@dataclass
class _Stamps:
    """When each rule or schedule was last created, changed or enabled (virtual time)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[ScheduleId, float] = field(default_factory=dict)

    def put(self, ident: ScheduleId, moment: float) -> None:
        with self.lock:
            self.times[ident] = moment

    def get(self, ident: ScheduleId) -> float | None:
        with self.lock:
            return self.times.get(ident)


class Schedules:
    """``start()`` starts the thread, ``close()`` stops it (both idempotent). Register
    :attr:`providers` with the cloud (before moto's answers) so that each schedule starts at the
    virtual time it was created; without them it starts when it is first seen."""

    def __init__(self, context: EventContext, *, max_catch_up: int = MAX_CATCH_UP) -> None:
        self.context = context
        self.max_catch_up = max_catch_up
        self._stamps = _Stamps()
        self.providers = (
            _RuleChanges(self._changed),
            _ScheduleChanges(self._changed),
        )
        self._entries: dict[ScheduleId, Scheduled] = {}
        self._invalid: set[tuple[Any, ...]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waker = context.clock.waker()
        self._last_scan: float | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="basegear-schedules", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._waker.wake()
            thread.join(timeout=30)

    def status(self) -> list[dict[str, Any]]:
        """Every schedule being served: its ARN, expression, next and last firing (epoch
        seconds) and how many times it fired."""
        with self._lock:
            entries = list(self._entries.values())
        return [
            {
                "Arn": entry.arn,
                "ScheduleExpression": entry.key[1],
                "NextFiring": entry.next_time,
                "LastFiring": entry.last_fired,
                "Fired": entry.fired,
            }
            for entry in entries
        ]

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                LOG.exception("schedules: a round failed")
            with self._lock:
                due = [e.next_time for e in self._entries.values() if e.next_time is not None]
            self._waker.wait_until(min(due) if due else None)

    def tick(self) -> int:
        """Look for new, changed and removed schedules, and fire what is due; returns how many
        firings were delivered."""
        now = self.context.clock.now()
        self._scan(now)
        firings: list[tuple[float, Scheduled]] = []
        with self._lock:
            for entry in self._entries.values():
                firings += [(moment, entry) for moment in self._due(entry, now)]
        firings.sort(key=lambda firing: firing[0])
        for moment, entry in firings:
            if self._stop.is_set():
                break
            self._fire(entry, moment)
        return len(firings)

    def _due(self, entry: Scheduled, now: float) -> list[float]:
        due: list[float] = []
        while entry.next_time is not None and entry.next_time <= now:
            if len(due) == self.max_catch_up:
                skipped_from = entry.next_time
                entry.next_time = entry.after(now)
                LOG.warning(
                    "%s: firings from %s to %s skipped (more than %d missed at once)",
                    entry.arn,
                    iso_time(skipped_from),
                    iso_time(now),
                    self.max_catch_up,
                )
                break
            due.append(entry.next_time)
            entry.next_time = entry.after(entry.next_time)
        return due

    # -- what moto holds --------------------------------------------------------------------

    def _changed(self, ident: ScheduleId) -> None:
        self._stamps.put(ident, self.context.clock.now())
        self._waker.wake()

    def _scan(self, now: float) -> None:
        seen: dict[ScheduleId, tuple[tuple[Any, ...], Any, Mapping[str, Any]]] = {}
        try:
            seen.update(_rules())
            seen.update(_scheduler_schedules())
        except RuntimeError:  # moto's dicts changed while read: next round
            return
        since = self._last_scan if self._last_scan is not None else now
        self._last_scan = now
        with self._lock:
            for ident in list(self._entries):
                if ident not in seen or seen[ident][0] != self._entries[ident].key:
                    del self._entries[ident]
            for ident, (key, source, facts) in seen.items():
                if ident in self._entries:
                    self._entries[ident].source = source
                elif key not in self._invalid:
                    entry = self._entry(ident, key, source, facts, self._stamps.get(ident), since)
                    if entry is None:
                        self._invalid.add(key)
                    else:
                        self._entries[ident] = entry

    def _entry(
        self,
        ident: ScheduleId,
        key: tuple[Any, ...],
        source: Any,
        facts: Mapping[str, Any],
        stamp: float | None,
        since: float,
    ) -> Scheduled | None:
        scheduler = ident[0] == "scheduler"
        try:
            expression = parse_expression(facts["expression"], allow_at=scheduler)
            zone = time_zone(facts.get("timezone"))
        except ScheduleExpressionError as exc:
            LOG.warning("%s is not scheduled: %s", facts["arn"], exc)
            return None
        created = stamp if stamp is not None else since
        start = _epoch(facts.get("start")) or created
        end = _epoch(facts.get("end"))
        entry = Scheduled(key, ident, facts["arn"], expression, zone, start, end, None, source)
        if isinstance(expression, At):
            entry.next_time = at_time(expression, zone)
        elif scheduler and isinstance(expression, Rate):
            entry.next_time = start  # Scheduler: "starts invoking the target immediately"
        else:
            entry.next_time = entry.after(created if start <= created else start - 1e-6)
        if entry.next_time is not None and end is not None and entry.next_time > end:
            entry.next_time = None
        return entry

    # -- firing -----------------------------------------------------------------------------

    def _fire(self, entry: Scheduled, moment: float) -> None:
        entry.fired += 1
        entry.last_fired = moment
        if entry.ident[0] == "events":
            self._fire_rule(entry, moment)
        else:
            self._fire_schedule(entry, moment)

    def _fire_rule(self, entry: Scheduled, moment: float) -> None:
        rule = entry.source
        _, account, region, name = entry.ident
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": iso_time(moment),
            "region": region,
            "resources": [entry.arn],
            "detail": {},
        }
        for target in list(rule.targets):
            try:
                payload = target_input(target, event, rule_arn=entry.arn, rule_name=name)
                self._send(target, payload, event_id=str(event["id"]), region=region, rule=True)
            except Exception as exc:
                LOG.warning("%s: target %s failed: %s", entry.arn, target.get("Arn"), exc)

    def _fire_schedule(self, entry: Scheduled, moment: float) -> None:
        schedule = entry.source
        target = dict(schedule.target or {})
        execution_id = str(uuid.uuid4())
        context_attributes = {
            "<aws.scheduler.schedule-arn>": entry.arn,
            "<aws.scheduler.scheduled-time>": iso_time(moment),
            "<aws.scheduler.execution-id>": execution_id,
            "<aws.scheduler.attempt-number>": "1",
        }
        payload = str(target.get("Input") or "{}")
        for placeholder, value in context_attributes.items():
            payload = payload.replace(placeholder, value)
        try:
            self._send(target, payload, event_id=execution_id, region=entry.ident[2], rule=False)
        except Exception as exc:
            LOG.warning("%s: target %s failed: %s", entry.arn, target.get("Arn"), exc)
        if isinstance(entry.expression, At) and schedule.action_after_completion == "DELETE":
            _, _, region, name = entry.ident
            group, _, schedule_name = name.partition("/")
            try:
                self.context.clients.client("scheduler", region).delete_schedule(
                    Name=schedule_name, GroupName=group
                )
            except Exception as exc:
                LOG.warning("%s could not be deleted after it ran: %s", entry.arn, exc)

    def _send(
        self, target: Mapping[str, Any], payload: str, *, event_id: str, region: str, rule: bool
    ) -> None:
        """Deliver ``payload`` to the target's ARN through the cloud's own API."""
        arn = str(target["Arn"])
        parts = arn.split(":")
        service, target_region = parts[2], parts[3] or region
        clients = self.context.clients
        if service == "lambda":
            clients.client("lambda", target_region).invoke(
                FunctionName=arn, InvocationType="Event", Payload=payload.encode()
            )
        elif service == "sqs":
            sqs = clients.client("sqs", target_region)
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            options: dict[str, str] = {}
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if parts[5].endswith(".fifo"):
                options = {"MessageGroupId": group or "default", "MessageDeduplicationId": event_id}
            sqs.send_message(QueueUrl=url, MessageBody=payload, **options)
        elif service == "sns":
            clients.client("sns", target_region).publish(TopicArn=arn, Message=payload)
        elif service == "states":
            clients.client("stepfunctions", target_region).start_execution(
                stateMachineArn=arn, name=event_id, input=payload
            )
        elif service == "events" and ":event-bus/" in arn:
            clients.client("events", target_region).put_events(
                Entries=[{"EventBusName": arn, **_bus_entry(target, payload, rule=rule)}]
            )
        else:
            LOG.warning("schedule target %s: this kind of target is not delivered locally", arn)


def _bus_entry(target: Mapping[str, Any], payload: str, *, rule: bool) -> dict[str, str]:
    """A PutEvents entry for an event bus target: a rule's scheduled event goes on as it is
    (EventBridge user guide, "Sending and receiving events between event buses"); a Scheduler
    schedule sends its Input as the detail, with its ``EventBridgeParameters``."""
    if rule:
        try:
            event = json.loads(payload)
        except ValueError:
            event = None
        if isinstance(event, dict) and "detail-type" in event:
            return {
                "Source": str(event.get("source", "aws.events")),
                "DetailType": str(event["detail-type"]),
                "Detail": json.dumps(event.get("detail", {})),
            }
        return {"Source": "aws.events", "DetailType": "Scheduled Event", "Detail": payload}
    parameters = target.get("EventBridgeParameters") or {}
    return {
        "Source": str(parameters.get("Source", "aws.scheduler")),
        "DetailType": str(parameters.get("DetailType", "Scheduled Event")),
        "Detail": payload,
    }


# -- reading moto ------------------------------------------------------------------------------


def _rules() -> dict[ScheduleId, tuple[tuple[Any, ...], Any, Mapping[str, Any]]]:
    from moto.events.models import events_backends

    found: dict[ScheduleId, tuple[tuple[Any, ...], Any, Mapping[str, Any]]] = {}
    for account, regions in list(dict.items(events_backends)):
        for region, backend in list(dict.items(regions)):
            for bus in list(backend.event_buses.values()):
                for rule in list(bus.rules.values()):
                    expression = rule.scheduled_expression
                    if not expression or not str(rule.state).startswith("ENABLED"):
                        continue
                    ident = ("events", account, region, f"{bus.name}/{rule.name}")
                    if bus.name == "default":
                        ident = ("events", account, region, rule.name)
                    facts = {"expression": expression, "arn": rule.arn}
                    found[ident] = (("events", expression), rule, facts)
    return found


def _scheduler_schedules() -> dict[ScheduleId, tuple[tuple[Any, ...], Any, Mapping[str, Any]]]:
    from moto.scheduler.models import scheduler_backends

    found: dict[ScheduleId, tuple[tuple[Any, ...], Any, Mapping[str, Any]]] = {}
    for account, regions in list(dict.items(scheduler_backends)):
        for region, backend in list(dict.items(regions)):
            for group in list(backend.schedule_groups.values()):
                for schedule in list(group.schedules.values()):
                    if (schedule.state or "ENABLED") != "ENABLED":
                        continue
                    ident = ("scheduler", account, region, f"{group.name}/{schedule.name}")
                    facts = {
                        "expression": schedule.schedule_expression,
                        "timezone": schedule.schedule_expression_timezone,
                        "start": schedule.start_date,
                        "end": schedule.end_date,
                        "arn": schedule.arn,
                    }
                    key = (
                        "scheduler",
                        schedule.schedule_expression,
                        schedule.schedule_expression_timezone,
                        str(schedule.start_date),
                        str(schedule.end_date),
                    )
                    found[ident] = (key, schedule, facts)
    return found


def _epoch(value: Any) -> float | None:
    """A StartDate or EndDate as moto keeps it: epoch seconds, or ISO 8601 text."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    try:
        return float(value)
    except ValueError:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# -- watching requests --------------------------------------------------------------------------


class _RuleChanges:
    """Notes the time of each PutRule and EnableRule (EventBridge's API); answers nothing."""

    service = "events"
    blocking = False  # answered on the gateway's event loop: it only notes a time

    def __init__(self, changed: Callable[[ScheduleId], None]) -> None:
        self._changed = changed

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        if request.action in ("PutRule", "EnableRule"):
            try:
                body = json.loads(request.body or b"{}")
                bus = str(body.get("EventBusName") or "default").rsplit("/", 1)[-1]
                name = str(body["Name"]) if bus == "default" else f"{bus}/{body['Name']}"
            except (ValueError, KeyError, TypeError, AttributeError):
                return None
            self._changed(("events", request.account, request.region, name))
        return None


_SCHEDULE_PATH = re.compile(r"^/schedules/([^/]+)$")


class _ScheduleChanges:
    """Notes the time of each CreateSchedule and UpdateSchedule (EventBridge Scheduler's
    API); answers nothing."""

    service = "scheduler"
    blocking = False

    def __init__(self, changed: Callable[[ScheduleId], None]) -> None:
        self._changed = changed

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        match = _SCHEDULE_PATH.match(request.path)
        if match is None or request.method not in ("POST", "PUT"):
            return None
        try:
            body = json.loads(request.body or b"{}")
            group = str(body.get("GroupName") or "default")
        except (ValueError, AttributeError):
            return None
        name = f"{group}/{unquote(match[1])}"
        self._changed(("scheduler", request.account, request.region, name))
        return None


# -- target input ---------------------------------------------------------------------------


def target_input(
    target: Mapping[str, Any], event: Mapping[str, Any], *, rule_arn: str, rule_name: str
) -> str:
    """What a rule's target is sent (EventBridge user guide, "Transforming target input"): its
    ``Input`` as given, the part of the event its ``InputPath`` selects, its
    ``InputTransformer``'s template filled in, or else the event."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(json_path(event, str(target["InputPath"])))
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: json_path(event, str(path))
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values.setdefault("aws.events.rule-arn", rule_arn)
        values.setdefault("aws.events.rule-name", rule_name)
        values.setdefault("aws.events.event.ingestion-time", event.get("time"))
        values.setdefault("aws.events.event", event)
        values.setdefault("aws.events.event.json", event)
        return fill_template(str(transformer["InputTemplate"]), values)
    return json.dumps(event)


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def json_path(document: Any, path: str) -> Any:
    """A JsonPath of the simple kind EventBridge takes (``$.detail.state``,
    ``$.resources[0]``); None where it leads nowhere."""
    if not path.startswith("$"):
        return None
    position, current = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            return None
        position = step.end()
        name, index, quoted = step.groups()
        if index is not None:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(name if name is not None else quoted)
    return current


def fill_template(template: str, values: Mapping[str, Any]) -> str:
    """Replace each ``<name>`` of ``values`` in ``template``: inside a JSON string by the
    value's text (a string as it is, anything else as JSON, escaped for the string), outside
    by the value as JSON (a string in quotes); a path that led nowhere is an empty string
    inside quotes and null outside. Other ``<…>`` stay as written."""
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "<":
            close = template.find(">", position)
            name = template[position + 1 : close] if close != -1 else ""
            if close != -1 and name in values:
                out.append(_placed(values[name], in_string))
                position = close + 1
                continue
        elif char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        elif char == '"':
            in_string = not in_string
        out.append(char)
        position += 1
    return "".join(out)


def _placed(value: Any, in_string: bool) -> str:
    if not in_string:
        return json.dumps(value)
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]
