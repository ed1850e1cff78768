"""A service whose endpoint uses one of its functions as a Lambda (TOKEN) authorizer, deployed
from serverless.yml and called over HTTP: the authorizer compiled by BaseGear runs before the
handler, and its principal reaches the handler (Serverless Framework v3 docs, "HTTP Endpoints
with custom authorizers")."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from deploy_helpers import deploy

from basegear.testing import CloudClients

SERVICE = """\
service: guarded
provider:
  name: aws
  runtime: python3.11
  region: eu-west-1
functions:
  auth:
    handler: auth.handler
  hello:
    handler: hello.handler
    events:
      - http:
          path: hello
          method: get
          authorizer: auth
"""
AUTH = """\
def handler(event, context):
    if event["authorizationToken"] != "open-sesame":
        raise Exception("Unauthorized")
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
    return {"principalId": "friend", "policyDocument": {"Version": "2012-10-17",
            "Statement": [statement]}}
"""
HELLO = """\
def handler(event, context):
    return {"statusCode": 200, "body": event["requestContext"]["authorizer"]["principalId"]}
"""


def _get(url: str, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_services_authorizer_guards_its_endpoint(
    local_cloud: CloudClients, tmp_path: Path
) -> None:
    folder = tmp_path / "guarded"
    folder.mkdir()
    (folder / "serverless.yml").write_text(SERVICE)
    (folder / "auth.py").write_text(AUTH)
    (folder / "hello.py").write_text(HELLO)
    result = deploy(local_cloud, folder, tmp_path / "out")
    api = urlsplit(result.outputs["ServiceEndpoint"]).hostname.split(".")[0]  # type: ignore[union-attr]
    url = f"{local_cloud.endpoint_url}/restapis/{api}/dev/_user_request_/hello"

    assert _get(url, None) == (401, '{"message": "Unauthorized"}')
    assert _get(url, "wrong")[0] == 401
    assert _get(url, "open-sesame") == (200, "friend")
