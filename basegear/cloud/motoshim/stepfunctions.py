"""moto's Step Functions (``moto/stepfunctions``): executions switched on, and their service
calls answered in-process.

- moto only runs a state machine when its config says ``execute_state_machine`` (moto docs,
  "Step Functions"); otherwise an execution stays RUNNING and does nothing. That config is
  moto's public ``default_user_config`` dict.
- Task states call services (``arn:aws:lambda:…``, ``arn:aws:states:::sqs:sendMessage``, …)
  through boto3 clients made by ``boto_client_for`` in
  ``moto/stepfunctions/parser/asl/utils/boto_client.py``: outside moto's decorator those clients
  go to ``http://localhost:$MOTO_PORT`` (port 5000 by default). The module's ``boto3`` global is
  replaced by an :class:`~basegear.cloud.motoshim.inprocess.InProcessClients`, whose clients the
  local cloud's router answers in the calling thread: a Lambda task reaches BaseGear's Lambda
  runtime as an Invoke does, and nothing leaves the process.
- The parser's Batch task (``state_task_service_batch.py``) imports only the ``JobStatus`` enum
  from ``moto.batch.utils``, but importing that module runs ``moto/batch/__init__.py``, which
  imports moto's Batch models and with them all of ``moto.ec2`` (AMIs and regions read from
  JSON): 0.7 s of CPU on the first state machine, inside ``gear up``'s deploy. Unless
  ``moto.batch`` is already imported, ``moto.batch.utils`` and the ``moto.batch.exceptions`` it
  needs are loaded from their files on their own and registered in ``sys.modules`` under their
  own names, without their package; a later ``import moto.batch`` reuses these very modules
  (the import system looks names up in ``sys.modules`` first), so there is one ``JobStatus``.
  One difference remains: until ``moto.batch`` itself is imported, the name ``moto.batch`` is
  not bound, so ``import moto.batch.utils`` then ``moto.batch.utils.X`` fails (``from
  moto.batch.utils import X``, what moto writes, works).

:func:`install_clock` (called by ``StandardServices.start`` with the cloud's clock and metric
sink) puts executions on the local cloud's clock and makes them report metrics
(``basegear/cloud/stepfunctions``):

- **Wait states** (``WaitFunction._wait_interval``) and **retry intervals**
  (``RetrierDecl._eval_body``, moto's ``time.sleep``) wait on the execution's timeline
  (``stepfunctions/timeline.py``); ``Timestamp``/``TimestampPath`` waits are counted from the
  execution's time (moto compared a UTC timestamp with the machine's local ``datetime.now()``);
- **TimeoutSeconds** (``Program.eval``, moto's ``Thread.join(timeout)`` in real seconds) is
  counted on the timeline, which also reports ``ExecutionsStarted`` there;
- **history timestamps** (``EventManager.add_event``), an execution's ``startDate``
  (``Execution.start``) and ``stopDate`` (``BaseExecutionWorkerCommunication.terminated``,
  which also reports how the execution ended) are the execution's time;
- **StopExecution** (``Environment.set_stop``) wakes the execution's waits at once;
- **executions without a name** (``StepFunctionsParserBackend.start_execution``) get a UUID,
  as StartExecution's ``name`` documents ("If you don't provide a name for the execution, Step
  Functions automatically generates a universally unique identifier (UUID)"; moto's
  interpreter named them ``None``), and a given name is checked as moto's own backend does;
- **a Choice state with no match and no Default** (``StateChoice._eval_state``) fails with
  ``States.NoChoiceMatched`` (aws-semantics.md 6.5; moto failed with ``States.Runtime``);
- **StringMatches** (``StringMatches._compare``): see ``stepfunctions/choice.py``;
- **a string output** (``BaseExecutionWorkerCommunication.terminated``): moto's
  DescribeExecution returns a string output as it is and any other value as JSON; the output
  is kept as JSON text, so ``"done"`` is described as ``"\"done\""`` as AWS does;
- **intrinsic functions** (``IntrinsicParser.parse``, ``StringFormat._eval_body``): see
  ``stepfunctions/intrinsics.py``.

Retriers follow ``IntervalSeconds``, ``MaxAttempts``, ``BackoffRate`` and ``MaxDelaySeconds``
(Step Functions developer guide, "Handling errors in Step Functions workflows");
``JitterStrategy: FULL`` draws the wait at random below the computed interval as moto does,
and no test depends on its value.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from basegear.cloud.clock import VirtualClock
from basegear.cloud.lambdas.telemetry import MetricSink
from basegear.cloud.motoshim.inprocess import InProcessClients
from basegear.cloud.stepfunctions.choice import string_matches
from basegear.cloud.stepfunctions.intrinsics import parse_call, render_format
from basegear.cloud.stepfunctions.metrics import ExecutionMetrics
from basegear.cloud.stepfunctions.timeline import TIMELINES, ExecutionTimeline

_ASL = "moto.stepfunctions.parser.asl"
_WAIT = f"{_ASL}.component.state.wait.wait_function"
PATCHED = (
    ("moto.stepfunctions.parser.asl.utils.boto_client", "boto3"),
    ("moto.batch.utils", "JobStatus"),  # loaded without moto.batch: see _batch_utils_alone
    # The classes whose methods install_clock replaces (METHODS names the methods).
    (f"{_WAIT}.wait_function", "WaitFunction"),
    (f"{_WAIT}.timestamp", "Timestamp"),
    (f"{_ASL}.component.common.retry.retrier_decl", "RetrierDecl"),
    (f"{_ASL}.component.program.program", "Program"),
    (f"{_ASL}.eval.event.event_manager", "EventManager"),
    (f"{_ASL}.eval.environment", "Environment"),
    (f"{_ASL}.parse.intrinsic.intrinsic_parser", "IntrinsicParser"),
    (f"{_ASL}.component.state.choice.state_choice", "StateChoice"),
    (
        f"{_ASL}.component.state.choice.comparison.operator.implementations.string_operators",
        "StringMatches",
    ),
    (f"{_ASL}.component.intrinsic.function.statesfunction.generic.string_format", "StringFormat"),
    ("moto.stepfunctions.parser.backend.execution", "Execution"),
    ("moto.stepfunctions.parser.backend.execution", "BaseExecutionWorkerCommunication"),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend"),
)
METHODS = (
    (f"{_WAIT}.wait_function", "WaitFunction", "_wait_interval"),
    (f"{_WAIT}.timestamp", "Timestamp", "_get_wait_seconds"),
    (f"{_ASL}.component.common.retry.retrier_decl", "RetrierDecl", "_eval_body"),
    (f"{_ASL}.component.program.program", "Program", "eval"),
    (f"{_ASL}.eval.event.event_manager", "EventManager", "add_event"),
    (f"{_ASL}.eval.environment", "Environment", "set_stop"),
    (f"{_ASL}.parse.intrinsic.intrinsic_parser", "IntrinsicParser", "parse"),
    (
        f"{_ASL}.component.intrinsic.function.statesfunction.generic.string_format",
        "StringFormat",
        "_eval_body",
    ),
    (f"{_ASL}.component.state.choice.state_choice", "StateChoice", "_eval_state"),
    (
        f"{_ASL}.component.state.choice.comparison.operator.implementations.string_operators",
        "StringMatches",
        "_compare",
    ),
    ("moto.stepfunctions.parser.backend.execution", "Execution", "start"),
    (
        "moto.stepfunctions.parser.backend.execution",
        "BaseExecutionWorkerCommunication",
        "terminated",
    ),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend", "start_execution"),
)
BATCH_MODULES = ("exceptions", "utils")  # in this order: utils imports .exceptions


def install() -> None:
    _batch_utils_alone()
    import moto.stepfunctions.parser.asl.utils.boto_client as boto_client
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    if not isinstance(getattr(boto_client, "boto3"), InProcessClients):  # noqa: B009
        setattr(boto_client, "boto3", InProcessClients())  # noqa: B010 (not re-exported)


def _batch_utils_alone() -> None:
    """Load ``moto.batch.utils`` (and ``moto.batch.exceptions``) without ``moto.batch``'s
    ``__init__``, which imports moto.ec2; nothing to do once moto.batch is imported."""
    if "moto.batch" in sys.modules or "moto.batch.utils" in sys.modules:
        return
    package = importlib.util.find_spec("moto.batch")  # finds it; runs nothing of it
    if package is None or not package.submodule_search_locations:
        return
    folder = Path(next(iter(package.submodule_search_locations)))
    for name in BATCH_MODULES:
        spec = importlib.util.spec_from_file_location(f"moto.batch.{name}", folder / f"{name}.py")
        if spec is None or spec.loader is None:
            return
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.name]  # leave moto to import it its own way
            raise


# -- executions on the local cloud's clock (install_clock) ----------------------------------


class _ClockShim:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installs: list[tuple[VirtualClock, ExecutionMetrics | None]] = []
        self.saved: dict[tuple[str, str, str], Any] = {}  # (module, class, method) → moto's
        self.originals: dict[tuple[str, str], Any] = {}  # (class, method) → moto's

    @property
    def clock(self) -> VirtualClock:
        return self.installs[-1][0] if self.installs else VirtualClock()

    @property
    def metrics(self) -> ExecutionMetrics | None:
        return self.installs[-1][1] if self.installs else None


_clock_shim = _ClockShim()


def check_moto() -> None:
    """Raise if moto no longer has a method :func:`install_clock` replaces."""
    for module, cls, method in METHODS:
        owner = getattr(importlib.import_module(module), cls, None)
        if owner is None or method not in vars(owner):
            raise RuntimeError(f"moto no longer has {module}.{cls}.{method}: update {__name__}")


def install_clock(clock: VirtualClock, metrics: MetricSink | None = None) -> None:
    """Run Step Functions executions on ``clock`` and write their AWS/States metrics to
    ``metrics``. Installs nest (one per local cloud in the process): the latest one still
    installed is used. Call before the cloud serves."""
    with _clock_shim.lock:
        sink = None if metrics is None else ExecutionMetrics(metrics)
        _clock_shim.installs.append((clock, sink))
        if _clock_shim.saved:
            return
        check_moto()
        replacements = _replacements()
        for module, cls, method in METHODS:
            owner = getattr(importlib.import_module(module), cls)
            _clock_shim.saved[(module, cls, method)] = vars(owner)[method]
            _clock_shim.originals[(cls, method)] = vars(owner)[method]
            setattr(owner, method, replacements[method if method != "_eval_body" else cls])


def uninstall_clock(clock: VirtualClock) -> None:
    """Undo ``install_clock(clock)``; once none is left, moto's own methods are back."""
    with _clock_shim.lock:
        for index in range(len(_clock_shim.installs) - 1, -1, -1):
            if _clock_shim.installs[index][0] is clock:
                del _clock_shim.installs[index]
                break
        if _clock_shim.installs or not _clock_shim.saved:
            return
        saved, _clock_shim.saved = _clock_shim.saved, {}
        for (module, cls, method), original in saved.items():
            setattr(getattr(importlib.import_module(module), cls), method, original)


