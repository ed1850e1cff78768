"""REST API Lambda authorizers, TOKEN and REQUEST (API Gateway developer guide, "Use API
Gateway Lambda authorizers", with "Input to an API Gateway Lambda authorizer" and "Output from
an API Gateway Lambda authorizer"):

- The identity source is checked before the function runs. A TOKEN authorizer's header that is
  missing or empty, or that does not match ``IdentityValidationExpression``, and a REQUEST
  authorizer's identity source that is missing, answer 401 ``{"message":"Unauthorized"}``
  without calling the function.
- The function gets the TOKEN event (``type``, ``authorizationToken``, ``methodArn``) or the
  REQUEST event (the request as a proxy integration sees it, with ``type`` and ``methodArn``).
- It answers with a ``principalId``, a policy document whose statements allow or deny
  ``execute-api:Invoke`` on method ARNs (``*`` and ``?`` as wildcards), and an optional
  ``context`` of strings, numbers and booleans.
- An explicit Deny answers 403 "… with an explicit deny"; no Allow, 403. The function failing
  with the message ``Unauthorized`` answers 401. Any other failure, or a malformed answer,
  answers 500 ``{"message": null}`` (AuthorizerConfigurationException).
- An answer is cached for ``AuthorizerResultTtlInSeconds`` (300 when unset, 0: not cached) by
  the identity source's values, on the cloud's clock; the cached policy then decides for every
  method it covers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from basegear.cloud.apigateway.access import unauthorized
from basegear.cloud.apigateway.incoming import Incoming
from basegear.cloud.apigateway.proxy_events import event_v1
from basegear.cloud.apigateway.stages import Authorizer, Method, Stage
from basegear.cloud.lambdas.spec import InvokeResult
from basegear.cloud.protocol import AwsResponse

DEFAULT_TTL = 300
_NOT_AUTHORIZED = "User is not authorized to access this resource"
_INVOKE = "execute-api:Invoke"
Invoke = Callable[[str, bytes], InvokeResult]
"""``(authorizer URI, event) → the function's result``, run on the calling thread."""


@dataclass(frozen=True)
class Principal:
    """Who a Lambda authorizer let in, for ``requestContext.authorizer`` and
    ``$context.authorizer``."""

    principal_id: str
    context: Mapping[str, str | int | float | bool]
    latency_ms: int

    def as_authorizer(self) -> dict[str, Any]:
        return {
            "principalId": self.principal_id,
            **self.context,
            "integrationLatency": self.latency_ms,
        }


@dataclass(frozen=True)
class _Answer:
    policy: Mapping[str, Any]
    principal: Principal


class LambdaAuthorizers:
    """Runs the authorizers of every API of one cloud and keeps their cached answers."""

    def __init__(self, invoke: Invoke, *, clock: Callable[[], float] = time.time) -> None:
        self._invoke = invoke
        self._clock = clock
        self._cache: dict[tuple[str, str, tuple[str, ...]], tuple[float, _Answer]] = {}
        self._lock = threading.Lock()

    def authorize(
        self, method: Method, stage: Stage, incoming: Incoming, parameters: Mapping[str, str]
    ) -> Principal | AwsResponse:
        authorizer = method.authorizer
        assert authorizer is not None
        identity = _identity(authorizer, stage, incoming)
        if identity is None:
            return unauthorized()
        arn = method_arn(incoming)
        key = (stage.api_id, authorizer.id, identity)
        ttl = DEFAULT_TTL if authorizer.ttl is None else authorizer.ttl
        answer = self._cached(key)
        if answer is None:
            event = _event(authorizer, method, stage, incoming, parameters, identity, arn)
            started = time.perf_counter()
            result = self._invoke(authorizer.function_uri, json.dumps(event).encode())
            latency = int((time.perf_counter() - started) * 1000)
            outcome = _answer_of(result, latency)
            if isinstance(outcome, AwsResponse):
                return outcome
            answer = outcome
            if ttl > 0 and identity:
                with self._lock:
                    self._cache[key] = (self._clock() + ttl, answer)
        decision = decide(answer.policy, arn)
        if decision == "Deny":
            return _forbidden(f"{_NOT_AUTHORIZED} with an explicit deny")
        if decision is None:
            return _forbidden(_NOT_AUTHORIZED)
        return answer.principal

    def _cached(self, key: tuple[str, str, tuple[str, ...]]) -> _Answer | None:
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                return None
            expires, answer = found
            if self._clock() < expires:
                return answer
            del self._cache[key]
            return None


