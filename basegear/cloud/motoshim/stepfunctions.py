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
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from basegear.cloud.motoshim.inprocess import InProcessClients

PATCHED = (
    ("moto.stepfunctions.parser.asl.utils.boto_client", "boto3"),
    ("moto.batch.utils", "JobStatus"),  # loaded without moto.batch: see _batch_utils_alone
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