def installed_clock() -> VirtualClock | None:
    return _clock_shim.installs[-1][0] if _clock_shim.installs else None


def _replacements() -> dict[str, Any]:
    return {
        "_wait_interval": _wait_interval,
        "_get_wait_seconds": _timestamp_wait_seconds,
        "RetrierDecl": _retrier_eval_body,
        "eval": _program_eval,
        "add_event": _add_event,
        "set_stop": _set_stop,
        "parse": staticmethod(parse_call),
        "StringFormat": _string_format_eval_body,
        "_eval_state": _choice_eval_state,
        "_compare": staticmethod(string_matches),
        "start": _execution_start,
        "terminated": _terminated,
        "start_execution": _start_execution,
    }


def _original(cls: str, method: str) -> Any:
    return _clock_shim.originals[(cls, method)]


def _timeline(env: Any) -> ExecutionTimeline:
    """The timeline of the execution ``env`` (a moto ``Environment``, or a frame of it) runs;
    one of its own for an environment no execution began (TestState)."""
    timeline = TIMELINES.of(env.event_manager)
    if timeline is None:
        timeline = TIMELINES.begin(env.event_manager, _clock_shim.clock, None)
        TIMELINES.end(timeline)
    return timeline


def _wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
    """A Wait state: "Delays the state machine from continuing for a specified time" (ASL, Wait
    state), counted on the execution's time."""
    _timeline(env).sleep(wait_seconds, env.is_running)


