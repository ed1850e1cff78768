"""AWS service integrations of a REST API, over HTTP, as the algorithms example uses them:
a request template by Content-Type builds the action's input, the service is called, the
integration response is chosen by matching its selection pattern against the status code, and
its response template and header mappings make the answer. Step Functions StartExecution, SQS
SendMessage (JSON action and the query protocol's path form), DynamoDB PutItem/GetItem, and
``$context.authorizer.claims`` in a template."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from basegear.testing import CloudClients

REGION = "eu-west-1"
ACCOUNT = "123456789012"
START_TEMPLATE = """#set($id = $util.escapeJavaScript($input.params('algorithmId')))
{
  "input": "{\\"algorithmId\\": \\"$id\\"}",
  "name": "$context.requestId",
  "stateMachineArn": "$stageVariables.machine"
}"""
STARTED = """{"executionArn": $input.json('$.executionArn'), "requestId": "$context.requestId"}"""
FAILED = """{"error": "$util.escapeJavaScript($input.path('$.__type'))"}"""
SEND_TEMPLATE = """{"QueueUrl": "$stageVariables.queue",
 "MessageBody": "$util.escapeJavaScript($input.json('$'))"}"""
PUT_TEMPLATE = """{"TableName": "$stageVariables.table",
 "Item": {"id": {"S": "$input.params('id')"}, "name": {"S": $input.json('$.name')}}}"""
GET_TEMPLATE = (
    """{"TableName": "$stageVariables.table", "Key": {"id": {"S": "$input.params('id')"}}}"""
)
GOT = """#set($item = $input.path('$.Item'))
{"id": "$item.id.S", "name": "$item.name.S"}"""
ME = """{"sub": "$context.authorizer.claims.sub", "email": "$context.authorizer.claims.email"}"""


@dataclass
class Api:
    api_id: str
    endpoint: str
    host: str
    queue_url: str
    machine: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Host": self.host, **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.endpoint}/dev{path}", headers=headers, timeout=10, **kwargs
        )


def integrate(
    client: Any,
    api_id: str,
    resource_id: str,
    verb: str,
    uri: str,
    *,
    request_templates: dict[str, str],
    responses: list[tuple[str, str, str]],
    authorizer: str | None = None,
    **integration: Any,
) -> None:
    where = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": verb}
    auth = {"authorizationType": "NONE"}
    if authorizer:
        auth = {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": authorizer}
    client.put_method(**where, **auth)
    client.put_integration(
        **where,
        type="AWS" if uri else "MOCK",
        integrationHttpMethod="POST",
        uri=uri,
        requestTemplates=request_templates,
        **integration,
    )
    for status, pattern, template in responses:
        client.put_method_response(**where, statusCode=status)
        client.put_integration_response(
            **where,
            statusCode=status,
            selectionPattern=pattern,
            responseTemplates={"application/json": template},
            responseParameters={"method.response.header.X-Integration": "'service'"},
        )


@pytest.fixture(scope="module")
def api(local_cloud: CloudClients) -> Api:
    suffix = uuid.uuid4().hex[:8]
    iam = local_cloud.client("iam")
    role = iam.create_role(RoleName=f"sfn-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = local_cloud.client("stepfunctions", region=REGION).create_state_machine(
        name=f"delete-{suffix}",
        roleArn=role,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )["stateMachineArn"]
    queue_url = local_cloud.client("sqs", region=REGION).create_queue(QueueName=f"q-{suffix}")[
        "QueueUrl"
    ]
    table = f"items-{suffix}"
    local_cloud.client("dynamodb", region=REGION).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client = local_cloud.client("apigateway", region=REGION)
    rest = client.create_rest_api(name=f"services-{suffix}")
    api_id, root = rest["id"], rest["rootResourceId"]

    def resource(parent: str, part: str) -> str:
        made: str = client.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
        return made

    algorithm = resource(root, "algorithm")
    integrate(
        client,
        api_id,
        algorithm,
        "DELETE",
        f"arn:aws:apigateway:{REGION}:states:action/StartExecution",
        request_templates={"application/json": START_TEMPLATE},
        passthroughBehavior="NEVER",
        responses=[("200", "", STARTED), ("400", r"[45]\d{2}", FAILED)],
    )
    messages = resource(root, "messages")
    integrate(
        client,
        api_id,
        messages,
        "POST",
        f"arn:aws:apigateway:{REGION}:sqs:action/SendMessage",
        request_templates={"application/json": SEND_TEMPLATE},
        responses=[("200", "", """{"id": $input.json('$.MessageId')}""")],
    )
    raw = resource(root, "raw")
    integrate(
        client,
        api_id,
        raw,
        "POST",
        f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/q-{suffix}",
        request_templates={
            "text/plain": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
        },
        requestParameters={
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        responses=[("200", "", '{"sent": true}')],
    )
    items = resource(resource(root, "items"), "{id}")
    integrate(
        client,
        api_id,
        items,
        "PUT",
        f"arn:aws:apigateway:{REGION}:dynamodb:action/PutItem",
        request_templates={"application/json": PUT_TEMPLATE},
        responses=[("200", "", '{"stored": "$input.params(\'id\')"}'), ("400", "4\\d\\d", FAILED)],
    )
    integrate(
        client,
        api_id,
        items,
        "GET",
        f"arn:aws:apigateway:{REGION}:dynamodb:action/GetItem",
        request_templates={"application/json": GET_TEMPLATE},
        responses=[("200", "", GOT)],
    )
    authorizer = client.create_authorizer(
        restApiId=api_id,
        name="pool",
        type="COGNITO_USER_POOLS",
        providerARNs=[f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_Svc"],
        identitySource="method.request.header.Authorization",
    )["id"]
    integrate(
        client,
        api_id,
        resource(root, "me"),
        "GET",
        "",
        request_templates={"application/json": '{"statusCode": 200}'},
        responses=[("200", "", ME)],
        authorizer=authorizer,
    )
    client.create_deployment(
        restApiId=api_id,
        stageName="dev",
        variables={"machine": machine, "queue": queue_url, "table": table},
    )
    host = f"{api_id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"
    return Api(api_id, local_cloud.endpoint_url, host, queue_url, machine)


def test_start_execution_through_the_request_template(api: Api, local_cloud: CloudClients) -> None:
    answer = api.call("DELETE", "/algorithm?algorithmId=alg-7")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["executionArn"].startswith(api.machine.replace(":stateMachine:", ":execution:"))
    assert answer.headers["X-Integration"] == "service"
    assert answer.headers["Content-Type"] == "application/json"
    execution = local_cloud.client("stepfunctions", region=REGION).describe_execution(
        executionArn=body["executionArn"]
    )
    assert json.loads(execution["input"]) == {"algorithmId": "alg-7"}
    assert execution["name"] == body["requestId"]


def test_a_service_error_selects_the_4xx_response(api: Api, local_cloud: CloudClients) -> None:
    client = local_cloud.client("apigateway", region=REGION)
    client.update_stage(
        restApiId=api.api_id,
        stageName="dev",
        patchOperations=[
            {"op": "replace", "path": "/variables/machine", "value": api.machine + "-gone"}
        ],
    )
    try:
        answer = api.call("DELETE", "/algorithm?algorithmId=x")
    finally:
        client.update_stage(
            restApiId=api.api_id,
            stageName="dev",
            patchOperations=[{"op": "replace", "path": "/variables/machine", "value": api.machine}],
        )
    assert answer.status_code == 400
    assert answer.json() == {"error": "StateMachineDoesNotExist"}


def test_passthrough_never_refuses_an_unmapped_content_type(api: Api) -> None:
    answer = api.call(
        "DELETE", "/algorithm?algorithmId=x", headers={"Content-Type": "text/plain"}, data="x"
    )
    assert answer.status_code == 415
    assert answer.json() == {"message": "Unsupported Media Type"}


def test_send_message_as_a_json_action(api: Api, local_cloud: CloudClients) -> None:
    answer = api.call("POST", "/messages", json={"hello": "queue"})
    assert answer.status_code == 200, answer.text
    sqs = local_cloud.client("sqs", region=REGION)
    received = sqs.receive_message(QueueUrl=api.queue_url, WaitTimeSeconds=0)["Messages"]
    assert [json.loads(m["Body"]) for m in received] == [{"hello": "queue"}]
    assert received[0]["MessageId"] == answer.json()["id"]
    sqs.delete_message(QueueUrl=api.queue_url, ReceiptHandle=received[0]["ReceiptHandle"])


def test_send_message_through_the_query_protocol_path(api: Api, local_cloud: CloudClients) -> None:
    answer = api.call(
        "POST", "/raw", headers={"Content-Type": "text/plain"}, data="plain words & more"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sent": True}
    sqs = local_cloud.client("sqs", region=REGION)
    received = sqs.receive_message(QueueUrl=api.queue_url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in received] == ["plain words & more"]
    sqs.delete_message(QueueUrl=api.queue_url, ReceiptHandle=received[0]["ReceiptHandle"])


def test_dynamodb_put_then_get(api: Api) -> None:
    stored = api.call("PUT", "/items/i-1", json={"name": "first"})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": "i-1"}
    got = api.call("GET", "/items/i-1")
    assert got.json() == {"id": "i-1", "name": "first"}


def test_claims_reach_the_template(api: Api, local_cloud: CloudClients) -> None:
    services = local_cloud.services
    assert services is not None
    token = services.apigateway.tokens.issue_token(
        {
            "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Svc",
            "sub": "user-5",
            "email": "five@example.com",
        }
    )
    answer = api.call("GET", "/me", headers={"Authorization": token})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sub": "user-5", "email": "five@example.com"}
