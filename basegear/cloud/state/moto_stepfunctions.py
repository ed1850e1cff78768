"""moto's Step Functions interpreter (``moto/stepfunctions/parser``) as durable state needs it.

An execution runs on a thread of its own, and its Task states reach other services in-process
(each such call is recorded as a request of its own). So:

- while replaying, ``Execution.start`` records the execution as RUNNING and starts nothing: the
  effects of its tasks are replayed from their own records, and running it again would run its
  functions again;
- after a restart no execution is running any more. Each one that was is marked FAILED, with
  error ``BaseGear.Interrupted`` and a cause saying why, and its history as it was last saved
  (AWS never interrupts an execution; a local cloud that stops does).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

PATCHED = (("moto.stepfunctions.parser.backend.execution.Execution", "start"),)  # replay only
READ = (
    ("moto.stepfunctions.parser.models", "stepfunctions_parser_backends"),
    ("moto.stepfunctions.parser.backend.execution.Execution", "exec_status"),
    ("moto.stepfunctions.parser.backend.execution.Execution", "exec_worker"),
    ("moto.stepfunctions.parser.api", "ExecutionStatus"),
)

SERVICE = "states"  # Step Functions' signing name
_INTERPRETER = "moto.stepfunctions.parser.models"  # ~1 s to import: only when in use
INTERRUPTED = "BaseGear.Interrupted"
CAUSE = (
    "The local cloud stopped while this execution was running; executions are not resumed "
    "after a restart."
)


class StoppedWorker:
    """Stands in for the worker of an execution that is not running: no history, no-op stop."""

    env = None

    def stop(self, *_: Any, **__: Any) -> None:
        return None


def _recorded_only(execution: Any) -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus

    execution.exec_worker = StoppedWorker()
    execution.exec_status = ExecutionStatus.RUNNING


def in_use() -> bool:
    """Whether moto's interpreter is loaded (a snapshot held executions, or a request used it)."""
    return _INTERPRETER in sys.modules


@contextmanager
def executions_not_started() -> Iterator[None]:
    from moto.stepfunctions.parser.backend.execution import Execution

    saved = Execution.__dict__["start"]
    setattr(Execution, "start", _recorded_only)  # noqa: B010
    try:
        yield
    finally:
        setattr(Execution, "start", saved)  # noqa: B010


def interrupt_running() -> int:
    """Mark every execution that was running as interrupted; how many there were."""
    if not in_use():
        return 0
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    count = 0
    now = datetime.now(UTC)
    backends: Any = stepfunctions_parser_backends
    for regions in list(dict.values(backends)):
        for backend in list(dict.values(regions)):
            for machine in list(backend.state_machines):
                execution: Any
                for execution in list(machine.executions):
                    if execution.exec_status != ExecutionStatus.RUNNING:
                        continue
                    execution.exec_status = ExecutionStatus.FAILED
                    execution.stop_date = now
                    execution.error = INTERRUPTED
                    execution.cause = CAUSE
                    if execution.exec_worker is None:
                        execution.exec_worker = StoppedWorker()
                    count += 1
    return count