def _timestamp_wait_seconds(self: Any, env: Any) -> float:
    """Seconds from the execution's time to a ``Timestamp``/``TimestampPath`` (UTC, RFC 3339
    with ``Z``); a time already past waits not at all."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )

    self.string.eval(env=env)
    written: str = env.stack.pop()
    moment = self._from_timestamp_string(timestamp=written)
    if moment is None:
        raise FailureEventException(self._create_failure_event(env, written))
    due = float(moment.replace(tzinfo=UTC).timestamp())
    return max(0.0, due - _timeline(env).now())


def _retrier_eval_body(self: Any, env: Any) -> None:
    """A retrier (ASL, "Retrying after an error"): when it matches the error and has attempts
    left, wait ``IntervalSeconds * BackoffRate ** (n - 1)`` (at most ``MaxDelaySeconds``) on the
    execution's time and ask for another attempt. The same steps as moto's, with moto's
    ``time.sleep`` replaced."""
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
        MaxAttemptsOutcome,
    )
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
        RetrierOutcome,
    )

    self.error_equals.eval(env)
    if not env.stack.pop():
        env.stack.append(RetrierOutcome.Skipped)
        return
    self.max_attempts.eval(env=env)
    if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
        env.stack.append(RetrierOutcome.Failed)
        return
    self.interval_seconds.eval(env=env)
    self.backoff_rate.eval(env=env)
    self.max_delay_seconds.eval(env=env)
    self.jitter_strategy.eval(env=env)
    interval: float = env.stack.pop()
    _timeline(env).sleep(interval, env.is_running)
    env.stack.append(RetrierOutcome.Executed)


def _program_eval(self: Any, env: Any) -> None:
    """Run a state machine (or a Parallel branch, a Map iteration: frames, which have no
    timeout and report nothing) on the execution's timeline; the whole execution times out
    after ``TimeoutSeconds`` of its time."""
    if env.is_frame():
        _original("Program", "eval")(self, env)
        return
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.utils import TMP_THREADS

    timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
    timeline = TIMELINES.begin(env.event_manager, _clock_shim.clock, timeout)
    TIMELINES.starting(-1)
    context = env.states.context_object.context_object_data
    machine_arn = context["StateMachine"]["Id"]
    details = env.aws_execution_details
    metrics = _clock_shim.metrics
    if metrics is not None:
        metrics.started(
            machine_arn, timeline.started, account=details.account, region=details.region
        )
    env.next_state_name = self.start_at.start_at_name
    watcher = timeline.clock.waker()
    timeline.watcher = watcher

    def run() -> None:
        try:
            EvalComponent.eval(self, env)  # what moto's Program.eval runs in its thread
        finally:
            watcher.wake()

    worker = threading.Thread(target=run, daemon=True, name="basegear-sfn-execution")
    TMP_THREADS.append(worker)
    worker.start()
    while worker.is_alive():
        if timeline.timed_out() and env.is_running():
            env.set_timed_out()
            timeline.wake_all()
            break
        watcher.wait_until(timeline.timeout_deadline())
    timeline.watcher = None


def _add_event(self: Any, *args: Any, **kwargs: Any) -> int:
    """History events are stamped with the execution's time."""
    if kwargs.get("timestamp") is None and len(args) < 4:
        timeline = TIMELINES.of(self)
        now = timeline.now() if timeline is not None else _clock_shim.clock.now()
        kwargs["timestamp"] = datetime.fromtimestamp(now, UTC)
    result: int = _original("EventManager", "add_event")(self, *args, **kwargs)
    return result