def method_arn(incoming: Incoming) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>``, the path as
    requested."""
    return (
        f"arn:aws:execute-api:{incoming.region}:{incoming.account}:{incoming.api_id}/"
        f"{incoming.stage}/{incoming.method}{incoming.path}"
    )


def decide(policy: Mapping[str, Any], arn: str) -> str | None:
    """ "Deny" if a statement denies invoking ``arn``, else "Allow" if one allows it, else
    None (IAM policy evaluation: an explicit deny wins)."""
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        if not any(_matches(action, _INVOKE) for action in _listed(statement, "Action")):
            continue
        if not any(_matches(resource, arn) for resource in _listed(statement, "Resource")):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return "Deny"
        allowed = allowed or effect == "Allow"
    return "Allow" if allowed else None


def _listed(statement: Mapping[str, Any], name: str) -> list[str]:
    value = statement.get(name)
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one; actions ignore case."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    flags = re.IGNORECASE if value == _INVOKE else 0
    return re.fullmatch(regex, value, flags) is not None


def _identity(authorizer: Authorizer, stage: Stage, incoming: Incoming) -> tuple[str, ...] | None:
    """The identity source's values; None when one is missing (or the token does not match
    the validation expression)."""
    values = []
    for source in authorizer.identity_sources:
        value = _source_value(source.strip(), stage, incoming)
        if not value:
            return None
        values.append(value)
    if authorizer.type == "TOKEN":
        if not values:
            return None
        expression = authorizer.validation_expression
        if expression and re.fullmatch(expression, values[0]) is None:
            return None
    return tuple(values)


def _source_value(source: str, stage: Stage, incoming: Incoming) -> str | None:
    """``method.request.header.X``, ``method.request.querystring.x``, ``stageVariables.x``
    or ``context.x``."""
    if source.startswith("method.request.header."):
        return incoming.headers.get(source.removeprefix("method.request.header.").lower())
    if source.startswith("method.request.querystring."):
        values = incoming.query.get(source.removeprefix("method.request.querystring."))
        return values[-1] if values else None
    if source.startswith("stageVariables."):
        return stage.variables.get(source.removeprefix("stageVariables."))
    if source.startswith("context."):
        name = source.removeprefix("context.")
        known = {"httpMethod": incoming.method, "stage": incoming.stage, "apiId": incoming.api_id}
        return known.get(name)
    return None


def _event(
    authorizer: Authorizer,
    method: Method,
    stage: Stage,
    incoming: Incoming,
    parameters: Mapping[str, str],
    identity: tuple[str, ...],
    arn: str,
) -> dict[str, Any]:
    if authorizer.type == "TOKEN":
        return {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": arn}
    event = event_v1(
        incoming,
        resource_path=method.resource_path,
        resource_id=method.resource_id,
        path_parameters=parameters,
        stage_variables=stage.variables,
    )
    del event["body"], event["isBase64Encoded"]
    return {"type": "REQUEST", "methodArn": arn, **event}


def _answer_of(result: InvokeResult, latency_ms: int) -> _Answer | AwsResponse:
    try:
        answer = json.loads(result.payload) if result.payload else None
    except ValueError:
        answer = None
    if result.function_error:
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        return unauthorized() if message == "Unauthorized" else _misconfigured()
    if not isinstance(answer, dict):
        return _misconfigured()
    principal = answer.get("principalId")
    policy = answer.get("policyDocument")
    context = answer.get("context") or {}
    scalars = (str, int, float, bool)
    if (
        not isinstance(principal, str)
        or not isinstance(policy, dict)
        or not isinstance(context, dict)
        or not all(isinstance(value, scalars) for value in context.values())
    ):
        return _misconfigured()
    return _Answer(policy, Principal(principal, context, latency_ms))


def _forbidden(message: str) -> AwsResponse:
    return AwsResponse(
        403,
        json.dumps({"Message": message}).encode(),
        {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"},
    )


def _misconfigured() -> AwsResponse:
    """API Gateway's answer when an authorizer fails or answers something else than a policy."""
    return AwsResponse(
        500,
        b'{"message": null}',
        {
            "content-type": "application/json",
            "x-amzn-errortype": "AuthorizerConfigurationException",
        },
    )
