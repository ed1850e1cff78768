"""``gear token``: a token from the running cloud's own issuer (apigateway/tokens.py), which its
Cognito and JWT authorizers accept."""

from __future__ import annotations

import base64
import json

import pytest

from basegear.cli import main
from basegear.testing import CloudClients


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def test_gear_token_prints_a_token_the_cloud_verifies(
    local_cloud: CloudClients, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
    assert main(["token", "sub=u1", f"iss={pool}", "--endpoint", local_cloud.endpoint_url]) == 0
    token = capsys.readouterr().out.strip()
    claims = _claims(token)
    assert (claims["sub"], claims["iss"]) == ("u1", pool)
    assert local_cloud.services is not None
    assert local_cloud.services.apigateway.tokens.verify(token, issuers=(pool,))["sub"] == "u1"


def test_gear_token_refuses_a_claim_without_a_value(
    local_cloud: CloudClients, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "sub", "--endpoint", local_cloud.endpoint_url]) == 1
    assert "cannot read the claim 'sub': expected KEY=VALUE" in capsys.readouterr().err