def _set_stop(self: Any, *args: Any, **kwargs: Any) -> None:
    """StopExecution: the execution's waits end at once."""
    _original("Environment", "set_stop")(self, *args, **kwargs)
    timeline = TIMELINES.of(self.event_manager)
    if timeline is not None:
        timeline.wake_all()


def _string_format_eval_body(self: Any, env: Any) -> None:
    """``States.Format`` (see ``stepfunctions/intrinsics.py``)."""
    self.argument_list.eval(env=env)
    arguments = env.stack.pop()
    env.stack.append(render_format(arguments[0], arguments[1:], self._to_str_repr))


def _execution_start(self: Any) -> None:
    """An execution starts at the clock's time; until its interpreter begins, it counts as
    busy for :func:`~basegear.cloud.stepfunctions.timeline.settled`."""
    self.start_date = datetime.fromtimestamp(_clock_shim.clock.now(), UTC)
    TIMELINES.starting(+1)
    try:
        _original("Execution", "start")(self)
    except BaseException:
        TIMELINES.starting(-1)
        raise


def _terminated(self: Any) -> None:
    """The execution ended: its stop date is its own time; report how it ended."""
    _original("BaseExecutionWorkerCommunication", "terminated")(self)
    execution = self.execution
    worker = execution.exec_worker
    timeline = TIMELINES.of(worker.env.event_manager) if worker and worker.env else None
    if timeline is None:
        return
    if isinstance(execution.output, str):
        execution.output = json.dumps(execution.output)
    TIMELINES.end(timeline)
    now = timeline.now()
    execution.stop_date = datetime.fromtimestamp(now, UTC)
    metrics = _clock_shim.metrics
    if metrics is not None:
        metrics.ended(
            execution.state_machine.arn,
            execution.status,
            started=timeline.started,
            now=now,
            account=execution.account_id,
            region=execution.region_name,
        )


