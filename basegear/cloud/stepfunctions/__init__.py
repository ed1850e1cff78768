"""Step Functions on the local cloud: moto's interpreter (``moto/stepfunctions/parser``) runs
executions; this package holds what BaseGear adds to it.

- ``timeline``: each execution's time on the cloud's clock (Wait states, retry intervals,
  ``TimeoutSeconds``, history timestamps), and :func:`~.timeline.settled` for tests;
- ``metrics``: the AWS/States execution metrics;
- ``intrinsics``: intrinsic functions read as Step Functions reads them;
- ``provider``: ``StartSyncExecution`` for Express state machines.

The patches that connect these to moto are in ``basegear/cloud/motoshim/stepfunctions.py``
(``install_clock``).
"""

from basegear.cloud.stepfunctions.provider import StepFunctionsProvider
from basegear.cloud.stepfunctions.timeline import settled

__all__ = ["StepFunctionsProvider", "settled"]
