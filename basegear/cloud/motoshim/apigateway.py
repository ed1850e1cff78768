"""moto's API Gateway loses a REST authorizer's ``identityValidationExpression`` on creation
(it is handed on under a misspelt name that the Authorizer model never reads); it is kept
here, so that a TOKEN authorizer's token is checked against it (``apigateway.lambda_authorizers``).
"""

from __future__ import annotations

from typing import Any

PATCHED = (("moto.apigateway.models", "Authorizer"),)

_MISSPELT = "identiy_validation_expression"


def install() -> None:
    from moto.apigateway.models import Authorizer

    original = Authorizer.__init__
    if getattr(original, "basegear_patch", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if _MISSPELT in kwargs and not kwargs.get("identity_validation_expression"):
            kwargs["identity_validation_expression"] = kwargs[_MISSPELT]
        original(self, *args, **kwargs)

    init.basegear_patch = True  # type: ignore[attr-defined]
    Authorizer.__init__ = init  # type: ignore[method-assign]