def _start_execution(
    self: Any,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    """StartExecution: a UUID for an execution started without a name; a name is checked
    (1 to 80 characters, none of the characters AWS forbids) as moto's own backend checks it."""
    if name:
        self._validate_name(name)
    else:
        name = str(uuid.uuid4())
    return _original("StepFunctionsParserBackend", "start_execution")(
        self, state_machine_arn, name, execution_input, trace_header
    )


def _choice_eval_state(self: Any, env: Any) -> None:
    """A Choice state: the first rule that matches names the next state, else ``Default``;
    with neither, the state fails with ``States.NoChoiceMatched`` (ASL, Choice state)."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    if self.default_state is not None or _any_rule_matches(self, env):
        _original("StateChoice", "_eval_state")(self, env)
        return
    error = StatesErrorNameType.StatesNoChoiceMatched
    cause = f"No Choice rule of the state '{self.name}' matched its input, and it has no Default"
    failed = ExecutionFailedEventDetails(error=error.to_name(), cause=cause)
    details: Any = {"executionFailedEventDetails": failed}  # moto's EventDetails
    raise FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error),
            event_type=HistoryEventType.ExecutionFailed,
            event_details=details,
        )
    )


def _any_rule_matches(choice: Any, env: Any) -> bool:
    for rule in choice.choices_decl.rules:
        rule.eval(env)
        if env.stack.pop() is True:
            return True
    return False
