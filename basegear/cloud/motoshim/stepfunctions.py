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
"""

from __future__ import annotations

from basegear.cloud.motoshim.inprocess import InProcessClients

PATCHED = (("moto.stepfunctions.parser.asl.utils.boto_client", "boto3"),)


def install() -> None:
    import moto.stepfunctions.parser.asl.utils.boto_client as boto_client
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    if not isinstance(getattr(boto_client, "boto3"), InProcessClients):  # noqa: B009
        setattr(boto_client, "boto3", InProcessClients())  # noqa: B010 (not re-exported)
