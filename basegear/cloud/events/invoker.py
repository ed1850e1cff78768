"""``LambdaInvoker``: the ``FunctionInvoker`` of a local cloud — moto's function, resolved with
its alias weights, run in BaseGear's Lambda runtime."""

from __future__ import annotations

from basegear.cloud.lambdas.spec import InvokeResult
from basegear.cloud.motoshim.awslambda import LambdaApiError, MotoLambda, backend_for


class LambdaInvoker:
    def __init__(self, plug: MotoLambda) -> None:
        self._plug = plug

    def invoke(self, function_arn: str, payload: bytes) -> InvokeResult:
        account, region, name, qualifier = split_function_arn(function_arn)
        backend = backend_for(account, region)
        try:
            target = self._plug.resolve(backend, name, qualifier)
        except LambdaApiError as exc:
            raise LookupError(exc.message) from exc
        return self._plug.invoke(target, payload)


def split_function_arn(arn: str) -> tuple[str, str, str, str | None]:
    """``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`` → account, region, name,
    qualifier."""
    parts = arn.split(":")
    if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
        raise LookupError(f"not a function ARN: {arn}")
    qualifier = parts[7] if len(parts) == 8 else None
    return parts[4], parts[3], parts[6], qualifier
