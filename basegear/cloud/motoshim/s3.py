"""moto's S3 (``moto/s3/models.py``): bucket policies evaluated with their conditions.

moto checks an object request against the bucket policy in ``FakeBucket.get_permission``, which
hands the policy to ``IAMPolicy`` without any request context. There a statement whose
condition key is absent from the context counts as matching, so a ``Deny`` with a condition
denies every request. The Serverless Framework's deployment bucket carries exactly such a
statement — deny ``s3:*`` when ``aws:SecureTransport`` is false (S3 user guide, "Enforcing
encryption in transit") — and every upload after the policy exists would fail.

The replacement evaluates each statement's ``Condition`` block first, against the context of a
request to the local cloud, and leaves the Action/Resource/Effect matching to moto:

- ``aws:SecureTransport`` is ``true``: the local cloud is reached over loopback, which is as
  private as TLS, and it is what AWS would see from the same client over HTTPS;
- any other key is absent. As IAM evaluates a key missing from the request context (IAM user
  guide, "IAM JSON policy elements: Condition operators"), a condition on it is false — except
  for the negated operators (``StringNotEquals``, ``StringNotLike``, ``ArnNotLike``…), the
  ``…IfExists`` operators and ``Null: true``, which hold.

A statement whose condition does not hold does not apply (neither allows nor denies).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from typing import Any

PATCHED = (("moto.s3.models.FakeBucket", "get_permission"),)

CONTEXT: Mapping[str, str] = {"aws:SecureTransport": "true"}
"""What the local cloud knows of every S3 request, as IAM condition keys."""

_saved: dict[str, Any] = {}


def check_moto() -> None:
    """Raise if moto no longer has what this module replaces, or calls it differently."""
    import inspect

    from moto.s3 import models, responses

    method = _saved.get("get_permission") or getattr(
        getattr(models, "FakeBucket", None), "get_permission", None
    )
    if not callable(method):
        raise RuntimeError(f"moto moved FakeBucket.get_permission: update {__name__}")
    if list(inspect.signature(method).parameters) != ["self", "action", "resource"]:
        raise RuntimeError(f"moto changed FakeBucket.get_permission's signature: update {__name__}")
    # The module's text, not the class's: finding a class's source parses the whole module
    # (0.1 s at every start), and S3Response is the module's request handler.
    if "bucket.get_permission(" not in inspect.getsource(responses):
        raise RuntimeError(f"moto's S3 no longer asks FakeBucket.get_permission: update {__name__}")


def install() -> None:
    from moto.s3.models import FakeBucket

    check_moto()
    if "get_permission" not in _saved:
        _saved["get_permission"] = FakeBucket.__dict__["get_permission"]
        setattr(FakeBucket, "get_permission", _get_permission)  # noqa: B010


def _get_permission(bucket: Any, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(bucket.policy)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    applying = [
        {key: value for key, value in statement.items() if key != "Condition"}
        for statement in statements
        if condition_holds(statement.get("Condition") or {}, CONTEXT)
    ]
    if not applying:
        return PermissionResult.NEUTRAL
    policy = IAMPolicy(json.dumps({**document, "Statement": applying}))
    return policy.is_action_permitted(action, resource)


def condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Whether every operator of a policy's ``Condition`` block holds in ``context``: within an
    operator every key must match, and a key matches if any of its values does."""
    for operator, tests in condition.items():
        if not isinstance(tests, Mapping):
            return False
        for key, expected in tests.items():
            values = expected if isinstance(expected, list) else [expected]
            if not _test(operator, [_text(value) for value in values], context.get(key)):
                return False
    return True


def _test(operator: str, expected: list[str], actual: str | None) -> bool:
    if operator == "Null":
        # Null: true holds when the key is absent, Null: false when it is present.
        return (actual is None) == ("true" in expected)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    if actual is None:
        return if_exists or negated
    if base in ("Bool", "StringEquals", "StringNotEquals"):
        matched = actual in expected
    elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        matched = actual.lower() in [value.lower() for value in expected]
    elif base in ("StringLike", "StringNotLike"):
        matched = any(fnmatch.fnmatchcase(actual, value) for value in expected)
    else:  # an operator no key of the context can be tested with
        return False
    return matched != negated


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
